"""Where a local run's time goes, stage by stage: runs a storywire command with each
bundle the local runner executes timed, in the run's own process and in each part's.

    python benchmarks/stage_times.py --log times.txt -- run --input FEED --output OUT
    python benchmarks/stage_times.py --compare late.txt fresh.txt

The first form prints, for each process that ran a pipeline (one per part), when its first
bundle started (seconds after the process started: Python, Beam and the workers starting),
its last end, and the sum of its bundles; and the stages that took longest. The second
compares two such logs step by step (a stage is named by its first step), biggest
difference first. The local runner runs one stage at a time, so a part's wall time is its
start-up plus the sum of its bundles.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Loaded by every Python process the command starts (through PYTHONPATH): it wraps the
# runner's bundle execution once the pipeline module is imported.
SITECUSTOMIZE = '''
import os, sys, time
if os.environ.get("STORYWIRE_STAGE_LOG"):
    _started = time.time()

    def _time_bundles():
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        execute = fn_runner.FnApiRunner._execute_bundle

        def timed(self, context, manager, bundle_input):
            began = time.time()
            try:
                return execute(self, context, manager, bundle_input)
            finally:
                with open(os.environ["STORYWIRE_STAGE_LOG"], "a") as log:
                    log.write(f"{os.getpid()} {began - _started:.2f} "
                              f"{time.time() - began:.2f} {manager.stage.name}\\n")
        fn_runner.FnApiRunner._execute_bundle = timed

    import importlib.abc

    class _WhenGraphLoads(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "storywire.pipeline.graph":
                sys.meta_path.remove(self)
                _time_bundles()
            return None

    sys.meta_path.insert(0, _WhenGraphLoads())
'''


def read_log(path: Path) -> list[tuple[int, float, float, str]]:
    """(process id, start, seconds, stage name) of each bundle in a log."""
    bundles = []
    for line in path.read_text().splitlines():
        pid, start, seconds, name = line.split(None, 3)
        bundles.append((int(pid), float(start), float(seconds), name))
    return bundles


def step_of(stage: str) -> str:
    """A stage's first step, as a short name (Beam names a fused stage by all of them)."""
    found = re.search(
        r"\(*(?:ref_AppliedPTransform_|ref_PCollection_)?([A-Za-z]+(?:[-/][A-Za-z]+)?)", stage)
    return found.group(1) if found else stage[:40]


def by_step(bundles) -> collections.Counter:
    seconds = collections.Counter()
    for _, _, took, name in bundles:
        seconds[step_of(name)] += took
    return seconds


def summary(bundles, top: int = 12) -> str:
    lines = []
    for pid in dict.fromkeys(b[0] for b in bundles):
        mine = [b for b in bundles if b[0] == pid]
        lines.append(f"process {pid}: first bundle at {mine[0][1]:.1f} s, last end at "
                     f"{max(b[1] + b[2] for b in mine):.1f} s, {len(mine)} bundles, "
                     f"{sum(b[2] for b in mine):.1f} s in them")
    lines.append("longest steps (seconds, all processes):")
    lines += [f"  {took:8.2f}  {step}" for step, took in by_step(bundles).most_common(top)]
    return "\n".join(lines)


def compare(first, second, top: int = 20) -> str:
    a, b = by_step(first), by_step(second)
    steps = sorted(set(a) | set(b), key=lambda s: -abs(a[s] - b[s]))
    lines = [f"total {sum(a.values()):.1f} s against {sum(b.values()):.1f} s"]
    lines += [f"  {a[s]:8.2f} {b[s]:8.2f} {a[s] - b[s]:+7.2f}  {s}" for s in steps[:top]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, help="where the bundle times go")
    parser.add_argument("--compare", type=Path, nargs=2, help="two logs to compare")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- and the storywire command (run ...)")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.compare:
        if args.log or command:
            parser.error("--compare takes two logs, and no --log or command")
        try:
            print(compare(read_log(args.compare[0]), read_log(args.compare[1])))
        except (OSError, ValueError) as err:
            parser.error(f"cannot read the logs: {err}")
        return 0
    if not args.log or not command:
        parser.error("give --log and a storywire command after --, or --compare")
    try:  # before the run: it would fail at its first stage, holding the output
        args.log.unlink(missing_ok=True)
        args.log.touch()
    except OSError as err:
        parser.error(f"cannot write the log: {err}")
    with tempfile.TemporaryDirectory(prefix="storywire-stage-times-") as site:
        Path(site, "sitecustomize.py").write_text(SITECUSTOMIZE)
        env = dict(os.environ, STORYWIRE_STAGE_LOG=str(args.log.resolve()),
                   PYTHONPATH=os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")])))
        status = subprocess.call([sys.executable, "-m", "storywire.pipeline.cli", *command],
                                 env=env)
    if args.log.exists():
        print(summary(read_log(args.log)))
    return status


if __name__ == "__main__":
    sys.exit(main())
