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


def write_results(path: Path, lines: list[str]) -> None:
    """Write a benchmark's report where it is committed, and show it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
