"""Cleaning of plain text copied off a web page.

People copy a whole page: navigation menus, section labels and the headline above the body,
a byline with the date, "READ ALSO" promos, share widgets and "Related" link boxes inside
it, tags, credits and "Recent Posts" teasers below it. The cleaner repairs mojibake, scores
each line (prose adds its words; labels, links and widgets subtract) and takes the body as
the run of lines with the highest total; inside it, it drops known boilerplate shapes and
link boxes, cuts at a list heading that closes the article, and reads title, date and
author from the header lines above the body.

It is deliberately conservative: a line that reads as a sentence is kept unless it has a
known boilerplate shape, so text that is already a clean article body comes through intact.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import ftfy

from storywire.transforms.clean.dates import parse_date

# ftfy repairs what is broken: mojibake, bad bytes, C1 controls, HTML entities, stray
# control characters (NUL, the BOM). Its other fixes would change what the article says
# typographically (curly quotes, full-width "，", ligatures, the composition of accents), so
# they are off: the stored text is what was published. Fingerprints and story terms
# normalise on their own (fingerprint.normalise).
# Nor are line and paragraph separators (U+2028, U+2029) made line breaks: in a record's
# text they stand where its writer put them, often mid-sentence (a JavaScript string
# copied), and as breaks they cut a sentence into a "headline" and a paragraph.
_REPAIR_ONLY = ftfy.TextFixerConfig(
    uncurl_quotes=False, fix_character_width=False, fix_latin_ligatures=False,
    normalization=None, fix_line_breaks=False,
)
# Text of printable ASCII, tabs and line breaks, without "&", holds nothing ftfy repairs
# (mojibake needs bytes above ASCII, entities an "&", escapes and controls their bytes):
# such a text skips it (the tests check ftfy leaves any such text as it is).
_SPACING_CONTROLS = str.maketrans(dict.fromkeys("\v\x1c\x1d\x1e\x1f", " "))
_NOTHING_TO_REPAIR = re.compile(r"[\t\n\r\x20-\x25\x27-\x7e]*")

# A line that ends like a sentence (quotes and brackets may close it).
_SENTENCE_END = re.compile(r"[.!?…:;。！？：；][\"'”’)\]」』）]*$")
_WORD = re.compile(r"\w+")
# Scripts written without spaces: a run of their characters is many words, not one.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
CHARACTERS_PER_UNSPACED_WORD = 2

# Headings after which a page lists other content, never the article.
_LIST_HEADINGS = frozenset(
    {
        "recent posts", "related", "related posts", "related articles", "related stories",
        "related news", "more stories", "more news", "more from", "read more", "read next",
        "you may also like", "you might also like", "most read", "most popular", "popular",
        "trending", "trending now", "latest news", "latest", "more on this story",
        "recommended", "recommended for you", "top stories", "comments", "leave a comment",
        "leave a reply", "what to read next", "editor's picks", "you may like",
        "see also", "also read", "more like this", "related content", "related topics",
        # The same headings in the other languages most news is written in.
        "leia também", "veja também", "você pode gostar", "relacionados", "mais lidas",
        "lea también", "te puede interesar", "noticias relacionadas", "más leídas",
        "lire aussi", "à lire aussi", "sur le même sujet", "les plus lus",
        "mehr zum thema", "das könnte sie auch interessieren", "meistgelesen",
        "leggi anche", "articoli correlati", "i più letti",
        "関連記事", "相关文章", "相關文章", "관련기사",
    }
)
# A line that stands this many times in one page is a widget ("Share on Facebook").
REPEATED_LINE = 3

# Widget shapes that can stand anywhere, even between body paragraphs. They are short: a
# long line that merely starts like one ("Share this with ... <a whole article>") is prose.
MAX_WIDGET_WORDS = 25
_WIDGETS = re.compile(
    r"""^(?:
        (?:read|see|watch)\s+(?:also|more)\b.*            # READ ALSO: promo headline
      | also\s+read\b.*
      | (?:related|recommended|more)\s*:.*
      | (?:share|tweet|email|print|comment|comments|like|follow\s+us)(?:\s+(?:this|on|via)\b.*)?
      | share\s+(?:this|on|via)\b.*
      | click\s+(?:here\s+)?to\s+(?:share|print|email|subscribe)\b.*
      | .*\bcomments?\s+loading\b.*                      # Disqus Comments Loading...
      | \d+\s+comments?
      | tags?\s*:.*
      | (?:filed|posted)\s+(?:under|in)\s*:.*
      | published\s+by
      | advertisement | sponsored(?:\s+content)? | skip\s+advertisement
      | (?:sign\s+up|subscribe)\b.{0,80}(?:newsletter|updates|free)\b.*
      | \d+\s+(?:sec|secs|second|seconds|min|mins|minute|minutes|hr|hrs|hour|hours|day|days)\s+ago
      | (?:\.{3}|…)
      | [^\w]*                                           # punctuation-only lines
      | privacy\s+overview | (?:always\s+enabled|non-necessary|necessary\s+always\s+enabled)
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Notices: cookie banners and syndication disclaimers, which run to a paragraph.
MAX_NOTICE_WORDS = 120
_NOTICES = re.compile(
    r"""^(?:
        \(?except\s+for\s+the\s+headline,\s+this\s+story\s+has\s+not\s+been\s+edited\b.*
      | .*\bpublished\s+from\s+a\s+syndicated\s+feed\b.*
      | .*\b(?:this\s+(?:web\s?)?site|we)\s+uses?\s+cookies\b.*
      | .*\b(?:accept|reject|necessary|manage)\s+(?:all\s+)?cookies\b.*
      | .*\bcookies?\s+(?:policy|settings|preferences|consent)\b.{0,40}
      | .*\bby\s+(?:continuing|using)\s+(?:to\s+(?:use|browse)\s+)?(?:this|our)
         \s+(?:web\s?)?site\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Header lines that carry the date: "date 2024-10-28 ...", "Published October 29, 2024 | 10:00 AM".
_DATE_PREFIX = re.compile(
    r"^(?:date|dated|published|posted|updated)(?:\s+on)?\s*:?\s*"
    r"(\d{4}-\d{2}-\d{2}(?:[T\s]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?)\s*",
    re.IGNORECASE,
)
_DATE_LINE = re.compile(
    r"^(?P<who>.*?)\s*\b(?:(?:last|first|originally)\s+)?(?:published|posted|updated|date)"
    r"(?:\s+on)?\s*:?\s+(?P<when>.+)$",
    re.IGNORECASE,
)
# Penalties of lines that are not prose, in words of prose they outweigh.
SHORT_LINE_PENALTY = 8.0
BOILERPLATE_PENALTY = 12.0
_BYLINE = re.compile(r"^by\s*[:\s]\s*(?P<who>[^\d].{0,80})$", re.IGNORECASE)
_HANDLE = re.compile(r"\(@\w+\)|@\w+")
_FIELD_SEPARATOR = re.compile(r"\s[|·•]\s")
_AT_TIME = re.compile(r"\s+at\s+(?=\d)", re.IGNORECASE)


@dataclass(frozen=True)
class CleanText:
    """The body (paragraphs separated by blank lines) and the metadata read off the header.
    `weighed_title`: what story vectors weigh as the title (see `clean_page_text`); None:
    `title`."""

    text: str
    title: str | None = None
    published: datetime | None = None
    author: str | None = None
    site_name: str | None = None
    language: str | None = None
    weighed_title: str | None = None


def word_count(text: str) -> int:
    """Words of a text; in scripts written without spaces (Chinese, Japanese, Thai), about
    one per two characters."""
    return _words(text)


def _words(line: str) -> int:
    unspaced = len(_UNSPACED.findall(line))
    if unspaced:
        spaced = len(_WORD.findall(_UNSPACED.sub(" ", line)))
        return spaced + unspaced // CHARACTERS_PER_UNSPACED_WORD
    return len(_WORD.findall(line))


# Words of a line that reads as a sentence: MIN_SENTENCE_WORDS with a final stop, or
# MIN_PARAGRAPH_WORDS without one (a paragraph that long is no label, link or widget).
MIN_SENTENCE_WORDS = 8
MIN_PARAGRAPH_WORDS = 25
# The first line of a text, without a final stop, still opens the body when it has this
# many words, most of them lower case: a headline is shorter (the longest of the seeds and
# fixtures has 12 words) or capitalises its words ("North Korea Has Sent 10,000 Troops").
# Only the first line: further down a page, such lines are teasers, captions and credits
# (on the cleaning benchmark, taking them all as prose cost 0.012 of precision and 0.004
# of F1).
MIN_OPENING_WORDS = 15


def is_sentence(line: str, n: int | None = None) -> bool:
    """A line that reads as running prose rather than a label, link or widget. `n`: its
    word count, when the caller has it."""
    n = _words(line) if n is None else n
    return (n >= MIN_SENTENCE_WORDS and bool(_SENTENCE_END.search(line))) or \
        n >= MIN_PARAGRAPH_WORDS


def _capitalised(line: str) -> bool:
    """Title Case or capitals: more than half the words that start with a cased letter
    start with a capital. Scripts without case (Chinese, Arabic) are never capitalised."""
    cased = [w for w in _WORD.findall(line) if w[0].lower() != w[0].upper()]
    return 2 * sum(w[0].isupper() for w in cased) > len(cased)


def _tokens(text: str) -> list[str]:
    """Lower-case words; in scripts written without spaces, characters."""
    return [t for word in _WORD.findall(text.casefold())
            for t in (list(word) if _UNSPACED.search(word) else [word])]


def _a_version_of(line: str, title: str) -> bool:
    """Whether a line is the title in other words: it starts with the title (a subtitle or
    the site's name after it), or most of its words are the title's."""
    words, named = _tokens(line), _tokens(title)
    if len(named) >= 2 and words[:len(named)] == named:
        return True
    in_title = set(named)
    return 2 * sum(w in in_title for w in words) > len(words)


# A web address, also as text copied off a page spaces it ("http: / / www. example. com/").
_WEB_ADDRESS = re.compile(r"^\s*(?:https?\s*:\s*/\s*/|www\s*\.\s*\w)", re.IGNORECASE)


def opens_with_a_sentence(line: str, title: str | None = None) -> bool:
    """Whether the first line of a text, its final stop missing, is the body's first
    sentence rather than a headline: most of its words lower case, and either
    MIN_OPENING_WORDS of them or, when the record gives its `title`, a sentence's worth
    that are not a version of the title."""
    n = _words(line)
    if n < MIN_SENTENCE_WORDS or _capitalised(line) or _WEB_ADDRESS.match(line):
        return False
    return n >= MIN_OPENING_WORDS or (bool(title) and not _a_version_of(line, title))


def is_boilerplate(line: str, n: int | None = None) -> bool:
    """A widget line (short) or a notice (a cookie banner, a syndication disclaimer).
    `n`: its word count, when the caller has it."""
    line = line.strip()
    n = _words(line) if n is None else n
    return bool((n <= MAX_WIDGET_WORDS and _WIDGETS.match(line))
                or (n <= MAX_NOTICE_WORDS and _NOTICES.match(line)))


def _is_list_heading(line: str) -> bool:
    # Spaces of any kind ("Recent\u00a0Posts") are one space here.
    return " ".join(line.split()).rstrip(":.…").strip().lower() in _LIST_HEADINGS


def _headline_like(line: str) -> bool:
    n = _words(line)
    return 4 <= n <= 30 and not _SENTENCE_END.search(line.rstrip("'\"”’"))


def _split_lines(raw: str) -> list[str]:
    # Text copied through the wrong encoding ("NotÃ­cias") is repaired first: the words
    # must be right for the body, its fingerprints and its story terms.
    # (ftfy cuts longer texts into segments, a cut may fall inside a "\r\n": not skipped.)
    if len(raw) >= _REPAIR_ONLY.max_decode_length or not _NOTHING_TO_REPAIR.fullmatch(raw):
        # A vertical tab and the separators U+001C to U+001F are white space, as a tab is;
        # ftfy removes them as control characters, which joined the words on either side
        # ("said\von" -> "saidon").
        raw = ftfy.fix_text(raw.translate(_SPACING_CONTROLS), config=_REPAIR_ONLY)
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    # Runs of spaces and tabs are layout; a non-breaking space is the writer's ("10 000").
    return [re.sub(r"[ \t]+", " ", line).strip() for line in raw.split("\n")]


def read_date_line(line: str) -> tuple[datetime | None, str | None]:
    """The date and the author on a header line such as
    "Mohammad Ali (@handle) Published October 29, 2024 | 10:00 AM" or
    "Posted: 12 March 2025 at 9:30 AM | By Ana Lima"."""
    m = _DATE_LINE.match(line)
    if not m or _words(line) > 20:
        return None, None
    who = _HANDLE.sub("", m.group("who")).strip(" ,|-–—")
    who = _BYLINE.sub(r"\g<who>", who).strip() or None
    date_parts = []
    for part in _FIELD_SEPARATOR.split(m.group("when")):
        byline = _BYLINE.match(part.strip())
        if byline:
            who = who or byline.group("who").strip()
        else:
            date_parts.append(_AT_TIME.sub(" ", part))
    when = parse_date(" ".join(date_parts))
    if when is None:
        return None, None
    return when, who


def line_score(line: str, junk: bool, n: int | None = None) -> float:
    """How much a line speaks for being article body: its words if it is prose, a penalty
    if it is a label or link, a heavier one if it is `junk` (known boilerplate, or a widget
    the page repeats). `n`: its word count, when the caller has it."""
    if junk:
        return -BOILERPLATE_PENALTY
    n = _words(line) if n is None else n
    if is_sentence(line, n) or (n >= 4 and _SENTENCE_END.search(line)):
        return float(n)  # prose, or a short sentence such as a one-line paragraph
    return -SHORT_LINE_PENALTY


def repeated_lines(lines: list[str]) -> frozenset[str]:
    """Lines that are no sentence and that a page repeats REPEATED_LINE times or more:
    share bars, separators. A sentence said three times is still a sentence."""
    counts = Counter(lines)
    return frozenset(line for line, n in counts.items()
                     if n >= REPEATED_LINE and not _SENTENCE_END.search(line)
                     and _words(line) <= MAX_WIDGET_WORDS)


def densest_prose(scores: list[float]) -> tuple[int, int]:
    """First and last index of the run of lines with the highest total score: the body.

    Body text extraction as a maximum-sum run (after Finn, Kushmerick and Smyth, 2001):
    prose adds its words, menus and widgets subtract, so a subhead or a caption inside the
    article is bridged while a navigation block or a list of teasers ends the run.
    """
    best, best_span = float("-inf"), (0, 0)
    total, start = 0.0, 0
    for i, score in enumerate(scores):
        if total <= 0:
            total, start = 0.0, i
        total += score
        if total > best:
            best, best_span = total, (start, i)
    return best_span


def pick_title(headlines: list[str], body: list[str]) -> str | None:
    """The title among the headline-like lines above a body: the one whose words the
    body's opening (its first three paragraphs) shares most of, a headline telling what
    its lede tells; among equals, the nearest the body. Menus, section names and notices
    ("Skip to main content") come first on a copied page and share little with the lede.
    A web address is no title, though its path may repeat the lede word for word."""
    headlines = [line for line in headlines if not _WEB_ADDRESS.match(line)]
    if not headlines:
        return None
    opening = set(_tokens(" ".join(body[:3])))

    def shared(line: str) -> float:
        words = set(_tokens(line))
        return sum(word in opening for word in words) / (len(words) or 1)

    return max(reversed(headlines), key=shared)


def clean_page_text(raw: str, title: str | None = None) -> CleanText:
    """Clean text copied off a page; see the module docstring for the rules. `title` is the
    title the record gives, if any: a first line that is not it is no headline."""
    lines = _split_lines(raw)
    published: datetime | None = None
    author: str | None = None

    # A date glued to the front of the first line ("date 2024-10-28 North Korea has ...").
    for i, line in enumerate(lines):
        if not line:
            continue
        m = _DATE_PREFIX.match(line)
        if m:
            published = parse_date(m.group(1))
            lines[i] = line[m.end():].strip()
        break

    content = [line for line in lines if line]
    widgets = repeated_lines(content)
    # Each line is counted and judged once: junk (boilerplate or a repeated widget), then
    # its score.
    counts = [_words(line) for line in content]
    junk = [line in widgets or is_boilerplate(line, n) for line, n in zip(content, counts)]
    scores = [line_score(line, j, n) for line, j, n in zip(content, junk, counts)]
    sentences = [is_sentence(line, n) for line, n in zip(content, counts)]
    # A clean body's first paragraph may lack its stop; it is no headline for that.
    if content and not junk[0] and not sentences[0] and \
            opens_with_a_sentence(content[0], title):
        sentences[0], scores[0] = True, float(counts[0])
    prose = [i for i, line in enumerate(content) if sentences[i] and not junk[i]]
    if not prose:
        # No running prose at all: keep whatever is not boilerplate (short notes, briefs).
        body = [line for line in content if not is_boilerplate(line)]
        return CleanText("\n\n".join(body), None, published, None)
    first, last = densest_prose(scores)

    # Cut at a list heading ("Recent Posts" ...) that closes the body: one with less prose
    # after it than a third of the prose before it. A "Related" box in mid-article is
    # followed by the rest of the article and stays (its links are scored out anyway).
    prose_words = [max(score, 0.0) for score in scores]
    for i in range(first + 1, last + 1):
        if _is_list_heading(content[i]):
            before, after = sum(prose_words[first:i]), sum(prose_words[i + 1:last + 1])
            if after < before / 3:
                last = max((p for p in prose if first <= p < i), default=first)
                break

    headlines = []
    for line in content[:first]:
        when, who = read_date_line(line)
        if when is not None:
            published = published or when
            author = author or who
        elif (m := _BYLINE.match(line)) and _words(line) <= 8:
            author = author or m.group("who").strip()
        elif _headline_like(line) and not is_boilerplate(line):
            headlines.append(line)
    # Story vectors weigh the first headline-like line as the title, as they always have:
    # story scores were measured so (a source URL on ECB+'s first lines tells its paired
    # events apart, where the headline chosen below did not: dated B-cubed F1 0.952
    # against 0.915), and vectors stored by earlier runs were made so.
    weighed = headlines[0] if headlines else None

    body, in_box = [], False
    for i in range(first, last + 1):
        # A list heading in mid-article opens a box of links that runs to the next prose.
        if _is_list_heading(content[i]):
            in_box = True
        elif in_box and scores[i] > 0:
            in_box = False
        if not in_box and not junk[i]:
            body.append(content[i])
    # Below the body: credits, widgets, tags. Only a byline is worth reading there.
    for line in content[last + 1:]:
        m = _BYLINE.match(line)
        if m and _words(line) <= 8:
            author = author or m.group("who").strip()
    return CleanText("\n\n".join(body), pick_title(headlines, content[first:last + 1]),
                     published, author, weighed_title=weighed)
