"""Bytes to text without ever crashing, and without inventing characters.

The order is a browser's (the WHATWG Encoding Standard): a byte order mark, then UTF-8,
then a declared charset, then detection (charset-normalizer); before detection, UTF-8
with a few stray bytes of windows-1252 in it is read as UTF-8, each stray byte as
windows-1252 reads it.
Every other decode is strict: a declaration that the bytes contradict (cp1252 or GB18030
bytes under `<meta charset="utf-8">`, a common lie) is passed over, never decoded with
U+FFFD in place of what it could not read. Bytes that decode in no encoding are NotText.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import CharsetMatch, from_bytes
from charset_normalizer.constant import FREQUENCIES

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
# Share of control characters above which decoded "text" is taken for binary data.
MAX_CONTROL_SHARE = 0.05

# The legacy encodings of the web (WHATWG Encoding Standard), by Python codec name. Text
# copied off pages and pages themselves come in these; DOS and EBCDIC code pages do not,
# and letting the detector pick them gives readings such as "Cafķ" (cp775) for "Café".
WEB_SINGLE_BYTE = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
    "cp1258", "cp874", "cp866", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5",
    "iso8859_6", "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14",
    "iso8859_15", "iso8859_16", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic",
)
WEB_MULTI_BYTE = (
    "gb18030", "big5hkscs", "cp932", "euc_jp", "iso2022_jp", "cp949", "utf_16_le", "utf_16_be",
)
# What browsers assume for a legacy page that does not say (the default for most locales).
BROWSER_DEFAULT = "cp1252"
# Labels the standard decodes with a superset: "iso-8859-1" and "ascii" pages are read as
# windows-1252, "gb2312" as GB18030, "shift_jis" as windows-31j, and so on.
_SUPERSETS = {
    "ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874",
    "tis-620": "cp874", "gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs",
    "shift_jis": "cp932", "euc_kr": "cp949", "utf-16": "utf-16-le",
}
_WEB = frozenset(codecs.lookup(name).name
                 for name in ("utf_8", *WEB_SINGLE_BYTE, *WEB_MULTI_BYTE))


# C0 controls but line breaks, tabs and form feeds; lone surrogates; the replacement character.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff\ufffd]")


class NotText(ValueError):
    """The bytes do not decode to text."""


def decode_bytes(data: bytes, html: bool = False, declared: str | None = None) -> str:
    """Decode bytes to str; raise NotText for binary data.

    `declared` is a charset the bytes came with (an HTTP Content-Type); for `html`, the
    page's `<meta charset>` is read too. Either is trusted only if the bytes decode in it.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data, encoding)
            if text is not None:
                return _checked(text)
            data = data[len(bom):]  # a mark the bytes after it contradict: read those alone
            break
    text = _strict(data, "utf-8")
    if text is not None:
        return _checked(text)
    labels = [declared]
    if html:
        m = _META_CHARSET.search(data[:4096])
        # A page cannot declare itself UTF-16 in ASCII: the standard reads such a meta as
        # UTF-8, which the bytes already are not.
        if m and not m.group(1).lower().startswith(b"utf-16"):
            labels.append(m.group(1).decode("ascii"))
    for label in labels:
        encoding = web_encoding(label)
        text = _strict(data, encoding) if encoding else None
        if text is not None:
            return _checked(text)
    text = mostly_utf8(data)
    return _checked(text if text is not None else detect(data))


# UTF-8 text with a few stray bytes of another encoding (a "’" or an "é" typed in a
# Windows editor into a UTF-8 feed): its characters of more than one byte outnumber the
# stray bytes at least this many times. A text in a legacy encoding makes such characters
# by chance, but about as many as its stray bytes or fewer (French in mac_roman: every
# "’é" is one; Greek in GBK or EUC-KR, about one pair in twelve), and is detected.
MIN_UTF8_PER_STRAY_BYTE = 10
# Or its characters of three or four bytes ("’", "“", "—", "€", CJK) do, this many times:
# a single-byte legacy encoding makes one by chance only from three letters in a row of
# rare shapes, and a double-byte one (GBK, Shift_JIS, EUC-KR) makes about one in sixty of
# its characters, each of the others stray bytes. A short text with a few curly quotes and
# one stray byte was read whole as mac_roman ("it‚Äôs").
MIN_WIDE_UTF8_PER_STRAY_BYTE = 2
_STRAY = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, as surrogateescape keeps them
_MULTI_BYTE = re.compile("[^\x00-\x7f\udc80-\udcff]")
_WIDE = re.compile("[\u0800-\ud7ff\ue000-\U0010ffff]")


def mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text with a few stray bytes, each read as windows-1252 reads it (what such a
    byte nearly always is); None for bytes that are not such a text. Without this, one
    stray byte sent the whole text to detection, which read every accented letter wrong
    ("côtière" as "cﾃｴtiﾃｨre")."""
    text = data.decode("utf-8", errors="surrogateescape")
    stray = len(_STRAY.findall(text))
    if not stray or (len(_MULTI_BYTE.findall(text)) < MIN_UTF8_PER_STRAY_BYTE * stray
                     and len(_WIDE.findall(text)) < MIN_WIDE_UTF8_PER_STRAY_BYTE * stray):
        return None
    return _STRAY.sub(_as_windows_1252, text)


def _as_windows_1252(match: re.Match) -> str:
    byte = bytes([ord(match.group()) - 0xDC00])
    # The five bytes windows-1252 leaves undefined are read as Latin-1 reads them.
    return byte.decode(BROWSER_DEFAULT, errors="ignore") or byte.decode("latin-1")


def web_encoding(label: str | None) -> str | None:
    """The Python codec a browser would decode a charset label with; None for a label that
    names no encoding of the web."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    name = _SUPERSETS.get(name, name)
    return name if name in _WEB else None


def detect(data: bytes) -> str:
    """The text of undeclared (or wrongly declared) non-UTF-8 bytes, by charset-normalizer
    among the web's encodings.

    charset-normalizer ranks readings by chaos (how garbled they look), then coherence (how
    well letter frequencies fit a language). On a short or mostly ASCII text several
    readings score the same, and its pick among them is arbitrary: the one with the most
    multi-byte characters ("“Café”" as "鼎af髞"), or the code page it tried first ("três"
    as "tręs"). There windows-1252, what browsers assume for a legacy page that does not
    say, is taken if it reads at least as well on both measures, unless charset-normalizer
    names a language whose letters windows-1252 lacks (Polish, Czech, Turkish ...). A text
    its measures cannot place (a short Czech or Hungarian one) is thus read as a browser in
    a Western locale reads it.
    """
    matches = from_bytes(data, cp_isolation=list(WEB_SINGLE_BYTE + WEB_MULTI_BYTE),
                         preemptive_behaviour=False)
    best = matches.best()
    if best is None:
        raise NotText("bytes are not text in any encoding detected")
    # Without coherence, the language is only the one the encoding is for: no evidence.
    evidence = best.language if best.coherence else None
    if BROWSER_DEFAULT not in best.could_be_from_charset and _default_writes(evidence):
        default = _reading(matches, BROWSER_DEFAULT) or from_bytes(
            data, cp_isolation=[BROWSER_DEFAULT], preemptive_behaviour=False).best()
        if default is not None and (default.chaos <= best.chaos
                                    and default.coherence >= best.coherence):
            best = default
    return str(best)  # charset-normalizer decodes strictly


def _default_writes(language: str | None) -> bool:
    """Whether the browser default has the letters of `language` (charset-normalizer's
    table of each language's frequent letters); True when no language is known."""
    try:
        "".join(FREQUENCIES.get(language, ())).encode(BROWSER_DEFAULT)
    except UnicodeEncodeError:
        return False
    return True


def _reading(matches, encoding: str) -> CharsetMatch | None:
    return next((m for m in matches if encoding in m.could_be_from_charset), None)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _checked(text: str) -> str:
    if not text:
        return text
    sample = text[:20000]
    # C0 controls, lone surrogates and replacement characters mark bytes that are not text.
    # C1 controls (U+0080-U+009F) do not: they are what mojibake such as "â\x80\x99" is made
    # of, in text that decoded cleanly and that the cleaner repairs.
    control = len(_NOT_TEXT.findall(sample))
    if control / len(sample) > MAX_CONTROL_SHARE:
        raise NotText(f"{control} control characters in the first {len(sample)}: binary data")
    return text.replace("\x00", "")
