"""How run time grows with corpus size: `storywire eval` on syndicated corpora of each size.

    python benchmarks/scaling.py --sizes 10000 20000 50000 100000 \
        --out benchmarks/results/scaling.txt

Each size gets a fresh corpus (benchmarks/syndicate.py, not timed) and one run of the
pipeline with default settings in a process of its own. Reported: the pipeline's wall time
(as `storywire run` prints it, Beam start-up included), articles per second, time relative
to the smallest size against size relative to it, stories found, the largest story, the
B-cubed F1 against the simulated events, and the peak resident memory of the largest
process (the worker processes are counted: they are children of the run).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import syndicate  # noqa: E402
from common import code_version, machine, write_results  # noqa: E402


def run_one(size: int, scratch: Path, storywire: str, source: Path) -> dict:
    corpus = scratch / f"corpus-{size}.jsonl"
    with open(corpus, "w", encoding="utf-8") as handle:
        import json

        for record in syndicate.build(size, source):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    started = time.monotonic()
    proc = subprocess.run([storywire, "eval", str(corpus)], capture_output=True, text=True,
                          env=dict(os.environ, TMPDIR=str(scratch)))
    wall = time.monotonic() - started
    if proc.returncode:
        raise SystemExit(f"storywire eval failed at {size}:\n{proc.stderr[-3000:]}")
    out = proc.stdout + proc.stderr
    corpus.unlink()

    def number(pattern: str) -> float:
        return float(re.search(pattern, out).group(1))

    return {
        "size": size,
        "seconds": number(r"done in ([0-9.]+) s"),
        "wall": wall,
        "stories": int(number(r"stories:\s+(\d+) found")),
        "largest": int(number(r"largest found: (\d+)")),
        "f1": number(r"B-cubed:.*F1 ([0-9.]+)"),
        "unsettled": sum(int(n) for n in re.findall(r"_unsettled = (\d+)", out)),
        "capped": sum(int(n) for n in re.findall(r"_(?:capped|over_max_compared) = (\d+)", out)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 50_000, 100_000])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scaling.txt")
    parser.add_argument("--storywire", default=str(Path(sys.executable).parent / "storywire"))
    parser.add_argument("--source", type=Path, default=syndicate.DEFAULT_SOURCE)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="storywire-scaling-") as scratch:
        for size in args.sizes:
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            row = run_one(size, Path(scratch), args.storywire, args.source)
            # ru_maxrss of children is the largest any waited-for descendant reached so far.
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            row["peak_mib"] = max(before, after) / 1024
            rows.append(row)
            print(row, flush=True)
    base = rows[0]
    lines = [
        "storywire scaling benchmark: `storywire eval` on syndicated corpora, default settings",
        f"machine: {machine()}",
        f"command: python benchmarks/scaling.py --sizes {' '.join(map(str, args.sizes))}",
        f"code: commit {code_version()}",
        "",
        f"{'articles':>9} {'seconds':>8} {'art/s':>7} {'size x':>7} {'time x':>7} "
        f"{'stories':>8} {'largest':>8} {'B3 F1':>6} {'peak MiB':>9} {'capped':>7} "
        f"{'unsettled':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['size']:>9} {r['seconds']:>8.1f} {r['size'] / r['seconds']:>7.0f} "
            f"{r['size'] / base['size']:>7.1f} {r['seconds'] / base['seconds']:>7.2f} "
            f"{r['stories']:>8} {r['largest']:>8} {r['f1']:>6.3f} {r['peak_mib']:>9.0f} "
            f"{r['capped']:>7} {r['unsettled']:>9}")
    lines += [
        "",
        "seconds: the pipeline's wall time as `storywire run` reports it (Beam start-up and the",
        "Parquet commit included; corpus generation and label stripping not). size x / time x:",
        "relative to the first row. peak MiB: the largest resident set any process of the run",
        "reached (cumulative over rows: a row can only show the maximum so far). capped:",
        "buckets that hit a comparison bound; unsettled: component nodes still moving after the",
        "last round. B3 F1 is against simulated events, each real article being its own event;",
        "the real corpus has many articles on one event from different outlets, so precision",
        "is understated.",
    ]
    write_results(args.out, lines)


if __name__ == "__main__":
    main()
