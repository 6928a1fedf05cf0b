"""The seeds run as a user starts it: `storywire run` on `seeds/` into a new folder, timed
from the shell (Python and Beam starting included), in one or more environments.

    python benchmarks/seeds.py --storywire .venv/bin/storywire OTHER/.venv/bin/storywire

Each environment is a `storywire` executable: the one `make demo` installs (no extras)
and the one `make test` installs (with the `gcp` extra, whose Google libraries Beam
imports as it starts) differ. Runs alternate between environments, so a drift in the
machine's speed falls on all of them alike. Writes benchmarks/results/seeds.txt.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, machine, write_results  # noqa: E402

SEEDS = HERE.parent / "seeds"
GOAL_SECONDS = 5.0
_DONE = re.compile(r"storywire: done in ([0-9.]+) s")


def has_gcp(storywire: str) -> bool:
    """Whether the environment of this `storywire` has Beam's `gcp` extra."""
    python = Path(storywire).with_name("python")
    found = subprocess.run([str(python), "-c", "import google.cloud.storage"],
                           capture_output=True)
    return found.returncode == 0


def seeds_run(storywire: str, scratch: Path) -> tuple[float, float | None]:
    """(seconds from the shell, seconds the run reports) of one run into a new folder."""
    output = Path(tempfile.mkdtemp(dir=scratch)) / "out"
    started = time.perf_counter()
    done = subprocess.run([storywire, "run", "--input", str(SEEDS), "--output", str(output),
                           "--quiet"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{storywire} failed:\n{done.stderr}")
    reported = _DONE.search(done.stderr)
    return elapsed, float(reported.group(1)) if reported else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storywire", nargs="+", default=[str(Path(sys.executable)
                                                              .with_name("storywire"))],
                        help="storywire executables, one per environment")
    parser.add_argument("--runs", type=int, default=5, help="runs per environment")
    args = parser.parse_args()

    times: dict[str, list[tuple[float, float | None]]] = {exe: [] for exe in args.storywire}
    with tempfile.TemporaryDirectory(prefix="storywire-seeds-") as scratch:
        for _ in range(args.runs):
            for exe in args.storywire:
                times[exe].append(seeds_run(exe, Path(scratch)))

    lines = ["storywire seeds benchmark: `storywire run --input seeds/ --output NEW --quiet`,",
             "timed from the shell; environments alternate run by run",
             f"machine: {machine()}", f"code: commit {code_version()}",
             f"command: python benchmarks/seeds.py --runs {args.runs} --storywire "
             + " ".join(args.storywire), ""]
    for exe, runs in times.items():
        shell = [t for t, _ in runs]
        reported = [r for _, r in runs if r is not None]
        kind = ("with the gcp extra, as `make test` installs" if has_gcp(exe)
                else "without extras, as `make demo` installs")
        within = sum(t <= GOAL_SECONDS for t in shell)
        lines += [f"{exe}: {kind}",
                  "  from the shell: " + ", ".join(f"{t:.2f}" for t in shell)
                  + f" s; median {statistics.median(shell):.2f} s; "
                  f"{within} of {len(shell)} within {GOAL_SECONDS:.0f} s",
                  "  as the run reports it: " + ", ".join(f"{r:.1f}" for r in reported) + " s"]
    write_results(HERE / "results" / "seeds.txt", lines)


if __name__ == "__main__":
    main()
