"""Story tagging in one run against the same records in several incremental runs.

    python benchmarks/incremental.py [LABELLED.jsonl] [--parts 2 4]

Splits a labelled file (default: the ECB+ development half in ../shared/data) into N
parts by a hash of each record's id, runs `storywire run` on the parts one after another
into one output, and scores the story ids against the gold labels, next to a single run
on the whole file. Incremental runs never change what is written (a story's id and its
canonical article stay), so they can only lose links a single run would make. Writes
benchmarks/results/incremental.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

from common import code_version, write_results

from storywire.pipeline.cli import main
from storywire.pipeline.evaluate import read_story_ids, score, strip_labels

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "data" / "ecbplus_dev.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "incremental.txt"


def split(unlabelled: str, parts: int, folder: str) -> list[str]:
    """The records of a JSONL file in `parts` files, each record by a hash of its id."""
    paths = [os.path.join(folder, f"part-{i}.jsonl") for i in range(parts)]
    handles = [open(p, "w", encoding="utf-8") for p in paths]  # noqa: SIM115
    with open(unlabelled, encoding="utf-8") as src:
        for line in src:
            record_id = json.loads(line)["id"]
            handles[zlib.crc32(record_id.encode()) % parts].write(line)
    for handle in handles:
        handle.close()
    return paths


def run_into(output: str, inputs: list[str], gold: dict[str, str]) -> tuple[float, str]:
    """Run on each input in turn; the seconds taken, and the first run's own scores."""
    started = time.perf_counter()
    first = ""
    with contextlib.redirect_stdout(io.StringIO()):
        for n, path in enumerate(inputs):
            if main(["run", "--input", path, "--output", output]) != 0:
                raise SystemExit(f"storywire run failed on {path}")
            if n == 0 and len(inputs) > 1:
                found = read_story_ids(output)
                alone = score(found, {i: gold[i] for i in found})
                first = (f"  (its first run alone, on {len(found)} articles: B-cubed "
                         f"P {alone.bcubed.precision:.3f} R {alone.bcubed.recall:.3f} "
                         f"F1 {alone.bcubed.f1:.3f})")
    return time.perf_counter() - started, first


def main_(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labelled", nargs="?", default=str(DEFAULT_INPUT))
    parser.add_argument("--parts", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args(argv)
    if not os.path.isfile(args.labelled):
        print(f"no labelled file {args.labelled}", file=sys.stderr)
        return 2
    lines = [f"storywire incremental benchmark at {code_version()}, "
             f"{os.cpu_count()} cores, default settings",
             f"input: {Path(args.labelled).name}", ""]
    with tempfile.TemporaryDirectory(prefix="storywire-incremental-") as scratch:
        unlabelled = os.path.join(scratch, "input.jsonl")
        gold = strip_labels(args.labelled, unlabelled, "story")
        for parts in [1, *args.parts]:
            folder = os.path.join(scratch, f"parts-{parts}")
            os.makedirs(folder)
            inputs = split(unlabelled, parts, folder)
            output = os.path.join(folder, "output")
            seconds, first = run_into(output, inputs, gold)
            result = score(read_story_ids(output), gold)
            found = len(set(read_story_ids(output).values()))
            lines.append(
                f"{parts} run(s): B-cubed P {result.bcubed.precision:.3f} "
                f"R {result.bcubed.recall:.3f} F1 {result.bcubed.f1:.3f}; "
                f"pairwise F1 {result.pairwise.f1:.3f}; stories {found} "
                f"(gold {len(set(gold.values()))}); {seconds:.1f} s in all")
            if first:
                lines.append(first)
            print("\n".join(lines[-2 if first else -1:]), file=sys.stderr, flush=True)
    write_results(RESULTS, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
