"""The stored articles a run groups its new ones with: the story index of nearby days, and,
of any day, those an undated article meets.

In one run, dated articles are compared within the story window, and an undated article
with every article that shares one of its candidate keys, of any date (the timeless
bucket, neighbours.py). A run into a stored output reads the story index of the days
near its new articles' days, and for the timeless bucket it also reads, from every day:

- the stored articles sharing a key with a new undated article;
- the stored undated articles sharing a key with any new article.

A key that more dated articles have than a bucket compares (`max_compared`) is left
out of the second: its timeless bucket compares its undated articles only, in one run as
here. So articles split over several runs meet as they would in one, whichever come first.
The second read scans the story vectors of the whole index twice (to count, then to
read), and runs only when there is an undated article on either side: a run of dated
articles into an output of dated articles (no `published_date=__HIVE_DEFAULT_PARTITION__`
in `articles/`) reads by day only.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from typing import NamedTuple

import apache_beam as beam
import numpy as np

from storywire.schemas import NO_DATE_PARTITION, TABLES
from storywire.transforms.paths import files_under
from storywire.transforms.stories.continuation import CONTEXT_WINDOWS, MOVABLE_WINDOWS, latest
from storywire.transforms.stories.neighbours import DEFAULT_MAX_COMPARED
from storywire.transforms.stories.vectors import strongest_keys
from storywire.transforms.write.parquet import day_of
from storywire.transforms.write.stored import (
    SpreadFiles,
    StoredArticle,
    StoredFiles,
    has_table,
    read_arrow,
    read_rows,
    table_folder,
)


def index_days(day: str, window_days: float) -> list[str]:
    """The index days a new article of `day` may find its story in: its own, and those
    up to one window (rounded up) and a day either side, as dated pairs meet up to a
    window apart."""
    reach = math.ceil(window_days) + 1
    center = date.fromisoformat(day)
    days = []
    for d in range(-reach, reach + 1):
        try:
            days.append((center + timedelta(days=d)).isoformat())
        except OverflowError:  # next to year 1 or 9999: no such day to read
            continue
    return days


def index_day(entry: StoredArticle) -> str:
    """The index day of a stored article: of its date, else of its ingestion."""
    return day_of(entry.published_at if entry.published_at is not None else entry.ingested_at)


class _ReadFiles(beam.PTransform):
    """Folders of `table` (allowed to be missing) to the rows of the Parquet files in them."""

    def __init__(self, table: str, columns: list[str] | None = None):
        super().__init__()
        self._table = table
        self._columns = columns

    def expand(self, folders):
        table, columns = self._table, self._columns
        return (folders
                | "Files" >> SpreadFiles()
                | "ReadRows" >> beam.FlatMap(read_rows, table, columns))


class TimelessKeys(NamedTuple):
    """The candidate keys of a run's new articles, as the timeless bucket needs them
    (sorted arrays, as `np.isin` takes them)."""

    undated: np.ndarray  # of its undated articles: they meet stored ones of any day
    every: np.ndarray    # of all of them: they meet stored undated ones of any day
    dated: dict[int, int]  # how many new dated articles have each key of `undated`


class _CollectKeys(beam.CombineFn):
    """New articles to their TimelessKeys."""

    def create_accumulator(self):
        return set(), set(), Counter()

    def add_input(self, keys, article):
        undated, every, dated = keys
        every.update(article.vector.keys)
        if article.published_at is None:
            undated.update(article.vector.keys)
        else:
            dated.update(article.vector.keys)
        return keys

    def merge_accumulators(self, accumulators):
        undated, every, dated = set(), set(), Counter()
        for more_undated, more_every, more_dated in accumulators:
            undated |= more_undated
            every |= more_every
            dated.update(more_dated)
        return undated, every, dated

    def extract_output(self, keys):
        undated, every, dated = keys
        return TimelessKeys(_sorted_array(undated), _sorted_array(every),
                            {k: dated[k] for k in undated if k in dated})


def _sorted_array(keys) -> np.ndarray:
    return np.sort(np.fromiter(keys, dtype=np.uint64, count=len(keys)))


def _undated_and_keys(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of a story-index file are undated, and their candidate keys."""
    rows = read_arrow(path, "story_index", ["published_at", "story_vector"])
    return (rows.column("published_at").is_null().to_numpy(zero_copy_only=False),
            strongest_keys(rows.column("story_vector")))


def stored_dated_keys(path: str, keys: TimelessKeys) -> list[tuple[int, int]]:
    """(key, how many dated rows of one story-index file have it) for the keys of the new
    undated articles. (An article a later run moved has a row for each assignment, and
    counts once for each: moves are a few in a thousand articles.)"""
    if not len(keys.undated):
        return []
    undated, stored = _undated_and_keys(path)
    stored = stored[~undated]
    found, counts = np.unique(stored[np.isin(stored, keys.undated)], return_counts=True)
    return list(zip(found.tolist(), counts.tolist()))


