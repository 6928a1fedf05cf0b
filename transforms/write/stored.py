"""What earlier runs left in the output folder, read back by the next run.

A run into a folder that already holds tables reads three things from it: the ids of the
articles already written (their records are skipped), the story index of the days near
its new articles' days (new articles are compared with those, so one that reports a
running story gets that story's id), and the assignments of the stories those days hold
(their rows of the stories table are made from them when the run changes them). The story
index is read by day, so a run reads the recent window it needs, not the whole history;
the assignments are filtered file by file as they are read.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass
from datetime import date

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from storywire.schemas import NO_DATE_PARTITION, TABLES, null_problem, schema_problem
from storywire.transforms.paths import files_under, is_local
from storywire.transforms.records import ArticleSummary, storable_row
from storywire.transforms.stories.continuation import (
    Assignment,
    latest,
)
from storywire.transforms.stories.vectors import StoryVector, candidate_keys
from storywire.transforms.write.parquet import keyed_name, table_files, written_by_stream


@dataclass(frozen=True)
class StoredArticle:
    """An article of an earlier run, as the story index keeps it: its latest row."""

    article_id: str
    published_at: int | None
    ingested_at: int
    simhash: int
    story_vector: bytes
    dup_group_id: str
    story_id: str
    assigned_at: int
    text_length: int
    title: str | None
    source: str | None

    @classmethod
    def of(cls, row: dict) -> StoredArticle:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def row(self) -> dict:
        """The story-index row of this entry."""
        return storable_row(asdict(self))

    def summary(self) -> ArticleSummary:
        return ArticleSummary(self.article_id, self.published_at, self.text_length,
                              self.title, self.source)


def stored_vector(entry: StoredArticle) -> StoryVector:
    """A stored article as a story vector."""
    return StoryVector(entry.article_id, entry.published_at, entry.story_vector,
                       candidate_keys(entry.story_vector))


class StoredTableError(Exception):
    """A stored table, or a file of one, that this version cannot use: written by another
    version of storywire, or damaged. The run stops before its commit, so the tables stay
    as they were; the message names the file (or folder) and what is wrong with it."""

    PREFIX = "stored table "
    CAUSES = {"other": "written by another version of storywire, or damaged",
              "copy": "a copy: move one of the two aside",
              "missing": "the output is missing a file: deleted, or left out of a copy?",
              "unreadable": "this user may not read it"}

    def __init__(self, path: str, problem: str, cause: str = "other"):
        # On one line: Arrow's messages may hold line breaks (and any byte of a damaged
        # page), and the run finds this message in a worker's error by its one line.
        problem = " ".join(problem.split())
        super().__init__(f"{self.PREFIX}{path}: {problem} ({self.CAUSES[cause]})")


def unreadable_problem(err: BaseException) -> tuple[str, str]:
    """(problem, cause) of a stored file that could not be read: for lack of permission, or
    no readable Parquet."""
    if isinstance(err, PermissionError) or "Permission denied" in str(err):
        return "cannot be read: permission denied", "unreadable"
    return f"not a readable Parquet file: {err}", "other"


def read_rows(path: str, table: str, columns: list[str] | None = None) -> list[dict]:
    """The rows of one Parquet file of `table` (any Beam filesystem), times as
    microseconds. The file's schema is checked against the table's first: every file is,
    whatever columns are read, so a file later queries would trip over stops the run."""
    return read_arrow(path, table, columns).to_pylist()


def read_arrow(path: str, table: str, columns: list[str] | None = None) -> pa.Table:
    """`read_rows`, as an Arrow table."""
    try:
        with FileSystems.open(path) as handle:
            parquet = pq.ParquetFile(handle)
            problem = schema_problem(table, parquet.schema_arrow)
            if problem:
                raise StoredTableError(path, problem)
            data = parquet.read(columns=columns)
    except (pa.ArrowException, OSError) as err:
        raise StoredTableError(path, *unreadable_problem(err)) from None
    problem = null_problem(table, {c.name: data.column(c.name).null_count for c in data.schema})
    if problem:
        raise StoredTableError(path, problem)
    return times_as_micros(data)


def required_null_counts(parquet: pq.ParquetFile, table: str) -> dict[str, int]:
    """Empty values in each column that `table` allows none in: as the file's footer counts
    them, or, for a column the footer does not count (written without statistics; a list
    column, whose count is of its items), by reading the column."""
    footer = parquet.metadata
    groups = [footer.row_group(g) for g in range(footer.num_row_groups)]
    counted: dict[str, int] = {}
    to_read = []
    for field in TABLES[table].schema:
        if field.nullable or field.name not in parquet.schema_arrow.names:
            continue
        counts = [_footer_null_count(group, field.name) for group in groups]
        if None in counts:
            to_read.append(field.name)
        else:
            counted[field.name] = sum(counts)
    if to_read:
        data = parquet.read(columns=to_read)
        counted.update((name, data.column(name).null_count) for name in to_read)
    return counted


def _footer_null_count(row_group, name: str) -> int | None:
    """The empty values of a flat column in one row group, if the footer counts them."""
    for index in range(row_group.num_columns):
        column = row_group.column(index)
        if column.path_in_schema == name:
            stats = column.statistics
            return stats.null_count if stats is not None and stats.has_null_count else None
    return None  # not a flat column


PAIRED_TABLES = ("articles", "story_index")


def check_stored_tables(output: str, settled: bool = False) -> None:
    """Raise StoredTableError for the first problem with the tables of a local `output`, before
    a run starts: articles without their story index or the reverse, a file where
    DuckDB's Hive reading does not expect one, or a file whose footer does not hold the
    table's schema (about 0.1 ms a file). The run checks each file it reads again
    (`read_rows`); this finds them all up front, with a one-line message instead of a
    worker's traceback.

    `settled`: no commit was under way (the caller holds the output's lock and has
    finished interrupted commits, or reads again if one was), so files a run writes
    together are also checked to be there together (`unpaired_file`); during a commit
    they appear one by one."""
    files = {table: table_files(output, table) for table in TABLES}
    for table in TABLES:
        folder = table_folder(output, table)
        if os.path.lexists(folder) and not os.path.isdir(folder):
            raise StoredTableError(folder, "is not a folder")
        # Articles and their story index are written together, by runs and streams alike;
        # stories are rebuilt from the index, and a stream writes rejects only when it has
        # some, so either may be missing.
        if table in PAIRED_TABLES and not files[table] and any(files[t] for t in PAIRED_TABLES):
            raise StoredTableError(folder, "has no file, while the other tables have theirs")
        with_rows = []
        for path in files[table]:
            problem = layout_problem(table, path[len(folder):].lstrip("/"))
            if problem:
                raise StoredTableError(path, problem)
            cause = "other"
            try:
                with FileSystems.open(path) as handle:
                    parquet = pq.ParquetFile(handle)
                    problem = (schema_problem(table, parquet.schema_arrow)
                               or null_problem(table, required_null_counts(parquet, table)))
                    if parquet.metadata.num_rows:
                        with_rows.append(path)
            except (pa.ArrowException, OSError) as err:
                problem, cause = unreadable_problem(err)
            if problem:
                raise StoredTableError(path, problem, cause)
        copy = first_copy(with_rows)
        if copy:
            raise StoredTableError(copy[1], f"holds the same bytes as {copy[0]}: its rows "
                                            "would count twice (a backup put back?)", "copy")
    unpaired = unpaired_file(files) if settled else None
    if unpaired:
        path, other = unpaired
        raise StoredTableError(path, f"the {other} file of the same name, written with it, "
                                     "is not there", "missing")


def unpaired_file(files: dict[str, list[str]]) -> tuple[str, str] | None:
    """(path, other table) of the first file of `files` (the paths of each table) that a
    batch run wrote together with a file of the other paired table, under the same name
    (an articles file and the story-index rows of its articles: write/articles.py), whose
    partner is missing; None if every such file has its partner. Without this, articles
    whose index file is gone would never be compared again, and the index of an articles
    file gone would keep counting its articles."""
    names = {table: {keyed_name(path) for path in files[table]} for table in PAIRED_TABLES}
    for table, other in (PAIRED_TABLES, PAIRED_TABLES[::-1]):
        for path in sorted(files[table]):
            name = keyed_name(path)
            if name is not None and name not in names[other]:
                return path, other
    return None


def first_copy(paths: list[str]) -> tuple[str, str] | None:
    """Two local files of the same bytes among `paths` (the first found), or None. No two
    files a run writes hold the same rows, so such a pair is a copy. Only files of the same
    size are read."""
    by_size: dict[int, list[str]] = {}
    for path in paths:
        by_size.setdefault(os.path.getsize(path), []).append(path)
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        seen: dict[str, str] = {}
        for path in same_size:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digest = digest.hexdigest()
            if digest in seen:
                return seen[digest], path
            seen[digest] = path
    return None


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def layout_problem(table: str, relative: str) -> str | None:
    """What is wrong with where a file sits in its table (`relative` to the table's folder):
    a partitioned table's files sit in `<column>=<day>/` folders, the others' at the top;
    DuckDB and Polars, reading the folder as Hive partitions, fail on anything else."""
    spec = TABLES[table]
    parts = relative.split("/")
    if spec.partition_column is None:
        return None if len(parts) == 1 else "is in a folder of its own; the table has none"
    column, _, value = parts[0].partition("=")
    if len(parts) == 2 and column == spec.partition_column:
        if value == NO_DATE_PARTITION or _is_day(value):
            return None
        if _DAY.fullmatch(value):
            return f"is in the folder of a day that does not exist, {parts[0]}"
    return f"is not in a folder {spec.partition_column}=YYYY-MM-DD"


def _is_day(value: str) -> bool:
    """A day as a partition folder names it (2024-10-28), one that exists: DuckDB types
    the partition column of a table with any other as text instead of a date."""
    if not _DAY.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:  # 2024-13-45
        return False
    return True


def times_as_micros(table: pa.Table) -> pa.Table:
    for i, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.int64()))
    return table


def table_folder(output: str, table: str, partition: str | None = None) -> str:
    """The folder of a table's files, or of one of its partitions."""
    folder = FileSystems.join(output, table)
    return FileSystems.join(folder, partition) if partition else folder


class SpreadFiles(beam.PTransform):
    """Folders to the Parquet files in them, spread over the workers."""

    def expand(self, folders):
        return (folders
                | "List" >> beam.FlatMap(lambda folder: [p for p in files_under(folder)
                                                         if p.endswith(".parquet")])
                | "Spread" >> beam.Reshuffle())


def has_table(output: str, table: str) -> bool:
    """False for a local output without files of `table`; True otherwise (an object store's
    output is not listed while the graph is built)."""
    return not is_local(output) or bool(table_files(output, table))


class StoredFiles(beam.PTransform):
    """The files of one table already in `output`, spread over the workers (none if there
    is none yet).

    A local table with no file when the graph is built (a first run) is read by no step
    at all: the run holds the output's lock, so none appears before it commits. (An output
    on an object store is looked at by the job, not where the graph is built: a cloud job
    or template can be built offline.)"""

    def __init__(self, output: str, table: str):
        super().__init__()
        self._output = output
        self._table = table

    def expand(self, pbegin):
        if not has_table(self._output, self._table):
            return pbegin | "None" >> beam.Create([])
        return (pbegin
                | "Folder" >> beam.Create([table_folder(self._output, self._table)])
                | "Files" >> SpreadFiles())


class ReadStoredTable(beam.PTransform):
    """The rows of one table already in `output` (no rows if there is none yet)."""

    def __init__(self, output: str, table: str, columns: list[str] | None = None):
        super().__init__()
        self._output = output
        self._table = table
        self._columns = columns

    def expand(self, pbegin):
        return (pbegin
                | "Files" >> StoredFiles(self._output, self._table)
                | "ReadRows" >> beam.FlatMap(read_rows, self._table, self._columns))


# An article id as the runs' skip step holds it: 16 bytes of its hash. At a million stored
# articles that is 16 MB a worker where the ids as Python strings held about 150 MB; two ids
# sharing a hash are as unlikely as two articles sharing a 128-bit fingerprint.
ID_KEY_BYTES = 16


def id_key(article_id: str) -> bytes:
    return hashlib.blake2b(article_id.encode("utf-8", "surrogatepass"),
                           digest_size=ID_KEY_BYTES).digest()


def id_keys(ids: list[str]) -> np.ndarray:
    """The sorted keys of some article ids, as one array."""
    return np.sort(np.array([id_key(i) for i in ids], dtype=f"S{ID_KEY_BYTES}"))


class StoredIds:
    """The ids of the stored articles, as one sorted array of keys (built from one array
    a stored file): `in` tells whether an article id is stored."""

    def __init__(self, arrays: list[np.ndarray]):
        self._keys = np.sort(np.concatenate(arrays)) if arrays else id_keys([])

    @classmethod
    def load(cls, path: str) -> StoredIds:
        """Those of a file SavedStoredIds wrote, mapped from it (sorted already): the pages
        a look-up touches are read, and shared by the processes that map it."""
        ids = cls([])
        ids._keys = np.load(path, mmap_mode="r", allow_pickle=False)
        return ids

    @property
    def keys(self) -> np.ndarray:
        return self._keys

    def __contains__(self, article_id: str) -> bool:
        # Compared by NumPy, padded to the same 16 bytes (an item taken out of the array
        # would lose trailing zero bytes).
        key = np.array([id_key(article_id)], dtype=self._keys.dtype)
        left, right = np.searchsorted(self._keys, key, "left"), np.searchsorted(
            self._keys, key, "right")
        return bool(right[0] > left[0])

    def __len__(self) -> int:
        return len(self._keys)


class _AllIds(beam.CombineFn):
    """The id keys of each stored file to one StoredIds."""

    def create_accumulator(self):
        return []

    def add_input(self, arrays, keys):
        arrays.append(keys)
        return arrays

    def merge_accumulators(self, accumulators):
        return [keys for arrays in accumulators for keys in arrays]

    def extract_output(self, arrays):
        return StoredIds(arrays)


def file_id_keys(path: str) -> np.ndarray:
    """The sorted keys of the article ids in one file of the articles table."""
    return id_keys(read_arrow(path, "articles", ["article_id"]).column("article_id").to_pylist())


class SavedStoredIds:
    """The ids stored in `output`, kept in the local file `path` (NumPy's format) for the
    parts of a run in parts, each of which skips them (SkipStored(path)).

    Brought up to date before each part, by reading the ids of the articles files that
    were not there at the last update: the files earlier parts added, not every file of a
    table that grows as the parts commit. (A run's files are new files; articles are never
    taken out of the table.)"""

    def __init__(self, output: str, path: str):
        self._output, self.path = output, path
        self._seen: set[str] = set()
        self._keys = id_keys([])

    def update(self) -> int:
        """Add the ids of the files added since, and write the file; the number of ids."""
        added = [f for f in table_files(self._output, "articles") if f not in self._seen]
        self._keys = StoredIds([self._keys, *map(file_id_keys, added)]).keys
        self._seen.update(added)
        # A new file in the place of the old: a process that maps the old one keeps it.
        with open(self.path + ".new", "wb") as handle:
            np.save(handle, self._keys, allow_pickle=False)
        os.replace(self.path + ".new", self.path)
        return len(self._keys)


class ReadStoredIds(beam.PTransform):
    """The ids of the articles stored in `output`, as a side input of one StoredIds (empty
    in a first run). Built once, by one worker: each worker then holds one sorted array of
    16-byte keys while it skips stored records, not also the arrays it was built from."""

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, pbegin):
        return (pbegin
                | "Files" >> StoredFiles(self._output, "articles")
                | "Keys" >> beam.Map(file_id_keys)
                | "AllIds" >> beam.CombineGlobally(_AllIds()).as_singleton_view())


