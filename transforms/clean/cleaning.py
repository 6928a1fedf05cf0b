"""Cleaning one raw record: trafilatura for HTML, our text cleaner for plain text.

Pure functions without Beam: the HTML cleaning child process (timelimit.py) imports only
this module, so it starts in a fraction of the time a Beam import takes."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from storywire.transforms.clean.dates import parse_date
from storywire.transforms.clean.pagetext import page_text, restore_dropped
from storywire.transforms.clean.textclean import (
    CleanText,
    clean_page_text,
    is_boilerplate,
    word_count,
)
from storywire.transforms.copies.fingerprint import content_hash, simhash64, words
from storywire.transforms.languages import in_weighed_scripts, weighed_languages, wordfreq_code
from storywire.transforms.records import Article, RawRecord, Reject, excerpt

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Fewer words than this are no article (a menu, a placeholder), documented in README.
MIN_ARTICLE_WORDS = 5
# trafilatura's date search returns only a day by default; ask for the time and zone too.
_DATE_PARAMS = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}


def extract_html(html: str, url: str | None = None) -> CleanText:
    """Body and metadata of a web page, by trafilatura. Paragraphs are separated by blank lines."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    tree = trafilatura.load_html(html)
    if tree is None:
        return CleanText("")
    doc = trafilatura.bare_extraction(
        tree,  # trafilatura works on a copy
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # Measured on real news pages (benchmarks/cleaning.py): precision mode drops the
        # link lists and teasers that default mode keeps, and loses no body.
        favor_precision=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if doc is None or not (doc.text or "").strip():
        return CleanText("")
    # trafilatura drops non-breaking spaces, joiners, direction marks and the like; they
    # are put back from the page (pagetext.py), so that stored text is what was published.
    *lines, title, author, site_name = restore_dropped(
        [*doc.text.split("\n"), doc.title, doc.author, doc.sitename], page_text(tree))
    # Widget lines trafilatura lets through ("Share", "READ ALSO: ...") go as in plain text.
    paragraphs = [p.strip() for p in lines if p.strip() and not is_boilerplate(p)]
    # trafilatura keeps the page's headline as the first line; it is the title, not body.
    if title and len(paragraphs) > 1 and _same_words(paragraphs[0], title):
        paragraphs = paragraphs[1:]
    return CleanText(
        text="\n\n".join(paragraphs),
        title=title or None,
        published=parse_date(doc.date),
        author=author or None,
        site_name=site_name or None,
        language=_language_code(doc.language),
    )


def _language_code(value: str | None) -> str | None:
    """"en", "en-US", "en_GB" -> "en"; anything else -> None."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


# Language is told from the start of the text: its cost grows with the length read, and on
# 2,088 development articles in seven languages the first 300 characters gave the same
# answer as the first 2,000 (200 did not, 15 times).
LANGUAGE_PREFIX_CHARS = 600


# A language told with less confidence than this is not told: made-up words, lists of
# names and links come out as some language at 0.3 to 0.6, while news text in the
# development sets (English, German, Spanish, French, Chinese, Arabic) is told at 0.79 or
# more. A wrong language would weigh an article's story terms in the wrong language.
MIN_LANGUAGE_CONFIDENCE = 0.7


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, by py3langid, among the languages whose words
    storywire weighs (transforms/languages.py; a feed in another language says so in its
    records or pages); None for text too short or too unlike any of them to tell."""
    if len(text) < 20:
        return None
    prefix = text[:LANGUAGE_PREFIX_CHARS]
    if not in_weighed_scripts(prefix):  # Thai was told as Chinese ("wuu") at 0.97
        return None
    # Close codes are one language (Chinese is told as "zh" and "wuu" in about equal
    # shares): their probabilities add up, and the likeliest code of the likeliest
    # language is the answer.
    shares: dict[str, float] = {}
    best: dict[str, str] = {}
    for code, probability in _language_identifier().rank(prefix):
        language = wordfreq_code(code)
        shares[language] = shares.get(language, 0.0) + probability
        best.setdefault(language, code)  # ranked likeliest first
    language = max(shares, key=lambda name: (shares[name], name))
    return best[language] if shares[language] >= MIN_LANGUAGE_CONFIDENCE else None


@functools.cache
def _language_identifier():
    """py3langid's model, with probabilities that add up to one, choosing among the
    languages wordfreq weighs: loaded once per process (it is read-only after this, as
    py3langid's own default identifier is)."""
    from storywire.transforms.clean.langmodel import language_identifier

    return language_identifier(weighed_languages())


def _same_words(a: str, b: str) -> bool:
    return words(a) == words(b)


def to_micros(value: datetime | None) -> int | None:
    """Microseconds since the epoch, the unit of the timestamp columns."""
    if value is None:
        return None
    return (value - _EPOCH) // timedelta(microseconds=1)


def _host(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname
    return host[4:] if host and host.startswith("www.") else host


def clean_record(record: RawRecord) -> Article | Reject:
    """Clean one record and fingerprint its body. Record fields win over extracted metadata."""
    if record.kind == "html":
        extracted = extract_html(record.body, record.url)
    else:
        extracted = clean_page_text(record.body, record.title)
    if not extracted.text.strip():
        return Reject(record.input_uri, record.line, record.article_id, "clean",
                      f"no article text found in the {record.kind}", excerpt(record.body))
    counted = word_count(extracted.text)
    if counted < MIN_ARTICLE_WORDS:
        # A page of navigation or a placeholder record: a few words are no article.
        return Reject(record.input_uri, record.line, record.article_id, "clean",
                      f"only {counted} word(s) of text found in the {record.kind}, fewer than "
                      f"the {MIN_ARTICLE_WORDS} of an article", excerpt(record.body))
    tokens = words(extracted.text)  # normalised once, for both fingerprints
    published = parse_date(record.published) if record.published else None
    if published is not None:
        date_source = "record"
    elif extracted.published is not None:
        date_source = record.kind  # "html" or "text"
    else:
        date_source = None
    return Article(
        article_id=record.article_id,
        input_uri=record.input_uri,
        line=record.line,
        url=record.url,
        source=record.source or extracted.site_name or _host(record.url),
        title=record.title or extracted.title,
        author=extracted.author,
        published_at=to_micros(published or extracted.published),
        text=extracted.text,
        simhash=simhash64(extracted.text, tokens),
        content_hash=content_hash(extracted.text, tokens),
        site_name=extracted.site_name,
        language=(_language_code(record.language) or extracted.language
                  or detect_language(extracted.text)),
        date_source=date_source,
        weighed_title=None if record.title else extracted.weighed_title,
    )
