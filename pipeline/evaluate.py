"""`storywire eval`: score story tagging against a labelled JSONL file.

The labelled file holds input records plus a gold story field. The records are copied
without that field into a scratch folder, the same pipeline runs on the copy (so it never
sees the labels), and the story_id of every article is compared with the gold story.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice

# The run options eval gives itself: the records it feeds are the labelled file's.
FED = ("--input", "--replay")


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

    Each line is decoded and its article id made as `storywire run` does (the same id, with
    surrounding spaces dropped, or from its url, else its title, date and body), so that
    every article is found again. A record the run would reject (no text) is scored as an
    article not found; a line that is no JSON object, or has no gold story, is an error.
    """
    from storywire.transforms.read.decode import NotText, decode_bytes
    from storywire.transforms.read.inputs import record_of_object

    gold: dict[str, str] = {}
    with open(labelled, "rb") as src, open(unlabelled, "w", encoding="utf-8") as dst:
        # Line by line: a labelled feed of a million records is gigabytes.
        for number, data in enumerate(src, start=1):
            try:
                line = decode_bytes(data.rstrip(b"\r\n"))
            except NotText as err:
                raise ValueError(f"{labelled}:{number}: {err} (a compressed file? give the "
                                 ".jsonl itself)") from None
            story, record = _unlabelled(line, number, labelled, gold_field)
            if record is None:
                continue
            copied = json.dumps(record, ensure_ascii=False)
            if not copied.isascii():
                try:
                    copied.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate ("\udcff"): kept as its escape
                    copied = json.dumps(record)
            article_id = record_of_object(record, copied, unlabelled, number).article_id
            article_id = article_id or f"line-{number}"  # a reject without an id
            if article_id in gold:
                given = (f"id {article_id!r} appears twice" if record.get("id") is not None
                         else "a record without an id whose url (or title, date and body) "
                              "is that of an earlier one: the run would keep only one; give "
                              "each record an id")
                raise ValueError(f"{labelled}:{number}: {given}")
            gold[article_id] = story
            dst.write(copied + "\n")
    return gold


def _unlabelled(line: str, number: int, labelled: str, gold_field: str):
    """(gold story, the record without it) of one labelled line; (None, None) for a blank
    line."""
    if not line.strip():
        return None, None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{labelled}:{number}: not a JSON line: {err}") from None
    if not isinstance(record, dict):
        raise ValueError(f"{labelled}:{number}: a line must be a JSON object")
    if gold_field not in record:
        raise ValueError(f"{labelled}:{number}: no {gold_field!r} field")
    story = record.pop(gold_field)
    if isinstance(story, bool) or not isinstance(story, (str, int, float)):
        raise ValueError(f"{labelled}:{number}: the {gold_field!r} field is "
                         f"{json.dumps(story)[:40]}: a gold story is a string or a number")
    if not str(story).strip():
        raise ValueError(f"{labelled}:{number}: the {gold_field!r} field is empty: every "
                         "record needs its gold story")
    return str(story), record


def read_story_ids(output: str) -> dict[str, str]:
    """{article_id: current story_id} of an output: the story each article has now (a later
    run may have moved it from the one in the articles table)."""
    from storywire.transforms.write.stored import current_story_ids

    return current_story_ids(output)


def cut_in_order(path: str, parts: int, folder: str) -> list[str]:
    """The lines of a JSONL file in `parts` files of (nearly) equal size, in file order: the
    records a feed would deliver over `parts` scheduled runs."""
    with open(path, encoding="utf-8") as src:
        total = sum(1 for _ in src)
    paths = []
    with open(path, encoding="utf-8") as src:
        for n in range(parts):
            part = os.path.join(folder, f"run-{n + 1:03d}", "input.jsonl")
            os.makedirs(os.path.dirname(part))
            count = (n + 1) * total // parts - n * total // parts
            with open(part, "w", encoding="utf-8") as dst:
                dst.writelines(islice(src, count))
            paths.append(part)
    return paths