def timeless_rows(path: str, keys: TimelessKeys, crowded: np.ndarray,
                  undated_stored: bool) -> list[dict]:
    """The rows of one story-index file that the timeless bucket pairs with the new
    articles: the undated rows sharing a key with any of them, and the dated rows sharing
    a key with an undated one, unless that key is `crowded` (more dated articles have it
    than a bucket compares: the bucket then compares its undated articles only)."""
    if not len(keys.undated):
        # Only the file's undated rows can match: most files have none, and their small
        # date column tells so without their vectors being read.
        if not undated_stored or not read_arrow(
                path, "story_index", ["published_at"]).column("published_at").null_count:
            return []
    undated, stored = _undated_and_keys(path)
    meets = undated & np.isin(stored, keys.every).any(axis=1)
    if len(keys.undated):
        meets |= ~undated & (np.isin(stored, keys.undated)
                             & ~np.isin(stored, crowded)).any(axis=1)
    if not meets.any():
        return []
    return read_arrow(path, "story_index").filter(meets).to_pylist()


def _crowded(key_count: tuple[int, int], keys: TimelessKeys, max_compared: int) -> list[int]:
    key, stored = key_count
    return [key] if stored + keys.dated.get(key, 0) > max_compared else []


class ReadStoryIndex(beam.PTransform):
    """New articles to {"stored": the StoredArticles of the index days around theirs, and
    those the timeless bucket pairs them with, "movable": (article_id, True) for those
    near enough to move}.

    The days read reach CONTEXT_WINDOWS story windows (and a day) from the new articles'
    days: a stored article within MOVABLE_WINDOWS of them is then grouped with everything
    it is compared with, and may move. Those further out are context: they link and claim,
    never move.
    An undated article's day is the run's day (`ingested_at`), as undated articles are
    indexed by the day they were ingested.
    """

    def __init__(self, output: str, window_days: float, ingested_at: int,
                 max_compared: int = DEFAULT_MAX_COMPARED):
        super().__init__()
        self._output = output
        self._window_days = window_days
        self._ingested_at = ingested_at
        self._max_compared = max_compared

    def expand(self, articles):
        output, window_days, ingested_at = self._output, self._window_days, self._ingested_at
        p = articles.pipeline
        if not has_table(output, "story_index"):  # a first run: nothing to read
            return {"stored": p | "NoIndex" >> beam.Create([]),
                    "movable": p | "NoneMovable" >> beam.Create([])}
        column = TABLES["story_index"].partition_column
        # The run's own day is always one: undated articles of recent runs are indexed on
        # it.
        days = ((articles
                 | "Days" >> beam.Map(lambda a: day_of(
                     a.published_at if a.published_at is not None else ingested_at)),
                 p | "RunDay" >> beam.Create([day_of(ingested_at)]))
                | "AllDays" >> beam.Flatten()
                | "DistinctDays" >> beam.Distinct())
        near = (days
                | "NearDays" >> beam.FlatMap(index_days, MOVABLE_WINDOWS * window_days)
                | "DistinctNearDays" >> beam.Distinct())
        by_day = (
            days
            | "ContextDays" >> beam.FlatMap(index_days, CONTEXT_WINDOWS * window_days)
            | "DistinctContextDays" >> beam.Distinct()
            | "Folders" >> beam.Map(
                lambda day: table_folder(output, "story_index", f"{column}={day}"))
            | "Read" >> _ReadFiles("story_index"))
        keys = articles | "Keys" >> beam.CombineGlobally(_CollectKeys()).as_singleton_view()
        undated_stored = beam.pvalue.AsSingleton(
            p
            | "UndatedFolder" >> beam.Create([table_folder(
                output, "articles",
                f"{TABLES['articles'].partition_column}={NO_DATE_PARTITION}")])
            | "HasUndated" >> beam.Map(lambda folder: bool(files_under(folder))))
        files = p | "IndexFiles" >> StoredFiles(output, "story_index")
        crowded = beam.pvalue.AsSingleton(
            files
            | "StoredDatedKeys" >> beam.FlatMap(stored_dated_keys, keys)
            | "CountKeys" >> beam.CombinePerKey(sum)
            | "Crowded" >> beam.FlatMap(_crowded, keys, self._max_compared)
            | "CrowdedKeys" >> beam.combiners.ToList()
            | "AsArray" >> beam.Map(_sorted_array))
        timeless = files | "Timeless" >> beam.FlatMap(timeless_rows, keys, crowded,
                                                      undated_stored)
        stored = (
            (by_day, timeless)
            | "Both" >> beam.Flatten()
            | "Entries" >> beam.Map(lambda row: (row["article_id"], StoredArticle.of(row)))
            | "Latest" >> beam.CombinePerKey(latest)
            | "Current" >> beam.Values()
        )
        movable = stored | "Movable" >> beam.FlatMap(
            lambda entry, near_days: [(entry.article_id, True)]
            if index_day(entry) in near_days else [],
            beam.pvalue.AsList(near))
        return {"stored": stored, "movable": movable}

