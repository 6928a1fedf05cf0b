"""What earlier runs left in the output folder, read back by the next run.

A run into a folder that already holds tables reads three things from it: the ids of the
articles already written (their records are skipped), the stories table (it is updated),
and the story index of the days near its new articles' days (new articles are compared
with those, so one that reports a running story gets that story's id). The story index
is read by day, so a run reads the recent window it needs, not the whole history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.fileio import EmptyMatchTreatment, MatchAll
from apache_beam.io.filesystems import FileSystems

from storywire.schemas import TABLES, schema_problem
from storywire.transforms.parquet import day_of, table_files
from storywire.transforms.vectors import candidate_keys


@dataclass(frozen=True)
class StoredArticle:
    """An article of an earlier run, as the story index keeps it."""

    article_id: str
    published_at: int | None
    simhash: int
    story_vector: bytes
    dup_group_id: str
    story_id: str


def stored_vector(entry: StoredArticle) -> tuple:
    """A stored article as a story vector: (article_id, published_at, packed, keys)."""
    return (entry.article_id, entry.published_at, entry.story_vector,
            candidate_keys(entry.story_vector))


class StoredTableError(Exception):
    """A file of a stored table that this version cannot use: written by another version of
    storywire, or damaged. The run stops before its commit, so the tables stay as they
    were; the message names the file and what is wrong with it."""

    PREFIX = "stored table file "

    def __init__(self, path: str, problem: str):
        super().__init__(f"{self.PREFIX}{path}: {problem} (written by another version of "
                         "storywire, or damaged)")


def read_rows(path: str, table: str, columns: list[str] | None = None) -> list[dict]:
    """The rows of one Parquet file of `table` (any Beam filesystem), times as
    microseconds. The file's schema is checked against the table's first: every file is,
    whatever columns are read, so a file later queries would trip over stops the run."""
    try:
        with FileSystems.open(path) as handle:
            parquet = pq.ParquetFile(handle)
            problem = schema_problem(table, parquet.schema_arrow)
            if problem:
                raise StoredTableError(path, problem)
            data = parquet.read(columns=columns)
    except (pa.ArrowException, OSError) as err:
        raise StoredTableError(path, f"not a readable Parquet file: {err}") from None
    return _times_as_micros(data).to_pylist()


def check_stored_tables(output: str) -> None:
    """Raise StoredTableError for the first file of a table in `output` that this version
    cannot use, from the files' footers (about 0.1 ms a file on a local disk), before a
    run starts. The run checks each file it reads again (`read_rows`); this finds them
    all up front, with a one-line message instead of a worker's traceback."""
    for table in TABLES:
        for path in table_files(output, table):
            try:
                with FileSystems.open(path) as handle:
                    problem = schema_problem(table, pq.read_schema(handle))
            except (pa.ArrowException, OSError) as err:
                problem = f"not a readable Parquet file: {err}"
            if problem:
                raise StoredTableError(path, problem)


def _times_as_micros(table: pa.Table) -> pa.Table:
    for i, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.int64()))
    return table


def table_pattern(output: str, table: str, partition: str | None = None) -> str:
    folder = FileSystems.join(output, table)
    if partition:
        return FileSystems.join(folder, partition, "*.parquet")
    return folder.rstrip("/") + "/**.parquet"


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


class _ReadFiles(beam.PTransform):
    """File patterns (allowed to match nothing) to the rows of the files of `table` they
    match."""

    def __init__(self, table: str, columns: list[str] | None = None):
        super().__init__()
        self._table = table
        self._columns = columns

    def expand(self, patterns):
        table, columns = self._table, self._columns
        return (
            patterns
            | "Match" >> MatchAll(EmptyMatchTreatment.ALLOW)
            | "Paths" >> beam.Map(lambda metadata: metadata.path)
            | "Spread" >> beam.Reshuffle()
            | "ReadRows" >> beam.FlatMap(read_rows, table, columns)
        )


class ReadStoredTable(beam.PTransform):
    """The rows of one table already in `output` (no rows if there is none yet)."""

    def __init__(self, output: str, table: str, columns: list[str] | None = None):
        super().__init__()
        self._pattern = table_pattern(output, table)
        self._table = table
        self._columns = columns

    def expand(self, pbegin):
        return (pbegin
                | "Pattern" >> beam.Create([self._pattern])
                | "Read" >> _ReadFiles(self._table, self._columns))


class ReadStoryIndex(beam.PTransform):
    """New articles to the StoredArticles of the index days near theirs.

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
        column = TABLES["story_index"].partition_column
        return (
            articles
            | "Days" >> beam.Map(
                lambda a: day_of(a.published_at if a.published_at is not None else ingested_at))
            | "DistinctDays" >> beam.Distinct()
            | "NearDays" >> beam.FlatMap(index_days, window_days)
            | "DistinctNearDays" >> beam.Distinct()
            | "Patterns" >> beam.Map(
                lambda day: table_pattern(output, "story_index", f"{column}={day}"))
            | "Read" >> _ReadFiles("story_index")
            | "Entries" >> beam.Map(lambda row: StoredArticle(
                row["article_id"], row["published_at"], row["simhash"], row["story_vector"],
                row["dup_group_id"], row["story_id"]))
        )

