"""Arrow schemas of every table storywire writes: the one place for names, types and docs.

Types are chosen so that DuckDB, Polars, pandas, Spark and BigQuery read them as they are:
no unsigned integers, timestamps in microseconds, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
# Hive partition column of the articles table, and its value for rows without a date
# (the Hive convention, read as NULL by DuckDB, Polars, pyarrow and Spark).
PARTITION_COLUMN = "published_date"
NO_DATE_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


ARTICLES = pa.schema(
    [
        _field("article_id", pa.string(), "A JSONL record's `id` when given; else a stable hash of its url, else of its title, published and body (never of its place in the file, so a rewritten feed keeps its ids); for a .txt or .html file, of its path.", False),
        _field("input_uri", pa.string(), "The file the article was read from (a byte of its name that is not UTF-8 as \\xNN).", False),
        _field("line", pa.int64(), "Line number in a JSONL file (1-based); in a WARC file, the byte offset of the record (in a .warc.gz, of its gzip member); null for .txt and .html files."),
        _field("url", pa.string(), "The article's URL, when the record gives one."),
        _field("source", pa.string(), "The publisher: the record's `source`, else the page's site name, else the URL's host."),
        _field("title", pa.string(), "The record's `title`, else the headline found in the page or text."),
        _field("author", pa.string(), "Byline found in the page or text."),
        _field("site_name", pa.string(), "The site's own name, as the page gives it (HTML only)."),
        _field("language", pa.string(), "ISO 639-1 code of the body's language: the page's declared language, else detected from the text."),
        _field("published_at", TIMESTAMP, "Publication time, UTC: the record's `published`, else the date found in the page or text."),
        _field("date_source", pa.string(), "Where published_at came from: `record` (the JSONL field), `html` (the page's metadata or text, by trafilatura/htmldate), `text` (a header line of copied text); null without a date."),
        _field("text", pa.string(), "The clean article body; paragraphs separated by a blank line.", False),
        _field("simhash", pa.int64(), "64-bit simhash of the normalised body (word bigrams), the 64 bits read as a signed integer.", False),
        _field("content_hash", pa.string(), "Hex digest of the normalised body words: equal for exact copies.", False),
        _field("dup_group_id", pa.string(), "Near-duplicate group: articles within a few simhash bits of each other (copies, syndicated versions).", False),
        _field("story_id", pa.string(), "The news event the article reports; shared by copies, updates and rewrites.", False),
        _field("is_canonical", pa.bool_(), "True for exactly one article per story: the story's canonical article.", False),
        _field("ingested_at", TIMESTAMP, "When the run that wrote this row started, UTC.", False),
    ]
)

STORIES = pa.schema(
    [
        _field("story_id", pa.string(), "The story.", False),
        _field("canonical_article_id", pa.string(), "Its canonical article: earliest published, then longest text, then smallest article_id.", False),
        _field("title", pa.string(), "The canonical article's title, else the first title among the story's articles in canonical order."),
        _field("first_published_at", TIMESTAMP, "Earliest publication time among the story's articles."),
        _field("last_published_at", TIMESTAMP, "Latest publication time among the story's articles."),
        _field("article_count", pa.int64(), "Articles in the story.", False),
        _field("source_count", pa.int64(), "Distinct sources among them.", False),
        _field("sources", pa.list_(pa.string()), "The distinct sources, sorted.", False),
    ]
)

REJECTS = pa.schema(
    [
        _field("input_uri", pa.string(), "The input path or file the bad input came from (a byte of its name that is not UTF-8 as \\xNN).", False),
        _field("line", pa.int64(), "Line number in a JSONL file (1-based), or byte offset in a WARC file, when there is one."),
        _field("article_id", pa.string(), "The article id, when it was known."),
        _field("stage", pa.string(), "Where it was rejected: match, read, decode, parse, dedupe or clean.", False),
        _field("reason", pa.string(), "Why, in words.", False),
        _field("excerpt", pa.string(), "The start of the bad input, for a person to look at."),
    ]
)

# What a later run compares its new articles with: a row per article and per story it was
# given (a later run may move it), partitioned by the day of its date (or, undated, of its
# ingestion), so a run reads only the days near its new articles' days.
INDEX_PARTITION_COLUMN = "index_date"
STORY_INDEX = pa.schema(
    [
        _field("article_id", pa.string(), "The article.", False),
        _field("published_at", TIMESTAMP, "Its publication time, UTC, when known."),
        _field("ingested_at", TIMESTAMP, "When the run that wrote it started, UTC: the day of undated articles.", False),
        _field("simhash", pa.int64(), "Its simhash, as in the articles table.", False),
        _field("story_vector", pa.binary(), "Its TF-IDF story vector, packed (term ids then weights).", False),
        _field("dup_group_id", pa.string(), "Its near-duplicate group, as in the articles table.", False),
        _field("story_id", pa.string(), "Its story from `assigned_at` on: the row with the latest `assigned_at` of an article holds its current story.", False),
        _field("assigned_at", TIMESTAMP, "When the run that gave it this story started, UTC: its ingestion, or a later run that moved it to another story.", False),
        _field("text_length", pa.int64(), "Characters in its text (the canonical rule prefers the longest).", False),
        _field("title", pa.string(), "Its title, as in the articles table."),
        _field("source", pa.string(), "Its source, as in the articles table."),
    ]
)

# Not a table of the output: the rows a run stages as it cleans (stage.py), which its last
# step completes with their tags into articles and story-index rows. The articles columns a
# run decides later are left out; the story vector is kept for the index.
_DECIDED_LATER = ("dup_group_id", "story_id", "is_canonical", "ingested_at")
STAGED_ARTICLES = pa.schema(
    [f for f in ARTICLES if f.name not in _DECIDED_LATER]
    + [STORY_INDEX.field("story_vector")]
)


@dataclass(frozen=True)
class Table:
    schema: pa.Schema
    partition_column: str | None   # Hive partition folder name, or None
    partition_times: tuple[str, ...]  # the first of these time columns that is set gives the day
    sort_columns: tuple[str, ...]  # order of the rows within a file


TABLES: dict[str, Table] = {
    "articles": Table(ARTICLES, PARTITION_COLUMN, ("published_at",), ("article_id",)),
    "stories": Table(STORIES, None, (), ("story_id",)),
    "rejects": Table(REJECTS, None, (), ("input_uri", "line", "stage")),
    "story_index": Table(STORY_INDEX, INDEX_PARTITION_COLUMN, ("published_at", "ingested_at"),
                         ("article_id",)),
}


def schema_problem(table: str, found: pa.Schema) -> str | None:
    """What keeps a file with schema `found` from being part of `table` as this version
    writes it: a column missing, of another type, or not of the table; None if nothing."""
    spec = TABLES[table]
    for expected in spec.schema:
        index = found.get_field_index(expected.name)
        if index < 0:
            return f"column {expected.name} is missing"
        if not found.field(index).type.equals(expected.type):
            return f"column {expected.name} is {found.field(index).type}, not {expected.type}"
    for name in found.names:
        if name not in spec.schema.names and name != spec.partition_column:
            return f"column {name} is not a column of the {table} table"
    return None


def null_problem(table: str, null_counts: dict[str, int]) -> str | None:
    """What is wrong with a file of `table` whose columns hold `null_counts` empty values:
    one in a column the table declares never empty (an id, a count); None if nothing."""
    for field in TABLES[table].schema:
        count = null_counts.get(field.name, 0)
        if not field.nullable and count:
            return (f"column {field.name} has {count} empty value{'s' * (count > 1)}, "
                    "where the table allows none")
    return None


def describe(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """(column, type, doc) of each field, as `storywire schema` prints them."""
    return [
        (f.name, str(f.type), (f.metadata or {}).get(b"doc", b"").decode())
        for f in schema
    ]
