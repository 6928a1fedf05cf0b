"""`storywire eval`: score story tagging against a labelled JSONL file.

The labelled file holds input records plus a gold story field. The records are copied
without that field into a scratch folder, the same pipeline runs on the copy (so it never
sees the labels), and the story_id of every article is compared with the gold story.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def bcubed(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Scores:
    """B-cubed precision, recall and F1 (Bagga and Baldwin, 1998) over the gold items.

    Items missing from `predicted` count as clusters of their own.
    """
    if not gold:
        return Scores(0.0, 0.0, 0.0)
    pred = {item: predicted.get(item, ("missing", item)) for item in gold}
    cells = Counter((pred[item], gold[item]) for item in gold)
    pred_sizes = Counter(pred.values())
    gold_sizes = Counter(gold.values())
    precision = sum(n * n / pred_sizes[p] for (p, _), n in cells.items()) / len(gold)
    recall = sum(n * n / gold_sizes[g] for (_, g), n in cells.items()) / len(gold)
    return Scores(precision, recall, _f1(precision, recall))


def pairwise(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Scores:
    """Precision, recall and F1 over the pairs of items put in one cluster."""
    pred = {item: predicted.get(item, ("missing", item)) for item in gold}

    def pairs(counts) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    together = pairs(Counter((pred[i], gold[i]) for i in gold).values())
    pred_pairs = pairs(Counter(pred.values()).values())
    gold_pairs = pairs(Counter(gold.values()).values())
    precision = together / pred_pairs if pred_pairs else 1.0
    recall = together / gold_pairs if gold_pairs else 1.0
    return Scores(precision, recall, _f1(precision, recall))


@dataclass(frozen=True)
class Evaluation:
    articles: int
    scored: int
    gold_stories: int
    found_stories: int
    largest_found: int
    bcubed: Scores
    pairwise: Scores

    def text(self) -> str:
        b, p = self.bcubed, self.pairwise
        return "\n".join([
            f"articles scored: {self.scored} of {self.articles} labelled",
            f"stories:         {self.found_stories} found, {self.gold_stories} gold "
            f"(largest found: {self.largest_found})",
            f"B-cubed:         precision {b.precision:.3f}  recall {b.recall:.3f}  "
            f"F1 {b.f1:.3f}",
            f"pairwise:        precision {p.precision:.3f}  recall {p.recall:.3f}  "
            f"F1 {p.f1:.3f}",
        ])


def score(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Evaluation:
    found = Counter(predicted[i] for i in gold if i in predicted)
    return Evaluation(
        articles=len(gold),
        scored=sum(1 for i in gold if i in predicted),
        gold_stories=len(set(gold.values())),
        found_stories=len(found) + sum(1 for i in gold if i not in predicted),
        largest_found=max(found.values(), default=0),
        bcubed=bcubed(predicted, gold),
        pairwise=pairwise(predicted, gold),
    )


def strip_labels(labelled: str, unlabelled: str, gold_field: str) -> dict[str, str]:
    """Copy the records without the gold field; return {article id: gold story}.

    A record without an `id` is given `line-N`, so its article can be found again.
    """
    gold: dict[str, str] = {}
    seen: defaultdict[str, int] = defaultdict(int)
    with open(labelled, encoding="utf-8") as src, open(unlabelled, "w", encoding="utf-8") as dst:
        try:
            lines = list(enumerate(src, start=1))
        except UnicodeDecodeError:
            raise ValueError(f"{labelled}: not UTF-8 text (a compressed file? give the "
                             ".jsonl itself)") from None
        for number, line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{labelled}:{number}: not a JSON line: {err}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{labelled}:{number}: a line must be a JSON object")
            if gold_field not in record:
                raise ValueError(f"{labelled}:{number}: no {gold_field!r} field")
            story = str(record.pop(gold_field))
            article_id = str(record.setdefault("id", f"line-{number}"))
            seen[article_id] += 1
            if seen[article_id] > 1:
                raise ValueError(f"{labelled}:{number}: id {article_id!r} appears twice")
            gold[article_id] = story
            dst.write(json.dumps(record, ensure_ascii=False) + "\n")
    return gold


def read_story_ids(output: str) -> dict[str, str]:
    """{article_id: story_id} of an output's articles table (file by file: a table whose
    rows all lack a date is one Hive partition of NULLs, which pyarrow's dataset reader
    cannot type)."""
    from storywire.transforms.parquet import table_files
    from storywire.transforms.stored import read_rows

    return {row["article_id"]: row["story_id"]
            for path in table_files(output, "articles")
            for row in read_rows(path, "articles", ["article_id", "story_id"])}


def evaluate(argv: list[str]) -> int:
    """storywire eval LABELLED.jsonl [--gold_field story] [run options]"""
    import argparse

    from storywire.pipeline.run import run

    parser = argparse.ArgumentParser(
        prog="storywire eval",
        description="Score story tagging on a labelled JSONL file (input records plus a "
                    "gold story field). Other options go to `storywire run`.")
    parser.add_argument("labelled", help="JSONL records with a gold story field")
    parser.add_argument("--gold_field", default="story",
                        help="the field holding the gold story (default: story)")
    parser.add_argument("--output", default=None,
                        help="keep the run's tables in this folder (default: a scratch "
                             "folder, removed afterwards)")
    args, run_options = parser.parse_known_args(argv)
    if not os.path.isfile(args.labelled):
        what = "is a folder, not a file" if os.path.isdir(args.labelled) else "no such file"
        print(f"storywire eval: {args.labelled}: {what}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="storywire-eval-") as scratch:
        unlabelled = os.path.join(scratch, "input.jsonl")
        try:
            gold = strip_labels(args.labelled, unlabelled, args.gold_field)
        except (ValueError, json.JSONDecodeError) as err:
            print(f"storywire eval: {err}", file=sys.stderr)
            return 2
        output = args.output or os.path.join(scratch, "output")
        # Only a kept output is worth pointing `storywire stories` at.
        status = run(["--input", unlabelled, "--output", output, *run_options],
                     keep_output=args.output is not None)
        if status:
            return status
        result = score(read_story_ids(output), gold)
    print(result.text(), flush=True)
    return 0
