"""The records that flow between steps, and the stable ids they carry."""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass

EXCERPT_CHARS = 200
# The tag of every reject output.
REJECTS = "rejects"
# The tag of the ReadSpans a reader outputs.
SPANS = "spans"


def stable_id(*parts: object) -> str:
    """A short hex id derived from content, the same on every worker and every run."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def record_id(url: str | None, title: str | None = None, published: str | None = None,
              body: str | None = None) -> str:
    """The article_id of a JSONL record that has no `id`, made from the record itself and
    never from where it stands in its file, so that a feed rewritten between runs (new
    records on top, one deleted) gives each record the id it had, and a rerun adds exactly
    the new ones: its url when it has one, else its title, date and body. Two identical
    records get one id (the second is a duplicate)."""
    if url:
        return stable_id("url", url)
    return stable_id("record", title, published, body)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match) -> str:
    code = ord(match.group())
    # U+DC80..U+DCFF is how Python keeps a byte that is not UTF-8 (a file name's, say):
    # written back as that byte's \xNN. Any other lone surrogate (from a JSON "\udXXX"
    # escape) as \uXXXX.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def storable_text(value: str) -> str:
    r"""`value` as valid UTF-8 text: lone surrogates, which Parquet (and Beam's coders)
    cannot encode, written as backslash escapes, so a file named b"bad\xff.txt" is stored
    as the text `bad\xff.txt` (a real name with that literal backslash reads the same)."""
    return _SURROGATE.sub(_escape_surrogate, value) if _SURROGATE.search(value) else value


def printable_name(value: str) -> str:
    r"""A file name for a line on the terminal: as stored (storable_text), its control
    characters (a newline, an escape sequence) written as backslash escapes."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in storable_text(value))


def shell_word(value: str) -> str:
    r"""A file name as one word to paste into a shell, naming that file: quoted as
    shlex.quote quotes it, or, when it holds control characters or bytes that are not
    UTF-8 (which a terminal would act on, or could not show), in the $'...' quoting of
    bash and zsh, those written as \xNN, byte for byte. A name that starts with "-" is
    written "./-name", or a command would take it for an option."""
    if value.startswith("-"):
        value = "./" + value
    if value.isprintable() and not _SURROGATE.search(value):
        return shlex.quote(value)
    out = []
    for ch in value:
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte of the name that is not UTF-8
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable():
            out.append("\\" + ch if ch in "\\'" else ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
    return "$'" + "".join(out) + "'"


def storable_row(row: dict) -> dict:
    """A table row with every text value (in lists too) made storable."""

    def fix(value):
        if isinstance(value, str):
            return storable_text(value)
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return {name: fix(value) for name, value in row.items()}


def excerpt(value: str | bytes | None, limit: int = EXCERPT_CHARS) -> str | None:
    """A short, printable excerpt of bad input for a reject row."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value[: limit * 4].decode("utf-8", "replace")
    value = "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in value[:limit])
    return value


@dataclass(frozen=True)
class ReadSpan:
    """Where a run read a file: the part from place `first` to place `last` (None: to the
    end), which the file starts with when `from_start` (then `first` is not a bound). A
    place is what the rejects table's `line` column holds: a JSONL line number, a WARC
    byte offset."""

    input_uri: str  # as the tables store it (storable_text)
    first: int = 1
    last: int | None = None
    from_start: bool = False

    @property
    def whole(self) -> bool:
        return self.from_start and self.last is None

    @classmethod
    def looked_up(cls, input_uri: str) -> ReadSpan:
        """What a run that was given `input_uri` (a path, folder or pattern) did with it
        as such: it looked up what it names, so a reject of the whole of it ("matched no
        files") is one it makes again if it still stands; its lines are another matter."""
        return cls(input_uri, first=1, last=0, from_start=True)

    def covers(self, line: int | None) -> bool:
        """Whether a reject at `line` (None: of the whole file) is of what was read. A
        reject of the whole file is of the part it starts with too: a file read in parts
        gives no such reject, and one read at all is there to read."""
        if line is None:
            return self.from_start
        return ((self.from_start or self.first <= line)
                and (self.last is None or line <= self.last))


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
    language: str | None = None  # as the record gives it (JSONL `language`), unchecked
    # Another id the record may be stored under: the one earlier versions gave it (a WARC
    # page's place in its file). Such a record is not stored again.
    stored_as: str | None = None


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
    # What the story vector weighs as the title, when not `title` (plain text: see
    # textclean.clean_page_text); not a column of any table.
    weighed_title: str | None = None


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
        return storable_row({
            "input_uri": self.input_uri,
            "line": self.line,
            "article_id": self.article_id,
            "stage": self.stage,
            "reason": self.reason,
            "excerpt": self.excerpt,
        })