ASSIGNMENT_COLUMNS = ["article_id", "assigned_at", "story_id", "published_at", "text_length",
                      "title", "source"]


def assignment(row: dict) -> tuple[str, Assignment]:
    """(article_id, Assignment) of a story-index row read with ASSIGNMENT_COLUMNS."""
    summary = ArticleSummary(row["article_id"], row["published_at"], row["text_length"],
                             row["title"], row["source"])
    return row["article_id"], Assignment(row["assigned_at"], row["story_id"], summary)


def partition_folder(path: str) -> str:
    """The folder of a table's file: its partition's."""
    return FileSystems.split(path)[0]


def read_matching(path: str, table: str, column: str, wanted, columns: list[str]) -> list[dict]:
    """The rows of one file of `table` whose `column` is a key of `wanted` (every row when
    `wanted` is None), read with `columns`: rows that do not match are dropped in Arrow,
    before they become Python objects.

    The match is looked up in `wanted` itself, value by value: an Arrow `is_in` would
    build a hash set of all of `wanted` again for each file (7 ms a file at 50,000 stories,
    where the file's own values cost well under one)."""
    rows = read_arrow(path, table, sorted(set(columns) | {column}))
    if wanted is not None:
        keep = [value in wanted for value in rows.column(column).to_pylist()]
        rows = rows.filter(pa.array(keep, pa.bool_()))
    return rows.select(columns).to_pylist()


