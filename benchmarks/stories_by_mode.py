"""Story quality in every mode users run, measured by the same command.

    python benchmarks/stories_by_mode.py [--runs 2 4 8]

For each labelled feed, `storywire eval` scores the same records fed as one run, as N
incremental runs (cut in file order), and as a replayed stream (records in file order;
one undated record a minute, dated ones at their published time; default 10-minute
windows); a big feed also as a run in parts.
The feeds:

- ECB+ (development half, ../shared/data): 496 undated reports of 42 events, two similar
  events per topic, in file order (topic by topic);
- the same reports dated and in publication order: each topic's two events a few days
  apart (so time does not tell them apart), each event's reports over four days after it,
  topics spread over 2008-2014. Built here from the labels (`dated_feed`);
- syndicated news (benchmarks/syndicate.py, `--syndicated` records, 10,000 by default):
  real articles with their syndicated copies, edits and updates, scored as one run and as
  a run in four parts (`--max_batch_articles`, what a big input is run as).

Writes benchmarks/results/stories-by-mode.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import syndicate
from common import code_version, machine, write_results

from storywire.pipeline.cli import main

ROOT = Path(__file__).resolve().parent.parent
ECBPLUS = ROOT.parent / "shared" / "data" / "ecbplus_dev.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "stories-by-mode.txt"


def _fraction(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (the same feed on every machine)."""
    return zlib.crc32(repr(parts).encode()) / 2**32


def dated_feed(labelled: Path, path: Path) -> None:
    """The labelled records with a `published` date each, written in publication order."""
    records = [json.loads(line) for line in labelled.open(encoding="utf-8")]
    start = datetime(2008, 1, 1, tzinfo=timezone.utc)
    for record in records:
        topic, story = record["topic"], record["story"]
        topic_day = start + timedelta(days=int(_fraction("topic", topic) * 7 * 365))
        event = topic_day + timedelta(days=3 * _fraction("event", story))
        record["published"] = (event + timedelta(days=4 * _fraction("report", record["id"]))
                               ).isoformat()
    records.sort(key=lambda r: (r["published"], r["id"]))
    with path.open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def evaluate(labelled: Path, *mode: str) -> tuple[str, float]:
    """`storywire eval` of one mode: its printed scores, and the seconds it took."""
    started = time.perf_counter()
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(io.StringIO()):
        status = main(["eval", str(labelled), *mode, "--quiet"])
    if status != 0:
        raise SystemExit(f"storywire eval {labelled} {' '.join(mode)} exited {status}")
    return captured.getvalue(), time.perf_counter() - started


def summary_line(name: str, printed: str, seconds: float) -> str:
    b = re.search(r"B-cubed:\s+precision ([\d.]+)\s+recall ([\d.]+)\s+F1 ([\d.]+)", printed)
    pairwise = re.search(r"pairwise:.*F1 ([\d.]+)", printed).group(1)
    found, gold = re.search(r"stories:\s+(\d+) found, (\d+) gold", printed).groups()
    return (f"{name:<24} B-cubed F1 {b.group(3)} (P {b.group(1)} R {b.group(2)}); "
            f"pairwise F1 {pairwise}; stories {found} (gold {gold}); {seconds:.0f} s")


def main_(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--syndicated", type=int, default=10_000,
                        help="records of the syndicated feed, run whole and in four parts")
    args = parser.parse_args(argv)
    if not ECBPLUS.is_file():
        print(f"no labelled file {ECBPLUS}", file=sys.stderr)
        return 2
    lines = [f"storywire stories by mode at {code_version()}, default settings",
             f"machine: {machine()}",
             "each line: storywire eval FEED [--runs N | --stream | --max_batch_articles N]", ""]
    with tempfile.TemporaryDirectory(prefix="storywire-modes-") as scratch:
        dated = Path(scratch) / "ecbplus_dev_dated.jsonl"
        dated_feed(ECBPLUS, dated)
        syndicated = Path(scratch) / "syndicated.jsonl"
        with syndicated.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n"
                           for r in syndicate.build(args.syndicated))
        every_mode = [("one run", ()), *((f"{n} incremental runs", ("--runs", str(n)))
                                         for n in args.runs),
                      ("replayed stream", ("--stream",))]
        part = args.syndicated // 4
        feeds = [("ECB+ dev, undated, file order", ECBPLUS, every_mode),
                 ("ECB+ dev, dated, publication order", dated, every_mode),
                 ("syndicated news (benchmarks/syndicate.py), file order", syndicated,
                  [("one run", ()),
                   (f"in parts of {part:,}", ("--max_batch_articles", str(part)))])]
        for title, feed, modes in feeds:
            lines.append(f"{title} ({sum(1 for _ in feed.open())} records)")
            for name, mode in modes:
                printed, seconds = evaluate(feed, *mode)
                lines.append("  " + summary_line(name, printed, seconds))
                print(lines[-1], file=sys.stderr, flush=True)
            lines.append("")
    write_results(RESULTS, lines)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main_(sys.argv[1:]))
