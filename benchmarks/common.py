"""What the benchmarks share."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_version() -> str:
    """The commit the measured code is at, for the results file."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
