"""The records that flow between steps, and the stable ids they carry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

EXCERPT_CHARS = 200
# The tag of every reject output.
REJECTS = "rejects"


def stable_id(*parts: object) -> str:
    """A short hex id derived from content, the same on every worker and every run."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def excerpt(value: str | bytes | None, limit: int = EXCERPT_CHARS) -> str | None:
    """A short, printable excerpt of bad input for a reject row."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value[: limit * 4].decode("utf-8", "replace")
    value = "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in value[:limit])
    return value


@dataclass(frozen=True)
class RawRecord:
    """One input unit that parsed: a .txt or .html file, or one JSONL line."""

    article_id: str
    input_uri: str
    line: int | None
    kind: str  # "text" or "html": which cleaner reads `body`
    body: str
    url: str | None = None
    source: str | None = None
    title: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class Article:
    """A cleaned, fingerprinted article; published_at is microseconds since the epoch, UTC."""

    article_id: str
    input_uri: str
    line: int | None
    url: str | None
    source: str | None
    title: str | None
    author: str | None
    published_at: int | None
    text: str
    simhash: int = 0
    content_hash: str = ""
    site_name: str | None = None
    language: str | None = None
    date_source: str | None = None


@dataclass(frozen=True)
class ArticleSummary:
    """What the story step needs of an article: less to move than the whole text."""

    article_id: str
    published_at: int | None
    text_length: int
    title: str | None
    source: str | None

    @classmethod
    def of(cls, article: Article) -> ArticleSummary:
        return cls(article.article_id, article.published_at, len(article.text), article.title,
                   article.source)


@dataclass(frozen=True)
class Reject:
    """An input unit that did not become an article, and why."""

    input_uri: str
    line: int | None
    article_id: str | None
    stage: str
    reason: str
    excerpt: str | None = None

    def as_row(self) -> dict:
        return {
            "input_uri": self.input_uri,
            "line": self.line,
            "article_id": self.article_id,
            "stage": self.stage,
            "reason": self.reason,
            "excerpt": self.excerpt,
        }
