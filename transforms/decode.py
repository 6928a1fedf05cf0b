"""Bytes to text without ever crashing: BOMs, UTF-8, a declared HTML charset, then detection."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

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


class NotText(ValueError):
    """The bytes do not decode to text."""


def decode_bytes(data: bytes, html: bool = False) -> str:
    """Decode bytes to str; raise NotText for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data.decode(encoding, errors="replace"))
    try:
        return _checked(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    if html:
        m = _META_CHARSET.search(data[:4096])
        if m:
            try:
                return _checked(data.decode(m.group(1).decode("ascii"), errors="replace"))
            except LookupError:
                pass
    best = from_bytes(data).best()
    if best is None:
        raise NotText("bytes are not text in any encoding detected")
    return _checked(str(best))


def _checked(text: str) -> str:
    if not text:
        return text
    sample = text[:20000]
    # C0 controls, lone surrogates and replacement characters mark bytes that are not text.
    # C1 controls (U+0080-U+009F) do not: they are what mojibake such as "â\x80\x99" is made
    # of, in text that decoded cleanly and that the cleaner repairs.
    control = sum(
        1 for ch in sample
        if ch == "\ufffd" or (ch not in "\n\r\t\f" and (ch < " " or "\ud800" <= ch <= "\udfff"))
    )
    if control / len(sample) > MAX_CONTROL_SHARE:
        raise NotText(f"{control} control characters in the first {len(sample)}: binary data")
    return text.replace("\x00", "")
