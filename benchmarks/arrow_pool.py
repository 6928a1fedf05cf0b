"""Arrow's memory pool and a run's resident memory: the same run with Arrow on glibc's
heaps (storywire's default, pipeline/memory.py) and on Arrow's own default, mimalloc.

    python benchmarks/arrow_pool.py --sizes 10000 25000 --runs 2

Each size gets a syndicated corpus (benchmarks/syndicate.py, not timed); each run is
`storywire run` into a new folder, default settings. The two pools alternate run by run,
so a drift in the machine's speed falls on both alike. Every process of the run (the run
itself and its worker processes) is sampled every 0.3 s for its resident set; reported
are the largest worker's peak, the run's own process's peak, and the wall time. Writes
benchmarks/results/arrow-pool.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import syndicate  # noqa: E402
from common import code_version, machine, process_tree, write_results  # noqa: E402

# Unset: storywire puts Arrow on glibc's heaps. Set, it is the user's choice and kept.
POOLS = {"system (storywire's default)": None, "mimalloc (Arrow's default)": "mimalloc"}
SAMPLE_SECONDS = 0.3


def measured_run(corpus: Path, scratch: Path, pool: str | None) -> dict:
    """Peaks (MiB) of the run's process and its largest descendant, and the wall time."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    env["TMPDIR"] = str(scratch)
    if pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    output = Path(tempfile.mkdtemp(dir=scratch)) / "out"
    storywire = str(Path(sys.executable).with_name("storywire"))
    started = time.monotonic()
    proc = subprocess.Popen([storywire, "run", "--input", str(corpus), "--output",
                             str(output), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    main_peak, peaks = 0, {}
    while proc.poll() is None:
        for pid, (role, resident, _) in process_tree(proc.pid).items():
            if role == "run":
                main_peak = max(main_peak, resident >> 20)
            elif role == "worker":
                peaks[pid] = max(peaks.get(pid, 0), resident >> 20)
        time.sleep(SAMPLE_SECONDS)
    wall = time.monotonic() - started
    if proc.returncode:
        raise SystemExit(f"storywire run failed:\n{proc.stderr.read()[-3000:]}")
    return {"worker": max(peaks.values(), default=0), "main": main_peak, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 25_000])
    parser.add_argument("--runs", type=int, default=2, help="runs per pool and size")
    parser.add_argument("--source", type=Path, default=syndicate.DEFAULT_SOURCE)
    args = parser.parse_args()

    lines = ["Arrow's memory pool: the same `storywire run` (a new output folder, default",
             "settings) with Arrow on glibc's heaps and on mimalloc; pools alternate run by run",
             f"machine: {machine()}", f"code: commit {code_version()}",
             f"command: python benchmarks/arrow_pool.py --sizes "
             f"{' '.join(map(str, args.sizes))} --runs {args.runs}", "",
             f"{'articles':>8}  {'pool':<29} {'largest worker':>14} {'run process':>11} "
             f"{'wall s':>7}"]
    with tempfile.TemporaryDirectory(prefix="storywire-pool-") as scratch:
        for size in args.sizes:
            corpus = Path(scratch) / f"corpus-{size}.jsonl"
            with open(corpus, "w", encoding="utf-8") as handle:
                for record in syndicate.build(size, args.source):
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            for _ in range(args.runs):
                for name, pool in POOLS.items():
                    got = measured_run(corpus, Path(scratch), pool)
                    lines.append(f"{size:>8}  {name:<29} {got['worker']:>14} "
                                 f"{got['main']:>11} {got['wall']:>7.1f}")
                    print(lines[-1], flush=True)
    lines += ["", "(MiB, peak resident set; wall times here vary by 10 to 20% from run to run)"]
    write_results(HERE / "results" / "arrow-pool.txt", lines)


if __name__ == "__main__":
    main()
