"""The same plain-text articles as one `.jsonl` file and as one `.jsonl.gz`, through
`storywire run` (default settings: a run in parts above --max_batch_articles), runs
alternating between the two so that a drift in the machine's speed falls on both alike.

    python benchmarks/compressed.py --sizes 10000 100000 --runs 2

A compressed file is read in pieces whose every read unpacks the file from its start: what
that costs is the difference between the two. The tables of the last two runs of a size
must be the same, time columns aside, and their input file's name aside. Writes
benchmarks/results/compressed.txt.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, machine, write_results  # noqa: E402
from throughput import build_text_corpus  # noqa: E402

_PARTS = re.compile(r"in (\d+) parts")
# Columns that differ between two runs of the same records: when they ran, and the file.
_DIFFERENT = {"ingested_at", "assigned_at", "input_uri"}


def one_run(storywire: Path, feed: Path, output: Path) -> tuple[float, int]:
    """(seconds from the shell, parts) of `storywire run` on `feed` into a new `output`."""
    shutil.rmtree(output, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([str(storywire), "run", "--input", str(feed), "--output",
                           str(output), "--quiet"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"storywire run on {feed} failed:\n{done.stderr}")
    parts = _PARTS.search(done.stderr)
    return elapsed, int(parts.group(1)) if parts else 1


def same_tables(a: Path, b: Path) -> bool:
    """Whether two outputs hold the same rows in all four tables, time columns and the
    input file's name aside."""
    import pyarrow.dataset as ds

    for table in ("articles", "story_index", "stories", "rejects"):
        rows = []
        for output in (a, b):
            data = ds.dataset(output / table, format="parquet").to_table()
            keep = [c for c in data.column_names if c not in _DIFFERENT]
            rows.append(sorted(map(repr, data.select(keep).to_pylist())))
        if rows[0] != rows[1]:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--runs", type=int, default=2, help="runs of each file, each size")
    args = parser.parse_args()
    storywire = Path(sys.executable).with_name("storywire")

    lines = ["storywire compressed-input benchmark: the same plain-text articles as .jsonl and",
             "as .jsonl.gz through `storywire run --input FILE --output NEW --quiet`, timed",
             "from the shell; the two files alternate run by run",
             f"machine: {machine()}", f"code: commit {code_version()}",
             f"command: python benchmarks/compressed.py --sizes "
             f"{' '.join(map(str, args.sizes))} --runs {args.runs}", ""]
    with tempfile.TemporaryDirectory(prefix="storywire-compressed-") as scratch:
        for size in args.sizes:
            plain = Path(scratch) / f"feed-{size}.jsonl"
            build_text_corpus(size, plain)
            packed = plain.with_name(plain.name + ".gz")
            with open(plain, "rb") as source, gzip.open(packed, "wb") as target:
                shutil.copyfileobj(source, target)
            times: dict[Path, list[float]] = {plain: [], packed: []}
            parts = {}
            for _ in range(args.runs):
                for feed in (plain, packed):
                    output = Path(scratch) / f"out-{feed.name}"
                    seconds, parts[feed] = one_run(storywire, feed, output)
                    times[feed].append(seconds)
            same = same_tables(Path(scratch) / f"out-{plain.name}",
                              Path(scratch) / f"out-{packed.name}")
            mean = {feed: sum(t) / len(t) for feed, t in times.items()}
            lines += [f"{size:,} articles ({plain.stat().st_size / 2**20:.1f} MiB as .jsonl, "
                      f"{packed.stat().st_size / 2**20:.1f} MiB as .jsonl.gz)"]
            for feed, name in ((plain, ".jsonl"), (packed, ".jsonl.gz")):
                lines.append(f"  {name:10} " + ", ".join(f"{t:.1f}" for t in times[feed])
                             + f" s (mean {mean[feed]:.1f} s), in {parts[feed]} part(s)")
            lines += [f"  .jsonl.gz / .jsonl: {mean[packed] / mean[plain]:.2f}",
                      f"  tables the same (time columns and file name aside): "
                      f"{'yes' if same else 'NO'}", ""]
            for feed in (plain, packed):
                shutil.rmtree(Path(scratch) / f"out-{feed.name}", ignore_errors=True)
                feed.unlink()
    write_results(HERE / "results" / "compressed.txt", lines)


if __name__ == "__main__":
    main()
