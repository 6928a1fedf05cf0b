"""How well the pipeline keeps the article and only the article, on real news pages.

    python benchmarks/cleaning.py --out benchmarks/results/cleaning.txt

Data: aeb_dev.jsonl.gz from the development data (92 real news pages with `html`, `pagetext`
and a hand-corrected `gold_body`). Two JSONL inputs are built from it, one `html` record a
page and one `text` record a page (the page as copied), and each goes through
`storywire run` with default settings. The `text` column of the output is scored against the
gold bodies with the article-extraction-benchmark metric (4-gram shingle precision, recall
and F1 averaged over pages), read from the development data's aeb_metric.py.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, write_results  # noqa: E402

DATA = HERE.parents[1] / "shared" / "data"


def load_metric(data: Path):
    spec = importlib.util.spec_from_file_location("aeb_metric", data / "aeb_metric.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


def run_pipeline(records: list[dict], scratch: Path, name: str, storywire: str) -> dict:
    source = scratch / f"{name}.jsonl"
    with open(source, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    output = scratch / f"{name}-out"
    started = time.monotonic()
    subprocess.run([storywire, "run", "--input", str(source), "--output", str(output)],
                   check=True, capture_output=True, text=True,
                   env=dict(os.environ, TMPDIR=str(scratch)))
    elapsed = time.monotonic() - started
    import pyarrow.parquet as pq

    table = pq.read_table(output / "articles", columns=["article_id", "text", "title"])
    ids = table.column("article_id").to_pylist()
    texts = dict(zip(ids, table.column("text").to_pylist()))
    titles = dict(zip(ids, table.column("title").to_pylist()))
    rejects = pq.read_table(output / "rejects", columns=["article_id", "reason"]).to_pylist()
    return {"texts": texts, "titles": titles, "seconds": elapsed, "rejects": rejects}


def same_title(found: str | None, page: str | None) -> bool:
    """Whether a title found in a page's text is the page's own (as read from its HTML):
    the same words, one within the other (a site's name added), or most words shared."""
    a, b = re.findall(r"\w+", (found or "").lower()), re.findall(r"\w+", (page or "").lower())
    if not a or not b:
        return False
    joined_a, joined_b = " ".join(a), " ".join(b)
    return (joined_a in joined_b or joined_b in joined_a
            or len(set(a) & set(b)) / len(set(a) | set(b)) >= 0.6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "cleaning.txt")
    parser.add_argument("--storywire", default=str(Path(sys.executable).parent / "storywire"))
    args = parser.parse_args()
    score = load_metric(args.data)
    pages = [json.loads(line) for line in gzip.open(args.data / "aeb_dev.jsonl.gz", "rt")]
    gold = {p["id"]: p["gold_body"] for p in pages}
    inputs = {
        "html": [{"id": p["id"], "url": p["url"], "html": p["html"]} for p in pages],
        "page text": [{"id": p["id"], "url": p["url"], "text": p["pagetext"]} for p in pages],
    }
    lines = [
        "storywire cleaning benchmark: aeb_dev.jsonl.gz (92 real news pages), default settings",
        "command: python benchmarks/cleaning.py",
        f"code: commit {code_version()}",
        "",
        f"{'input':<10} {'pages':>5} {'kept':>5} {'precision':>9} {'recall':>7} {'F1':>6} "
        f"{'seconds':>8}",
    ]
    notes: list[str] = []
    results = {}
    with tempfile.TemporaryDirectory(prefix="storywire-cleaning-") as scratch:
        for name, records in inputs.items():
            result = results[name] = run_pipeline(records, Path(scratch),
                                                   name.replace(" ", "-"), args.storywire)
            texts = result["texts"]
            # A page the pipeline rejected scores as an empty body.
            scores = score([(gold[i], texts.get(i, "")) for i in gold])
            lines.append(
                f"{name:<10} {len(records):>5} {len(texts):>5} {scores['precision']:>9.3f} "
                f"{scores['recall']:>7.3f} {scores['f1']:>6.3f} {result['seconds']:>8.1f}")
    page_titles, found = results["html"]["titles"], results["page text"]["titles"]
    agree = sum(same_title(found.get(i), page_titles.get(i)) for i in gold)
    notes.append(f"titles of the page text: {agree} of {len(gold)} the page's own (the title "
                 f"storywire reads from its HTML), {sum(not found.get(i) for i in gold)} none")
    lines += [""] + notes + [
        "",
        "kept: pages that came out as article rows (the others are rejects and score 0).",
        "seconds: wall time of `storywire run`, Beam start-up included.",
        "the page's own title: the same words, one within the other (a site's name added), "
        "or at least 0.6 of their words shared.",
    ]
    write_results(args.out, lines)


if __name__ == "__main__":
    main()
