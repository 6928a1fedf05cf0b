"""Pipeline rate against the rate of the essential work, on real HTML pages.

    python benchmarks/throughput.py [--pages 1000]

Corpus: the `html` of the 92 pages in ../shared/data/aeb_dev.jsonl.gz, replicated to
`--pages` records with new ids and a small markup change each (a comment with the copy's
number), as one JSONL file. Essential work: cleaning each page (trafilatura) and
fingerprinting it, in a tight loop in one process. Pipeline: `storywire run` with default
settings on the same file, Beam start-up included. Reports both rates, their ratio (the
headline figure; the goal on 2 cores is 1.9 or more), MB/s, and the peak resident memory
of the pipeline (largest process and the whole process tree, sampled every 0.2 s).
Writes benchmarks/results/throughput.txt.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, write_results  # noqa: E402

DATA = HERE.parents[1] / "shared" / "data"
RESULTS = HERE / "results" / "throughput.txt"


def build_corpus(pages: int, path: Path) -> int:
    with gzip.open(DATA / "aeb_dev.jsonl.gz", "rt", encoding="utf-8") as handle:
        originals = [json.loads(line) for line in handle if line.strip()]
    size = 0
    with open(path, "w", encoding="utf-8") as out:
        for n in range(pages):
            page = originals[n % len(originals)]
            html = page["html"].replace("</body>", f"<!-- copy {n} --></body>", 1)
            line = json.dumps({"id": f"{page['id']}-{n}", "url": page.get("url"),
                               "html": html}) + "\n"
            size += len(line.encode())
            out.write(line)
    return size


def loop_rate(path: Path) -> tuple[float, int]:
    """Pages per second of cleaning and fingerprinting, one process, no Beam."""
    from storywire.transforms.cleaning import clean_record
    from storywire.transforms.inputs import parse_jsonl_line

    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            records.append(parse_jsonl_line(line, str(path), number))
    started = time.perf_counter()
    articles = sum(1 for r in records if hasattr(clean_record(r), "simhash"))
    return len(records) / (time.perf_counter() - started), articles


def tree_rss(root: int) -> tuple[int, int]:
    """(largest, total) resident bytes of a process and its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    sizes = [rss.get(pid, 0) for pid in tree]
    return max(sizes, default=0), sum(sizes)


def pipeline_rate(path: Path, pages: int) -> tuple[float, float, int, int, str]:
    output = path.parent / "output"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(path),
         "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = [0, 0]

    def sample():
        while process.poll() is None:
            largest, total = tree_rss(process.pid)
            peak[0], peak[1] = max(peak[0], largest), max(peak[1], total)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary, _ = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode not in (0, 3):
        raise SystemExit(f"storywire run failed with {process.returncode}")
    articles = next(line for line in summary.splitlines() if line.startswith("articles:"))
    return pages / seconds, seconds, peak[0], peak[1], articles.split(":", 1)[1].strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="storywire-throughput-") as scratch:
        corpus = Path(scratch) / "pages.jsonl"
        size = build_corpus(args.pages, corpus)
        loop, loop_articles = loop_rate(corpus)
        rate, seconds, largest, total, articles = pipeline_rate(corpus, args.pages)
    mib = 1024 * 1024
    lines = [
        f"storywire throughput benchmark at {code_version()}, {os.cpu_count()} cores, "
        "default settings",
        f"corpus: {args.pages} HTML pages ({size / mib:.1f} MiB), the 92 pages of "
        "aeb_dev replicated with a markup change each",
        f"essential work, one process (clean + fingerprint): {loop:.1f} pages/s "
        f"({loop_articles} articles)",
        f"storywire run (start-up included): {rate:.1f} pages/s, {size / mib / seconds:.2f} "
        f"MiB/s, {seconds:.1f} s; articles {articles}",
        f"ratio pipeline / loop: {rate / loop:.2f} (goal >= 1.9 on 2 cores)",
        f"peak resident memory: largest process {largest / mib:.0f} MiB, "
        f"all processes {total / mib:.0f} MiB",
    ]
    write_results(RESULTS, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
