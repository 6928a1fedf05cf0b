"""The articles and story-index tables, from the staged rows and the run's tags.

Cleaning staged every article's row (clean/stage.py); the run decided each kept article's
dup group, story and whether it is canonical. Here the tags go to the files: they are
grouped by staged file (small elements: ids and tags), staged files are packed into output
files of about `rows_per_file` rows per partition, and each output file is written by
reading its staged files and adding the tags. Article text is read from the staged files
once, by the worker that writes it out, and never shuffled.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from storywire.transforms.clean.stage import StagedArticle
from storywire.transforms.copies.neardup import dup_group_id
from storywire.transforms.metrics import ARTICLES_NEW, FILES_WRITTEN, counter
from storywire.transforms.records import Article, stable_id, storable_text
from storywire.transforms.write.assemble import article_row, index_row
from storywire.transforms.write.parquet import (
    StagedFile,
    keyed_file_name,
    partition_of,
    run_name,
    to_arrow,
    write_parquet,
)
from storywire.transforms.write.stored import times_as_micros


@dataclass(frozen=True, order=True)
class RowTags:
    """What the run decided of one staged row, and which row it is."""

    article_id: str
    input_uri: str  # as stored (storable_text)
    line: int
    dup_group_id: str
    story_id: str
    is_canonical: bool


class RowPlace(NamedTuple):
    """Where a kept article's row is staged (its file, and the origin the row is matched
    by): all the tag join needs of a StagedArticle, whose vector and title would otherwise
    cross the shuffle again."""

    staged: str
    input_uri: str
    line: int


def row_place(article: StagedArticle) -> tuple[str, RowPlace]:
    return article.article_id, RowPlace(article.staged, storable_text(article.input_uri),
                                        article.line or 0)


@dataclass(frozen=True)
class Piece:
    """Rows [start, end) of a staged file's tagged rows (in RowTags order), bound for the
    output file `key` of `partition`."""

    staged: str
    start: int
    end: int
    partition: str
    key: str


def staged_partition(path: str) -> str:
    """The partition of a staged file: the folder it is staged in."""
    return path.rsplit("/", 2)[-2]


def pack(partition: str, files: list[tuple[str, int]], rows_per_file: int) -> list[Piece]:
    """Staged files of one partition (path, tagged rows) to pieces of output files of
    `rows_per_file` rows (the last one fewer), in path order: the same files make the same
    output files."""
    pieces: list[Piece] = []
    file_number, room = 0, rows_per_file
    for path, rows in sorted(files):
        start = 0
        while start < rows:
            take = min(room, rows - start)
            pieces.append(Piece(path, start, start + take, partition,
                                stable_id(partition, file_number)))
            start += take
            room -= take
            if room == 0:
                file_number, room = file_number + 1, rows_per_file
    return pieces


def _row_tags(joined):
    """(staged file, RowTags) of a kept article: every one has exactly one story tag."""
    article_id, grouped = joined
    dup_group = grouped["dup"][0] if grouped["dup"] else dup_group_id(article_id)
    for place in grouped["article"]:
        ((story_id, is_canonical),) = grouped["tag"]
        yield place.staged, RowTags(article_id, place.input_uri, place.line, dup_group,
                                    story_id, is_canonical)


def _pieces(keyed, rows_per_file: int):
    partition, files = keyed
    for piece in pack(partition, list(files), rows_per_file):
        yield piece.staged, piece


def _rows_of_pieces(joined):
    _, grouped = joined
    (tags,) = grouped["tags"] or [[]]
    tags = sorted(tags)
    for piece in grouped["piece"]:
        yield (piece.partition, piece.key), (piece.staged, tags[piece.start:piece.end])


class _WriteFiles(beam.DoFn):
    """One output file of articles and its story-index rows, from staged files and tags."""

    def __init__(self, staging: str, ingested_at: int):
        self._staging = staging
        self._ingested_at = ingested_at
        self.articles = counter(ARTICLES_NEW)
        self.files = counter(FILES_WRITTEN)

    def process(self, keyed):
        (partition, key), parts = keyed
        rows, index = [], defaultdict(list)
        for staged, tags in parts:
            wanted = {(t.article_id, t.input_uri, t.line): t for t in tags}
            with FileSystems.open(staged) as handle:
                staged_rows = times_as_micros(pq.read_table(handle)).to_pylist()
            for staged_row in staged_rows:
                # Each tag is used once: the same input read twice (a file named by two
                # --input paths) stages the same row twice, one of them rejected.
                tag = wanted.pop((staged_row["article_id"], staged_row["input_uri"],
                                  staged_row["line"] or 0), None)
                if tag is None:
                    continue  # a duplicate of a kept row, or in another piece
                packed = staged_row.pop("story_vector")
                row = article_row(Article(**staged_row), tag.dup_group_id,
                                  tag.story_id, tag.is_canonical, self._ingested_at)
                rows.append(row)
                index_entry = index_row(row, packed)
                index[partition_of("story_index", index_entry)].append(index_entry)
            if wanted:  # never: a kept article's row is in the file its summary names
                raise ValueError(f"{len(wanted)} tagged row(s) not found in {staged}")
        run = run_name(self._staging)
        for table, partition_rows in (("articles", {partition: rows}), ("story_index", index)):
            for where, table_rows in partition_rows.items():
                path = FileSystems.join(self._staging, table,
                                        keyed_file_name(where, run, key))
                write_parquet(path, to_arrow(table, table_rows))
                self.files.inc()
                yield StagedFile(table, path)
        self.articles.inc(len(rows))


class WriteArticleTables(beam.PTransform):
    """(StagedArticles kept by the run, (id, dup_group_id) of articles with copies, (id,
    (story_id, is_canonical)) tags) to the staged files of the articles and story-index
    tables, as (table, path)."""

    def __init__(self, staging: str, rows_per_file: int, ingested_at: int):
        super().__init__()
        self._staging = staging
        self._rows_per_file = rows_per_file
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        articles, dup_groups, tags = pcolls
        per_file = (
            {"article": articles | "ById" >> beam.Map(row_place),
             "dup": dup_groups, "tag": tags}
            | "JoinTags" >> beam.CoGroupByKey()
            | "ByStagedFile" >> beam.FlatMap(_row_tags)
            | "PerStagedFile" >> beam.GroupByKey()
            | "Listed" >> beam.MapTuple(lambda path, tags: (path, list(tags))))
        pieces = (
            per_file
            | "Sizes" >> beam.MapTuple(lambda path, tags: (staged_partition(path),
                                                           (path, len(tags))))
            | "PerPartition" >> beam.GroupByKey()
            | "Pack" >> beam.FlatMap(_pieces, self._rows_per_file))
        return (
            {"tags": per_file, "piece": pieces}
            | "JoinPieces" >> beam.CoGroupByKey()
            | "ByOutputFile" >> beam.FlatMap(_rows_of_pieces)
            | "PerOutputFile" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteFiles(self._staging, self._ingested_at)))