class ReadStoryMembers(beam.PTransform):
    """The StoredArticles of the window to {"members": the current (article_id,
    Assignment) of every stored article in their stories, "unlisted": the ids of stories
    among those that need a row though the run may change nothing in them}: what the
    rows of the stories the run touches are made from (the small columns of the story
    index only, not the vectors).

    An article's rows in the index are its first assignment and each move: the rows that
    name one of the stories find its articles, and all rows of those articles (in the
    partitions where they were found) then tell which assignment is current (one may
    have moved on to another story). The index's
    files are read one at a time and filtered as they are read. An output with a story
    index but no stories table (a stream's) is read whole, and every story is unlisted:
    the run makes the whole table.
    """

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, stored):
        p = stored.pipeline
        if not has_table(self._output, "story_index"):
            return {"members": p | "NoMembers" >> beam.Create([]),
                    "unlisted": p | "NoneUnlisted" >> beam.Create([])}
        index = table_folder(self._output, "story_index")
        stories = table_folder(self._output, "stories")
        whole = beam.pvalue.AsSingleton(
            p
            | "StoriesFolder" >> beam.Create([stories])
            | "HasNoTable" >> beam.Map(lambda folder: not any(
                path.endswith(".parquet") for path in files_under(folder))))
        wanted = beam.pvalue.AsDict(stored
                                    | "Stories" >> beam.Map(lambda s: s.story_id)
                                    | "DistinctStories" >> beam.Distinct()
                                    | "Wanted" >> beam.Map(lambda s: (s, None)))
        listed = (p
                  | "Index" >> beam.Create([index])
                  | "Files" >> beam.FlatMap(lambda folder: [
                      path for path in files_under(folder) if path.endswith(".parquet")]))
        files = listed | "Spread" >> beam.Reshuffle()
        found = (  # (partition folder, the articles of the wanted stories in one file)
            files
            | "ArticlesOfStories" >> beam.FlatMap(
                lambda path, wanted, whole: [(partition_folder(path), [
                    row["article_id"] for row in read_matching(
                        path, "story_index", "story_id", None if whole else wanted,
                        ["article_id"])])],
                wanted, whole)
            | "InFiles" >> beam.Filter(lambda found: bool(found[1])))
        articles = (found
                    | "Articles" >> beam.FlatMap(lambda found: found[1])
                    | "DistinctArticles" >> beam.Distinct()
                    | "Keyed" >> beam.Map(lambda article_id: (article_id, None)))
        # A batch run writes every row of an article, its moves too, in one partition (of
        # its date, else of the day it was ingested), so only the partitions where the
        # articles were found are read again. A stream may not: an undated article
        # delivered again after the job restarts gets a row on the new job's day. An index
        # a stream wrote to is read again whole.
        streamed = (listed
                    | "ByStream" >> beam.Map(written_by_stream)
                    | "FromStream" >> beam.CombineGlobally(any).as_singleton_view())
        partitions = (found
                      | "Partitions" >> beam.Keys()
                      | "DistinctPartitions" >> beam.Distinct()
                      | "PartitionKeys" >> beam.Map(lambda folder: (folder, None)))
        members = (
            files
            | "InPartitions" >> beam.Filter(
                lambda path, partitions, streamed: streamed
                or partition_folder(path) in partitions,
                beam.pvalue.AsDict(partitions), streamed)
            | "RowsOfArticles" >> beam.FlatMap(
                lambda path, articles: map(assignment, read_matching(
                    path, "story_index", "article_id", articles, ASSIGNMENT_COLUMNS)),
                beam.pvalue.AsDict(articles))
            | "Current" >> beam.CombinePerKey(latest)
            | "InStories" >> beam.Filter(
                lambda keyed, wanted, whole: whole or keyed[1].story_id in wanted,
                wanted, whole))
        unlisted = members | "Unlisted" >> beam.FlatMap(
            lambda keyed, whole: [keyed[1].story_id] if whole else [], whole)
        return {"members": members, "unlisted": unlisted}