def evaluate(argv: list[str]) -> int:
    """storywire eval LABELLED.jsonl [--gold_field story] [run options]"""
    import argparse

    from storywire.pipeline.lostworkers import stop_signals_let_go
    from storywire.pipeline.run import launcher_flags

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
    parser.add_argument("--runs", type=int, default=1,
                        help="feed the records as this many incremental runs into one "
                             "output, cut in file order (default: 1)")
    parser.add_argument("--stream", action="store_true",
                        help="feed the records to the stream pipeline instead, replayed in "
                             "file order (storywire stream --replay); stream options such as "
                             "--window_minutes and --replay_interval_seconds apply")
    args, run_options = parser.parse_known_args(argv)
    from storywire.pipeline.options import (
        STREAM_SETTINGS,
        OptionsError,
        StreamOptions,
        check_settings,
        check_words,
        flags_given,
        pipeline_options,
    )

    given = flags_given(run_options)
    for own in FED:
        if own in given:
            print(f"storywire eval: {own} is not an option of eval, which feeds its labelled "
                  "file to the run: `storywire eval FILE.jsonl [options]`", file=sys.stderr)
            return 2
    launcher = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    launcher_flags(launcher)  # --quiet: the run's own
    try:
        words = launcher.parse_known_args(run_options)[1]
        # Every run option is checked before the labelled file is read or a lock taken.
        check_words(words, exclude=() if args.stream else (StreamOptions,), not_offered=FED,
                    offered=tuple(o for a in parser._actions for o in a.option_strings))
        check_settings(pipeline_options(words))
        if args.stream:
            check_settings(pipeline_options(words), STREAM_SETTINGS)
    except (OptionsError, argparse.ArgumentError) as err:
        print(f"storywire eval: {err}; `storywire eval --help` lists eval's options, "
              "`storywire run --help` those of its runs", file=sys.stderr)
        return 2
    if args.stream and args.runs != 1:
        print("storywire eval: give --runs N or --stream, not both", file=sys.stderr)
        return 2
    if args.runs < 1:
        print(f"storywire eval: --runs {args.runs}: give at least 1", file=sys.stderr)
        return 2
    if not os.path.isfile(args.labelled):
        from storywire.transforms.read.matching import not_a_file

        print(f"storywire eval: {args.labelled}: {not_a_file(args.labelled)}", file=sys.stderr)
        return 2
    scratch = tempfile.mkdtemp(prefix="storywire-eval-")
    try:
        return _evaluate_in(scratch, args, run_options, argv)
    except KeyboardInterrupt:
        with stop_signals_let_go():
            print(f"\nstorywire eval: interrupted; {_what_is_kept(args.output)}",
                  file=sys.stderr)
        return 130
    finally:
        with stop_signals_let_go():
            shutil.rmtree(scratch, ignore_errors=True)


def _what_is_kept(output: str | None) -> str:
    """What an interrupted eval leaves, in words."""
    from storywire.pipeline.cli import holds_tables

    if output is None:
        return "nothing was kept"
    if holds_tables(output):
        return (f"{output} holds what its runs committed: score into a new or empty folder")
    return "nothing was written"


def _evaluate_in(scratch: str, args, run_options: list[str], argv: list[str]) -> int:
    """Score the labelled file with `scratch` as eval's own folder; the exit status."""
    from storywire.pipeline.run import run

    unlabelled = os.path.join(scratch, "input.jsonl")
    try:
        gold = strip_labels(args.labelled, unlabelled, args.gold_field)
    except (ValueError, json.JSONDecodeError) as err:
        print(f"storywire eval: {err}", file=sys.stderr)
        return 2
    if args.output:
        from storywire.pipeline.cli import holds_tables

        if holds_tables(args.output):
            print(f"storywire eval: --output {args.output} holds tables already: give "
                  "a new or empty folder (articles stored there would be skipped, and "
                  "the scores be those of the old tables)", file=sys.stderr)
            return 2
        if os.path.isdir(args.output) and os.listdir(args.output):
            print(f"storywire eval: --output {args.output} holds other files: give a new "
                  "or empty folder for the run's tables", file=sys.stderr)
            return 2
    if not gold:
        print(f"storywire eval: {args.labelled} holds no records", file=sys.stderr)
        return 2
    if args.runs > len(gold):
        print(f"storywire eval: --runs {args.runs}: {args.labelled} holds only "
              f"{len(gold)} records", file=sys.stderr)
        return 2
    output = args.output or os.path.join(scratch, "output")
    inputs = (cut_in_order(unlabelled, args.runs, scratch) if args.runs > 1
              else [unlabelled])
    started = time.perf_counter()
    if args.stream:
        from storywire.pipeline.cli import stream

        status = stream(["--replay", unlabelled, "--output", output, *run_options],
                        command="eval", typed=argv, keep_output=args.output is not None)
        if status:
            return status
    lock = None
    if len(inputs) > 1:  # one writer across the runs: no other run writes between them
        from storywire.pipeline.cli import check_output, lock_output
        from storywire.pipeline.options import StorywireOptions, pipeline_options

        status = check_output("eval", [unlabelled], output)
        if status is not None:
            return status
        wait = pipeline_options(run_options).view_as(StorywireOptions).wait_for_lock
        lock = lock_output("eval", argv, output, wait)
        if lock is None:
            return 2
    try:
        for n, path in enumerate([] if args.stream else inputs, start=1):
            if len(inputs) > 1:
                print(f"storywire eval: run {n} of {len(inputs)}", flush=True)
            # Only a kept output is worth pointing `storywire stories` at.
            status = run(["--input", path, "--output", output, *run_options], lock=lock,
                         keep_output=args.output is not None, command="eval", typed=argv)
            if status:
                return status
    finally:
        if lock is not None:
            lock.release()
    seconds = time.perf_counter() - started
    result = score(read_story_ids(output), gold)
    print(result.text(), flush=True)
    print(f"mode:            {mode_name(args.runs, args.stream)}, {seconds:.1f} s", flush=True)
    return 0


def mode_name(runs: int, stream: bool = False) -> str:
    if stream:
        return "a replayed stream (records in file order)"
    return "one run" if runs == 1 else f"{runs} incremental runs (cut in file order)"
