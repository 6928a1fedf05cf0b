"""The stored articles a run groups its new ones with: the story index of nearby days, and,
of any day, those an undated article meets.

In one run, dated articles are compared within the story window, and an undated article
with every article that shares one of its candidate keys, of any date (the timeless
bucket, neighbours.py). A run into a stored output reads the story index of the days
near its new articles' days, and for the timeless bucket it also reads, from every day:

- the stored articles sharing a key with a new undated article;
- the stored undated articles sharing a key with any new article.

So articles split over several runs meet as they would in one, whichever come first.
The second read scans the story vectors of the whole index, and runs only when there is
an undated article on either side: a run of dated articles into an output of dated
articles (no `published_date=__HIVE_DEFAULT_PARTITION__` in `articles/`) reads by day only.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import NamedTuple

import apache_beam as beam

from storywire.schemas import NO_DATE_PARTITION, TABLES
from storywire.transforms.paths import files_under
from storywire.transforms.stories.continuation import CONTEXT_WINDOWS, MOVABLE_WINDOWS, latest
from storywire.transforms.stories.vectors import sharing_keys
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
    """The candidate keys of a run's new articles, as the timeless bucket needs them."""

    undated: frozenset[int]  # of its undated articles: they meet stored ones of any day
    every: frozenset[int]    # of all of them: they meet stored undated ones of any day


class _CollectKeys(beam.CombineFn):
    """New articles to their TimelessKeys."""

    def create_accumulator(self):
        return set(), set()

    def add_input(self, keys, article):
        undated, every = keys
        every.update(article.vector.keys)
        if article.published_at is None:
            undated.update(article.vector.keys)
        return keys

    def merge_accumulators(self, accumulators):
        undated, every = set(), set()
        for more_undated, more_every in accumulators:
            undated |= more_undated
            every |= more_every
        return undated, every

    def extract_output(self, keys):
        return TimelessKeys(frozenset(keys[0]), frozenset(keys[1]))


def timeless_rows(path: str, keys: TimelessKeys, undated_stored: bool) -> list[dict]:
    """The rows of one story-index file that the timeless bucket pairs with the new
    articles: sharing a key with an undated one, or undated and sharing a key with any."""
    if not keys.undated and not (undated_stored and keys.every):
        return []
    columns = ["published_at", "story_vector"]
    if not keys.undated:  # only the file's undated rows can match: most files have none
        columns = ["published_at"]
    rows = read_arrow(path, "story_index", columns)
    undated = rows.column("published_at").is_null().to_numpy(zero_copy_only=False)
    if not keys.undated and not undated.any():
        return []
    if "story_vector" not in columns:
        rows = read_arrow(path, "story_index", ["published_at", "story_vector"])
    vectors = rows.column("story_vector")
    meets = sharing_keys(vectors, keys.undated)
    if undated_stored:
        meets |= undated & sharing_keys(vectors, keys.every)
    if not meets.any():
        return []
    return read_arrow(path, "story_index").filter(meets).to_pylist()


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

    def __init__(self, output: str, window_days: float, ingested_at: int):
        super().__init__()
        self._output = output
        self._window_days = window_days
        self._ingested_at = ingested_at

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
        keys = beam.pvalue.AsSingleton(articles | "Keys" >> beam.CombineGlobally(_CollectKeys()))
        undated_stored = beam.pvalue.AsSingleton(
            p
            | "UndatedFolder" >> beam.Create([table_folder(
                output, "articles",
                f"{TABLES['articles'].partition_column}={NO_DATE_PARTITION}")])
            | "HasUndated" >> beam.Map(lambda folder: bool(files_under(folder))))
        timeless = (
            p
            | "IndexFiles" >> StoredFiles(output, "story_index")
            | "Timeless" >> beam.FlatMap(timeless_rows, keys, undated_stored))
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

