"""Clean articles staged to Parquet where they are cleaned: the text goes no further.

What a run shuffles (to find copies, group stories, keep one record per id) is a
StagedArticle: the article's id, where its row is staged, its fingerprint, story vector
and the few fields the story rules need. The rows themselves wait in staged files (each
holds rows of one partition, from one bundle) until the final step joins each file with
its tags (write/articles.py).
On the local runner every shuffled element passes through the main process: with the text
left out, what it holds is a few hundred bytes an article, whatever their length.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from storywire.schemas import STAGED_ARTICLES
from storywire.transforms.metrics import SKIPPED_ALREADY_STORED, counter
from storywire.transforms.records import (
    Article,
    ArticleSummary,
    RawRecord,
    excerpt,
    stable_id,
    storable_row,
)
from storywire.transforms.stories.vectors import LanguageWeights, StoryVector, vectorise
from storywire.transforms.write.parquet import partition_of, write_parquet
from storywire.transforms.write.stored import StoredIds

STAGED_DIR = "_cleaned"
# A staged file is written when its partition has this many rows, or when the bundle's
# buffered text reaches STAGE_BYTES (then every partition's rows): what a worker holds.
STAGE_ROWS = 5_000
STAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class StagedArticle:
    """An article as the run's shuffles carry it: no text, and where its row is staged."""

    article_id: str
    input_uri: str
    line: int | None
    staged: str  # the staged Parquet file that holds its row
    simhash: int
    text_length: int
    title: str | None
    source: str | None
    vector: StoryVector
    excerpt: str | None  # the start of its text, for a reject row if its id is a duplicate

    @property
    def published_at(self) -> int | None:
        return self.vector.published_at

    def summary(self) -> ArticleSummary:
        return ArticleSummary(self.article_id, self.published_at, self.text_length,
                              self.title, self.source)


def staged_row(article: Article, vector: StoryVector) -> dict:
    """The staged-file row of a clean article: its article-table columns and its vector."""
    row = {name: getattr(article, name) for name in STAGED_ARTICLES.names if name != "story_vector"}
    row["story_vector"] = vector.packed
    # A name that is not UTF-8 is stored escaped, as in every table (storable_text).
    return storable_row(row)


def staged_file(staging: str, partition: str, rows: list[dict]) -> str:
    """The path of the staged file of `rows`, from their origins: a retried bundle writes
    the same rows to the same file."""
    name = stable_id(*sorted(f"{r['input_uri']}\x1f{r['line']}" for r in rows))
    return FileSystems.join(staging, STAGED_DIR, partition, f"{name}.parquet")


class _SkipStored(beam.DoFn):
    """Records whose article_id an earlier run wrote are skipped before they are cleaned:
    those of the side input, or of the file `saved`, and those an earlier version stored
    under another id (`stored_as`)."""

    def __init__(self, saved: str | None = None):
        self.skipped = counter(SKIPPED_ALREADY_STORED)
        self._saved = saved

    def setup(self):
        self._saved_ids = StoredIds.load(self._saved) if self._saved else None

    def process(self, record: RawRecord, stored_ids: StoredIds | None = None):
        stored = stored_ids if self._saved_ids is None else self._saved_ids
        if record.article_id in stored or (record.stored_as and record.stored_as in stored):
            self.skipped.inc()
            return
        yield record


class _Stage(beam.DoFn):
    """Clean articles to staged files, and a StagedArticle for each (with its vector)."""

    def __init__(self, staging: str, language: str):
        self._staging = staging
        self._language = language

    def setup(self):
        self._weights = LanguageWeights(self._language)

    def start_bundle(self):
        # Per partition, the rows held and their StagedArticles (which name the file later).
        self._held: dict[str, list[tuple[dict, StagedArticle]]] = defaultdict(list)
        self._bytes = 0

    def process(self, article: Article):
        vector = vectorise(article, self._weights)
        partition = partition_of("articles", {"published_at": article.published_at})
        self._held[partition].append((staged_row(article, vector), StagedArticle(
            article.article_id, article.input_uri, article.line, "", article.simhash,
            len(article.text), article.title, article.source, vector, excerpt(article.text))))
        self._bytes += len(article.text)
        if self._bytes >= STAGE_BYTES:
            yield from self._flush(list(self._held))
        elif len(self._held[partition]) >= STAGE_ROWS:
            yield from self._flush([partition])

    def finish_bundle(self):
        for staged in self._flush(list(self._held)):
            yield WindowedValue(staged, MIN_TIMESTAMP, [GlobalWindow()])

    def _flush(self, partitions: list[str]):
        for partition in partitions:
            held = self._held.pop(partition)
            rows = [row for row, _ in held]
            path = staged_file(self._staging, partition, rows)
            write_parquet(path, pa.Table.from_pylist(rows, schema=STAGED_ARTICLES))
            self._bytes -= sum(summary.text_length for _, summary in held)
            for _, summary in held:
                yield replace(summary, staged=path)


class StageArticles(beam.PTransform):
    """Clean articles to staged files under `staging`; outputs their StagedArticles."""

    def __init__(self, staging: str, language: str):
        super().__init__()
        self._staging = staging
        self._language = language

    def expand(self, articles):
        return articles | beam.ParDo(_Stage(self._staging, self._language))


class SkipStored(beam.PTransform):
    """Raw records to those whose ids are not stored yet. `stored_ids`: the view of one
    StoredIds that ReadStoredIds gives, or the path of a file of them that SavedStoredIds
    keeps (a run in parts), which each worker maps into memory instead of receiving a
    copy."""

    def __init__(self, stored_ids: beam.pvalue.AsSingleton | str):
        super().__init__()
        self._stored_ids = stored_ids

    def expand(self, records):
        if isinstance(self._stored_ids, str):
            return records | beam.ParDo(_SkipStored(self._stored_ids))
        return records | beam.ParDo(_SkipStored(), self._stored_ids)
