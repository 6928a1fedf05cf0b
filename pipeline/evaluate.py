"""`storywire eval`: score story tagging against a labelled JSONL file.

The labelled file holds input records plus a gold story field. The records are copied
without that field into a scratch folder, the same pipeline runs on the copy (so it never
sees the labels), and the story_id of every article is compared with the gold story.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

# The run options eval gives itself: the records it feeds are the labelled file's.
FED = ("--input", "--replay")


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def clusters(predicted: pa.Table, gold: pa.Table) -> pa.Table:
    """One row a gold item (`gold`: article_id, story): its gold story and the cluster the
    run put it in (`predicted`: article_id, story_id). An item the run did not tag is a
    cluster of its own, with `found` false.

    In Arrow, not dictionaries: a million labels as Python objects held several hundred
    MiB more than the run that made them."""
    ids = predicted.column("article_id")
    if pc.count_distinct(ids).as_py() < len(ids):  # an id given twice: its last story
        predicted = predicted.group_by("article_id", use_threads=False).aggregate(
            [("story_id", "last")]).rename_columns(["article_id", "story_id"])
    # Gold stories as numbers: a story's name may be long, and is compared, not copied.
    stories = pc.dictionary_encode(gold.column("story").combine_chunks()).indices
    joined = pa.table({"article_id": gold.column("article_id"), "story": stories}).join(
        predicted.select(["article_id", "story_id"]), "article_id", join_type="left outer")
    found = pc.is_valid(joined.column("story_id"))
    # An item not found is a cluster of its own: named by its row, since a record the run
    # rejects may have no id.
    rows = pa.array(range(joined.num_rows), pa.int64()).cast(pa.string())
    return pa.table({
        "found": found,
        "cluster": pc.if_else(found, joined.column("story_id"), rows),
        "gold": joined.column("story"),
    })


# A gold story as given: any JSON string, a lone surrogate ("\ud800") too, so as bytes.
GOLD_STORY = pa.large_binary()


def story_bytes(story: str) -> bytes:
    return story.encode("utf-8", "surrogatepass")


class Groups(NamedTuple):
    """How many `clusters` rows each cell (found, cluster, gold), each predicted cluster
    (found, cluster) and each gold story holds: the counts every score is made of."""

    items: int
    cells: pa.Table  # found, cluster, gold, size
    clusters: pa.Table  # found, cluster, size
    stories: pa.Table  # gold, size


def _sizes(items: pa.Table, keys: list[str]) -> pa.Table:
    return items.group_by(keys).aggregate([([], "count_all")]).rename_columns(
        [*keys, "size"])


def groups(items: pa.Table) -> Groups:
    """The Groups of `clusters` rows."""
    return Groups(items.num_rows, _sizes(items, ["found", "cluster", "gold"]),
                  _sizes(items, ["found", "cluster"]), _sizes(items, ["gold"]))


def _weighed(cells: pa.Table, sizes: pa.Table, keys: list[str]) -> float:
    """The sum over cells of n * n / the size of the cell's group (by `keys`)."""
    joined = cells.rename_columns([*cells.column_names[:-1], "n"]).join(sizes, keys)
    n = pc.cast(joined.column("n"), pa.float64())
    return pc.sum(pc.divide(pc.multiply(n, n), joined.column("size"))).as_py() or 0.0


def _pairs(counts: pa.ChunkedArray) -> int:
    return pc.sum(pc.divide(pc.multiply(counts, pc.subtract(counts, 1)), 2)).as_py() or 0


def bcubed_of(counted: Groups) -> Scores:
    """B-cubed precision, recall and F1 (Bagga and Baldwin, 1998) over the gold items."""
    if not counted.items:
        return Scores(0.0, 0.0, 0.0)
    precision = _weighed(counted.cells, counted.clusters, ["found", "cluster"]) / counted.items
    recall = _weighed(counted.cells, counted.stories, ["gold"]) / counted.items
    return Scores(precision, recall, _f1(precision, recall))


def pairwise_of(counted: Groups) -> Scores:
    """Precision, recall and F1 over the pairs of items put in one cluster."""
    together = _pairs(counted.cells.column("size"))
    pred_pairs = _pairs(counted.clusters.column("size"))
    gold_pairs = _pairs(counted.stories.column("size"))
    precision = together / pred_pairs if pred_pairs else 1.0
    recall = together / gold_pairs if gold_pairs else 1.0
    return Scores(precision, recall, _f1(precision, recall))


def _gold_table(gold: Mapping[str, str]) -> pa.Table:
    return pa.table({"article_id": pa.array(list(gold), pa.string()),
                     "story": pa.array([story_bytes(s) for s in gold.values()], GOLD_STORY)})


def _predicted_table(predicted: Mapping[str, str]) -> pa.Table:
    return pa.table({"article_id": pa.array(list(predicted), pa.string()),
                     "story_id": pa.array(list(predicted.values()), pa.string())})


