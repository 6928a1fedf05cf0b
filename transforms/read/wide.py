"""JSONL files in UTF-16 or UTF-32 (Windows PowerShell writes UTF-16 with `>`), read as
UTF-8 lines.

A JSONL file is read line by line, its lines split at the byte b"\\n": in UTF-16 a line
end is two bytes, one of them a NUL that would start the next line, so every record after
the first was rejected as binary data. Such a file is known by its byte order mark (or,
without one, by the NUL bytes around its first character), read through a decoder into
UTF-8, and never cut into pieces by byte offset.
"""

from __future__ import annotations

import codecs
import io

# Byte order marks of the encodings in which a JSONL line end is not the byte b"\n"; the
# UTF-32 ones first: UTF-32-LE's begins with UTF-16-LE's.
_MARKS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
MARK_BYTES = 4
# Bytes decoded at a time.
_READ_BYTES = 64 * 1024


def wide_encoding(head: bytes) -> str | None:
    """The encoding of a file that starts with `head` (its first MARK_BYTES bytes) when it
    is UTF-16 or UTF-32: "utf-16" or "utf-32" by its byte order mark; without one, from
    where the NUL bytes of its first character stand (`_unmarked`). Else None."""
    for mark, encoding in _MARKS:
        if head.startswith(mark):
            return encoding
    return _unmarked(head)


# A JSONL file opens with a record's "{" (or white space, or a "[" that is no record): in
# UTF-16 or UTF-32 without a byte order mark, that character has NUL bytes on a known side
# of it. (A file in UTF-8 that opens so, NULs and all, is binary data.)
_OPENINGS = frozenset(b"{[ \t\r\n")
_UNMARKED = ((lambda h: h[0] in _OPENINGS and not any(h[1:4]), "utf-32-le"),
             (lambda h: not any(h[:3]) and h[3] in _OPENINGS, "utf-32-be"),
             (lambda h: h[0] in _OPENINGS and not h[1] and h[2] and not h[3], "utf-16-le"),
             (lambda h: not h[0] and h[1] in _OPENINGS and not h[2] and h[3], "utf-16-be"))


def _unmarked(head: bytes) -> str | None:
    head = head[:MARK_BYTES]
    if len(head) < MARK_BYTES or max(head) >= 0x80:
        return None
    return next((encoding for pattern, encoding in _UNMARKED if pattern(head)), None)


class _AsUtf8(io.RawIOBase):
    """The text of a binary handle in `encoding`, as UTF-8 bytes (lone surrogates kept as
    their bytes, for the line's decoding to reject). Bytes that do not decode raise
    UnicodeDecodeError once the text before them has been given."""

    def __init__(self, handle, encoding: str):
        super().__init__()
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
        self._pending = b""
        self._error: UnicodeDecodeError | None = None
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            if self._error is not None:
                raise self._error
            if self._ended:
                return 0
            block = self._handle.read(_READ_BYTES)
            self._ended = not block
            try:
                text = self._decoder.decode(block, final=self._ended)
            except UnicodeDecodeError as err:
                self._error, text = err, ""
            self._pending = text.encode("utf-8", "surrogatepass")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def utf8_lines(handle, encoding: str) -> io.BufferedReader:
    """A handle whose readline() gives the lines of `handle` (a binary handle at the start
    of a file in `encoding`) as UTF-8 bytes, the byte order mark dropped. A file that
    ends inside a character raises UnicodeDecodeError there, after its whole lines."""
    return io.BufferedReader(_AsUtf8(handle, encoding))


def as_utf8(handle):
    """A binary handle at a file's start (one with peek()), read as UTF-8 lines when the
    file is UTF-16 or UTF-32; else the handle itself."""
    encoding = wide_encoding(handle.peek(MARK_BYTES)[:MARK_BYTES])
    return handle if encoding is None else utf8_lines(handle, encoding)
