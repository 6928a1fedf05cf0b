"""Characters trafilatura drops from a page's text, put back from the page itself.

trafilatura (2.3) passes each text through `remove_control_characters` and `trim`: every
character that is neither printable nor white space goes, and every run of white space
becomes one space. Curly quotes, dashes, full-width punctuation, letters of any script and
most emoji come through. What goes: non-breaking and other typographic spaces (U+00A0,
U+202F, U+2009, U+3000 become " "); zero-width spaces and joiners (so a family emoji
falls apart into four faces, and Persian words lose their ZWNJ); direction marks and
embeddings (RLM, LRM, U+202A-U+202E, U+2066-U+2069); soft hyphens; the tag characters of
flag emoji such as Wales; and characters newer than Python's Unicode tables (emoji of
Unicode 15 on Python 3.11).

Each extracted line is found again in the page's own text by its visible characters
(white space and the dropped characters ignored), and the page's span replaces it with
layout still normalised: runs of ordinary white space (spaces, tabs, line breaks) become
one space, while a non-breaking or other typographic space stays as the writer put it.
A line is replaced only if the result shows exactly what trafilatura extracted, so
nothing visible ever changes; a line that cannot be found (list items and table rows,
which trafilatura rewrites) stays as trafilatura gave it.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from itertools import accumulate

from ftfy.chardata import CONTROL_CHARS
from lxml.etree import XPath

# Layout white space: what a browser, too, collapses into one space.
_LAYOUT = frozenset(" \t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
_SPACE_RUN = re.compile(r"\s+")
_SPACE_SPLIT = re.compile(r"(\s+)")
# White space other than layout: non-breaking and typographic spaces.
_TYPOGRAPHIC_SPACE = re.compile(r"[^\S \t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]")
# Characters other than white space that are worth putting back: format characters (joiners,
# direction marks, soft hyphens, tag characters), private use, and code points this
# Python does not know yet. Control characters and noncharacters are not, nor what the
# text cleaner's ftfy removes as "not intended" (the BOM, interlinear annotations).
_RESTORABLE = frozenset({"Cf", "Co", "Cn"})
_NOT_TEXT = frozenset(map(chr, CONTROL_CHARS))


def visible(text: str) -> str:
    """What trafilatura keeps of a text: printable characters, single spaces."""
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    return " ".join(text.split())


def restore_dropped(lines: Sequence[str | None], source: str) -> list[str | None]:
    """Each of `lines` (extracted from a page whose text is `source`) with the characters
    extraction dropped put back; see the module docstring. Lines are looked up in order."""
    out = list(lines)
    if "".join(source.split()).isprintable() and not _TYPOGRAPHIC_SPACE.search(source):
        return out  # the page has nothing extraction could drop
    index: _Skeleton | None = None
    cursor = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        at = _find(source, line, cursor)
        if at >= 0 and not _marked(source, at, at + len(line)):
            cursor = at + len(line)  # there as it is: nothing was dropped
            continue
        index = index or _Skeleton(source)
        found = index.find(line, cursor)
        if found is None:
            continue
        restored = _tidy(source[found[0]:found[1]])
        if visible(restored) == visible(line):
            out[i], cursor = restored, found[1]
    return out


def _find(text: str, part: str, cursor: int) -> int:
    at = text.find(part, cursor)
    return at if at >= 0 else text.find(part)


def _marked(source: str, start: int, end: int) -> bool:
    return ((start > 0 and _restorable(source[start - 1]))
            or (end < len(source) and _restorable(source[end])))


class _Skeleton:
    """A text's visible characters without white space, each mapped to where it stands."""

    def __init__(self, source: str):
        self.source = source
        # Words and white space alternate; all of it done by re and C loops, since a
        # page's text runs to tens of thousands of words.
        parts = _SPACE_SPLIT.split(source)
        words, starts = parts[0::2], list(accumulate(map(len, parts), initial=0))[0::2]
        if not "".join(words).isprintable():
            words, starts = _printable_runs(words, starts)
        self.text = "".join(words)
        self._keys = list(accumulate(map(len, words), initial=0))[:-1]  # each word starts here
        self._starts = starts  # and in the source

    def _position(self, k: int) -> int:
        i = bisect.bisect_right(self._keys, k) - 1
        return self._starts[i] + (k - self._keys[i])

    def _key_at(self, position: int) -> int:
        i = bisect.bisect_left(self._starts, position)
        return self._keys[i] if i < len(self._keys) else len(self.text)

    def find(self, line: str, cursor: int) -> tuple[int, int] | None:
        """Start and end in the source of the span that shows `line`, from the source
        position `cursor` on if it is there, else from the start; None if nowhere."""
        key = "".join(visible(line).split())
        if not key:
            return None
        k = _find(self.text, key, self._key_at(cursor))
        if k < 0:
            return None
        start, end = self._position(k), self._position(k + len(key) - 1) + 1
        # Marks at the edges (an RLM before a Hebrew line, the tag characters that end a
        # flag) belong to the line as much as those inside it.
        while start > 0 and _restorable(self.source[start - 1]):
            start -= 1
        while end < len(self.source) and _restorable(self.source[end]):
            end += 1
        return start, end


def _printable_runs(words: list[str], starts: list[int]) -> tuple[list[str], list[int]]:
    """The words split where they hold characters that are not printable."""
    runs, at = [], []
    for word, start in zip(words, starts):
        if word.isprintable():
            runs.append(word)
            at.append(start)
            continue
        first = None
        for i, ch in enumerate(word + "\n"):  # the line break closes the last run
            if ch.isprintable():
                first = i if first is None else first
            elif first is not None:
                runs.append(word[first:i])
                at.append(start + first)
                first = None
    return runs, at


def _restorable(ch: str) -> bool:
    return (unicodedata.category(ch) in _RESTORABLE and ch not in _NOT_TEXT
            and not _noncharacter(ch))


def _noncharacter(ch: str) -> bool:
    cp = ord(ch)
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def _tidy(span: str) -> str:
    """A span of page text as stored: layout white space collapsed, typographic spaces
    and restorable marks kept, control characters out (as the text cleaner does)."""
    span = _SPACE_RUN.sub(_space, span)
    return "".join(ch for ch in span if (ch.isprintable() or ch.isspace() or _restorable(ch))
                   and ch not in _NOT_TEXT).strip()


def _space(run: re.Match) -> str:
    kept = "".join(ch for ch in run.group() if ch not in _LAYOUT)
    return kept or " "


# The page's text where extracted lines are looked up: the body's text first (the article
# is there, not in a meta description that repeats its lead), then what titles, bylines
# and site names come from (the head's title, meta values, JSON-LD). Never scripts or styles.
_BODY_TEXT = XPath("//body//text()[not(ancestor::script or ancestor::style)]")
_META_TEXT = XPath("//head//text()[not(ancestor::script or ancestor::style)]"
                   " | //meta/@content | //script[@type='application/ld+json']/text()")


def page_text(tree) -> str:
    """The text of a parsed page (an lxml tree) that extracted lines are looked up in."""
    return "".join(_BODY_TEXT(tree)) + "".join(_META_TEXT(tree))