def _groups_of(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Groups:
    return groups(clusters(_predicted_table(predicted), _gold_table(gold)))


def bcubed(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Scores:
    """B-cubed scores of {item: cluster} against {item: gold story}. Items missing from
    `predicted` count as clusters of their own."""
    return bcubed_of(_groups_of(predicted, gold))


def pairwise(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Scores:
    """Pairwise scores of {item: cluster} against {item: gold story}."""
    return pairwise_of(_groups_of(predicted, gold))


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
    """Scores of {item: cluster} against {item: gold story}."""
    return score_tables(_predicted_table(predicted), _gold_table(gold))


def score_tables(predicted: pa.Table, gold: pa.Table) -> Evaluation:
    """Scores of the run's stories (article_id, story_id) against the gold stories
    (article_id, story)."""
    counted = groups(clusters(predicted, gold))
    found = counted.clusters.filter(counted.clusters.column("found")).column("size")
    scored = pc.sum(found).as_py() or 0
    return Evaluation(
        articles=counted.items,
        scored=scored,
        gold_stories=counted.stories.num_rows,
        found_stories=len(found) + counted.items - scored,
        largest_found=pc.max(found).as_py() or 0,
        bcubed=bcubed_of(counted),
        pairwise=pairwise_of(counted),
    )


def strip_labels(labelled: str, unlabelled: str, gold_field: str) -> pa.Table:
    """Copy the records without the gold field; return the gold stories, as a table of
    article_id and story, one row a record copied.

    Each line is decoded and its article id made as `storywire run` does (the same id, with
    surrounding spaces dropped, or from its url, else its title, date and body), so that
    every article is found again. A record the run would reject (no text) is scored as an
    article not found; a line that is no JSON object, or has no gold story, is an error, as
    is an article id two records share.
    """
    from storywire.transforms.read.decode import NotText, decode_bytes
    from storywire.transforms.read.inputs import record_of_object
    from storywire.transforms.read.wide import as_utf8

    gold = _GoldColumns()
    with open(labelled, "rb") as raw, open(unlabelled, "w", encoding="utf-8") as dst:
        # Line by line: a labelled feed of a million records is gigabytes. In UTF-8, or
        # UTF-16 with a byte order mark, as the run reads JSONL.
        for number, data in _numbered_lines(as_utf8(raw), labelled):
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
            # A record without any id is rejected by the run: an item never found, with no
            # id (a name made up for it could be another record's id).
            article_id = record_of_object(record, copied, unlabelled, number).article_id or None
            if article_id is not None and article_id in gold:
                own_id = record.get("id") is not None and str(record["id"]).strip()
                given = (f"id {article_id!r} appears twice" if own_id
                         else "a record without an id whose url (or title, date and body) "
                              "is that of an earlier one: the run would keep only one; give "
                              "each record an id")
                raise ValueError(f"{labelled}:{number}: {given}")
            gold.add(article_id, story)
            dst.write(copied + "\n")
    return gold.table()


def _numbered_lines(src, labelled: str) -> Iterator[tuple[int, bytes]]:
    """The lines of a binary handle, numbered from 1; a file that ends inside a UTF-16
    character is an error at the line where it does."""
    number = 0
    while True:
        try:
            data = src.readline()
        except UnicodeDecodeError as err:
            raise ValueError(f"{labelled}:{number + 1}: {err}") from None
        if not data:
            return
        number += 1
        yield number, data


class _GoldColumns:
    """The gold table as it is read, gathered into Arrow arrays every _BATCH rows: a
    million records' ids and stories as Python strings would hold hundreds of MiB. Which
    ids it holds is told by their hashes, checked against the ids themselves on a match."""

    _BATCH = 65_536

    def __init__(self):
        self._rows: list[tuple[str, bytes]] = []
        self._batches: list[pa.RecordBatch] = []
        self._hashes: set[int] = set()

    def __contains__(self, article_id: str) -> bool:
        if hash(article_id) not in self._hashes:
            return False
        return (any(row[0] == article_id for row in self._rows)
                or any(pc.any(pc.equal(b.column(0), article_id)).as_py()
                       for b in self._batches))

    def add(self, article_id: str | None, story: str) -> None:
        if article_id is not None:
            self._hashes.add(hash(article_id))
        self._rows.append((article_id, story_bytes(story)))
        if len(self._rows) >= self._BATCH:
            self._gather()

    def _gather(self) -> None:
        if self._rows:
            ids, stories = zip(*self._rows)
            self._batches.append(pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.string()), pa.array(stories, GOLD_STORY)],
                names=["article_id", "story"]))
            self._rows = []

    def table(self) -> pa.Table:
        self._gather()
        schema = pa.schema([("article_id", pa.string()), ("story", GOLD_STORY)])
        return pa.Table.from_batches(self._batches, schema)


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


def read_story_ids(output: str) -> pa.Table:
    """The article_id and current story_id of each article of an output: the story each
    article has now (a later run may have moved it from the one in the articles table)."""
    from storywire.transforms.write.stored import current_story_table

    return current_story_table(output)


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


