"""What each way of calling trafilatura costs a page, and what it keeps of the article.

    python benchmarks/extraction_modes.py

Data: the 92 real news pages of ../shared/data/aeb_dev.jsonl.gz with their hand-corrected
bodies. Each mode extracts every page in this one process (CPU time a page, the best of
three passes) and is scored with the article-extraction-benchmark metric (4-gram shingle
F1, averaged over pages; aeb_metric.py of the development data):

- storywire: `extract_html` as a run calls it (trafilatura with metadata, precision mode,
  the comparison with its fallback extractors, then the characters it drops put back);
- storywire, fast: the same with trafilatura's `fast` mode (no fallback comparison);
- storywire, no metadata: the same without title, date, author and site name;
- datatrove's call: `trafilatura.extract(html, favor_precision=True,
  include_comments=False, deduplicate=False)`, as benchmarks/peer_datatrove.py runs it.

Writes benchmarks/results/extraction-modes.txt.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cleaning import DATA, load_metric  # noqa: E402
from common import code_version, machine, write_results  # noqa: E402

PASSES = 3


def timed(extract, pages: list[dict]) -> tuple[float, list[str]]:
    """CPU ms a page (the best of PASSES passes) and the texts of the last pass."""
    best, texts = float("inf"), []
    for _ in range(PASSES):
        started = time.process_time()
        texts = [extract(page["html"], page["url"]) or "" for page in pages]
        best = min(best, time.process_time() - started)
    return best / len(pages) * 1000, texts


def with_trafilatura_options(**options):
    """storywire's extract_html with trafilatura's bare_extraction given `options` too."""
    import trafilatura

    from storywire.transforms.clean import cleaning

    def extract(html: str, url: str | None) -> str:
        original = trafilatura.bare_extraction
        trafilatura.bare_extraction = lambda *a, **k: original(*a, **{**k, **options})
        try:
            return cleaning.extract_html(html, url).text
        finally:
            trafilatura.bare_extraction = original

    return extract


def main() -> None:
    import trafilatura

    from storywire.transforms.clean.cleaning import extract_html

    score = load_metric(DATA)
    with gzip.open(DATA / "aeb_dev.jsonl.gz", "rt", encoding="utf-8") as handle:
        pages = [json.loads(line) for line in handle]
    extract_html(pages[0]["html"], pages[0]["url"])  # imports and caches before timing
    modes = [
        ("storywire (as a run calls it)", lambda h, u: extract_html(h, u).text),
        ("storywire, trafilatura fast mode", with_trafilatura_options(fast=True)),
        ("storywire, no metadata", with_trafilatura_options(with_metadata=False)),
        ("datatrove's call (plain extract)", lambda h, u: trafilatura.extract(
            h, favor_precision=True, include_comments=False, deduplicate=False)),
    ]
    lines = [f"storywire extraction modes, code at {code_version()}",
             f"machine: {machine()}, trafilatura {trafilatura.__version__}",
             "command: python benchmarks/extraction_modes.py",
             f"pages: {len(pages)} (aeb_dev.jsonl.gz), one process, CPU time a page: the "
             f"best of {PASSES} passes", "",
             f"{'mode':<36}{'ms/page':>9}{'precision':>11}{'recall':>8}{'F1':>7}"]
    for name, extract in modes:
        ms, texts = timed(extract, pages)
        scores = score([(page["gold_body"], text) for page, text in zip(pages, texts)])
        lines.append(f"{name:<36}{ms:>9.1f}{scores['precision']:>11.3f}"
                     f"{scores['recall']:>8.3f}{scores['f1']:>7.3f}")
    write_results(HERE / "results" / "extraction-modes.txt", lines)


if __name__ == "__main__":
    main()