def current_assignments(output: str) -> dict[str, Assignment]:
    """{article_id: its current Assignment} of a local or remote output's story index: the
    latest of each article's rows (file by file: a table whose rows all lack a date is one
    Hive partition of NULLs, which pyarrow's dataset reader cannot type)."""
    assigned: dict[str, list[Assignment]] = {}
    for path in table_files(output, "story_index"):
        for article_id, entry in map(assignment,
                                     read_rows(path, "story_index", ASSIGNMENT_COLUMNS)):
            assigned.setdefault(article_id, []).append(entry)
    return {article_id: latest(entries) for article_id, entries in assigned.items()}


def latest_rows(rows: pa.Table) -> pa.Table:
    """Each article's current row of story-index rows, in Arrow: its latest, as `latest`
    picks it (by assigned_at, then story_id)."""
    if not rows.num_rows:
        return rows
    rows = rows.sort_by([("article_id", "ascending"), ("assigned_at", "descending"),
                         ("story_id", "descending")])
    ids = rows.column("article_id")
    first = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).combine_chunks()
    return rows.filter(pa.concat_arrays([pa.array([True]), first]))


def current_story_table(output: str) -> pa.Table:
    """The article_id and current story_id of each article of an output: the articles
    table's story (as first assigned), replaced by the story-index assignment that is
    current. Worked out in Arrow: at a million articles, Python objects for every row of
    the index would hold several times the memory of the answer."""
    articles = read_columns(output, "articles", ["article_id", "story_id"])
    index = read_columns(output, "story_index", ["article_id", "assigned_at", "story_id"])
    if index.num_rows:
        current = latest_rows(index).select(["article_id", "story_id"])
        articles = articles.join(current, "article_id", join_type="left outer",
                                 right_suffix="_now")
        articles = articles.set_column(
            articles.schema.get_field_index("story_id"), "story_id",
            pc.coalesce(articles.column("story_id_now"), articles.column("story_id")))
    return articles.select(["article_id", "story_id"])