def file_first(argv: list[str], own) -> list[str] | None:
    """eval's words with the labelled file first, where its parser (`own`) looks for it:
    options, eval's or a run's, may come before the file with their values
    (`--max_batch_articles 50 FILE`), which the parser would take for the file. None when
    no word is the file."""
    from storywire.pipeline.options import all_options_parser

    run = all_options_parser()
    at = 0
    while at < len(argv):
        word = argv[at]
        if word == "--":  # the file follows, whatever it looks like
            return [argv[at + 1], *argv[:at], *argv[at + 2:]] if at + 1 < len(argv) else None
        if not word.startswith("-") or word == "-":
            return [word, *argv[:at], *argv[at + 1:]]
        flag = word.split("=", 1)[0]
        action = own._option_string_actions.get(flag) or run._option_string_actions.get(flag)
        at += 1 if "=" in word or action is None or action.nargs == 0 else 2
    return None


def evaluate(argv: list[str]) -> int:
    """storywire eval LABELLED.jsonl [--gold_field story] [run options]"""
    import argparse

    from storywire.pipeline.lostworkers import stop_signals_let_go
    from storywire.pipeline.options import OptionsError, ascii_number, parse_command_words
    from storywire.pipeline.run import launcher_flags

    parser = argparse.ArgumentParser(
        prog="storywire eval", allow_abbrev=False,  # as a run: no option by a shortened name
        exit_on_error=False,  # a bad value is one line, as a run's
        description="Score story tagging on a labelled JSONL file (input records plus a "
                    "gold story field). Other options go to `storywire run`.")
    parser.add_argument("labelled", help="JSONL records with a gold story field")
    parser.add_argument("--gold_field", default="story",
                        help="the field holding the gold story (default: story)")
    parser.add_argument("--output", default=None,
                        help="keep the run's tables in this folder (default: a scratch "
                             "folder, removed afterwards)")
    parser.add_argument("--runs", type=ascii_number(int), default=1,
                        help="feed the records as this many incremental runs into one "
                             "output, cut in file order (default: 1)")
    parser.add_argument("--stream", action="store_true",
                        help="feed the records to the stream pipeline instead, replayed in "
                             "file order (storywire stream --replay); stream options such as "
                             "--window_minutes and --replay_interval_seconds apply")
    ordered = file_first(argv, parser)
    # Without a file, help is help, and `--input FILE` is told that eval feeds its file.
    if ordered is None and not {"-h", "--help", *FED} & {w.split("=")[0] for w in argv}:
        print("storywire eval: give the labelled file: `storywire eval FILE.jsonl [options]`",
              file=sys.stderr)
        return 2
    try:
        args, run_options = parse_command_words(parser, ordered or argv)
    except OptionsError as err:
        print(f"storywire eval: {err}; `storywire eval --help` lists the options",
              file=sys.stderr)
        return 2
    from storywire.pipeline.options import (
        BATCH_ONLY,
        STREAM_SETTINGS,
        StreamOptions,
        check_settings,
        check_stream_words,
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
        if args.stream:
            check_stream_words(words)
        # Every run option is checked before the labelled file is read or a lock taken.
        check_words(words, exclude=() if args.stream else (StreamOptions,),
                    not_offered=FED + (BATCH_ONLY if args.stream else ()),
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
    from storywire.pipeline.scratch import NoScratch, Scratch

    try:
        held = Scratch("eval")
    except NoScratch as err:
        print(f"storywire eval: {err}", file=sys.stderr)
        return 2
    scratch = held.path
    try:
        return _evaluate_in(scratch, args, run_options, argv)
    except KeyboardInterrupt:
        with stop_signals_let_go():
            print(f"\nstorywire eval: interrupted; {_what_is_kept(args.output)}",
                  file=sys.stderr)
        return 130
    finally:
        with stop_signals_let_go():
            held.remove()


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
    from storywire.pipeline.report import TOO_MANY_REJECTS
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
    if not gold.num_rows:
        print(f"storywire eval: {args.labelled} holds no records", file=sys.stderr)
        return 2
    if args.runs > gold.num_rows:
        print(f"storywire eval: --runs {args.runs}: {args.labelled} holds only "
              f"{gold.num_rows} records", file=sys.stderr)
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
            # Many rejects (the run said how many) are items not found, which the scores
            # count; a replayed stream scores them too.
            if status and status != TOO_MANY_REJECTS:
                return status
    finally:
        if lock is not None:
            lock.release()
    seconds = time.perf_counter() - started
    predicted = read_story_ids(output)
    if not predicted.num_rows:  # a batch run says so itself (exit 1); a stream does not
        why = (f"the rejects table of {output} says why" if args.output
               else "keep the tables with --output to see why")
        print(f"storywire eval: no article came out of {gold.num_rows} records: nothing to "
              f"score ({why})", file=sys.stderr)
        return 1
    result = score_tables(predicted, gold)
    print(result.text(), flush=True)
    print(f"mode:            {mode_name(args.runs, args.stream)}, {seconds:.1f} s", flush=True)
    return 0


def mode_name(runs: int, stream: bool = False) -> str:
    if stream:
        return "a replayed stream (records in file order)"
    return "one run" if runs == 1 else f"{runs} incremental runs (cut in file order)"