def current_story_ids(output: str) -> dict[str, str]:
    """{article_id: current story_id} of the articles of an output (current_story_table)."""
    table = current_story_table(output)
    return dict(zip(table.column("article_id").to_pylist(),
                    table.column("story_id").to_pylist()))


def read_columns(output: str, table: str, columns: list[str]) -> pa.Table:
    """Some columns of every file of a table of `output`, as one Arrow table (times as
    microseconds, as `read_arrow` gives them)."""
    empty = times_as_micros(pa.schema([TABLES[table].schema.field(c) for c in columns])
                            .empty_table())
    tables = [read_arrow(path, table, columns) for path in table_files(output, table)]
    return pa.concat_tables([t.cast(empty.schema) for t in tables] or [empty])


def current_story_rows(output: str) -> list[dict]:
    """The stories-table rows of an output's current stories, made from its story index,
    as a batch run writes them: for a stream's output, which has no stories table."""
    from storywire.transforms.stories.continuation import canonical_order
    from storywire.transforms.write.assemble import story_row

    members: dict[str, list[ArticleSummary]] = {}
    for current in current_assignments(output).values():
        members.setdefault(current.story_id, []).append(current.summary)
    return [story_row(story_id, sorted(summaries, key=canonical_order))
            for story_id, summaries in sorted(members.items())]
