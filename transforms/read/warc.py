"""WARC files (.warc, .warc.gz): web archives of HTTP exchanges as crawlers write them,
Common Crawl's CC-NEWS among them. A `response` record holding an HTML page with status
200 is an article; every other record is skipped (request, warcinfo, metadata, revisit
...: no page) or rejected with its reason (a 404, a PDF, a record cut off).

Where records start and end is storywire's to find, what they hold the library's
(FastWARC) to parse. A .warc.gz is a chain of gzip members, one record each as WARC
writers make them; a record's block is Content-Length bytes after its header. Walking
that frame itself, storywire knows each record's offset (its `line`, whence its
article_id), cuts big files where records start so that every worker reads a share, holds
at most one record in memory, and tells a record cut off or corrupt from the end of a
file: the parsers end quietly at a truncated file's cut, dropping the record there. The
library parses each record once framed: WARC and HTTP headers, chunked transfer and
gzip, deflate or brotli content encodings.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from fastwarc.warc import ArchiveIterator, WarcRecord

from storywire.transforms.read.decode import NotText, decode_bytes
from storywire.transforms.records import RawRecord, Reject, excerpt, stable_id

# Bytes read from a file (or unpacked from it) at a time.
BLOCK_BYTES = 64 * 1024
# A record's WARC header, at most. Writers put ten or so short lines there; FastWARC's own
# limit for a header is 32 KiB.
MAX_HEADER_BYTES = 32 * 1024
# Media types of an HTML page.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# The start of a gzip member, and of a WARC record.
GZIP_MAGIC = b"\x1f\x8b"
WARC_MAGIC = b"WARC/"
# Record types, as WARC-Type names them: only a response can hold a page.
RESPONSE = "response"
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';,\s]+)""", re.IGNORECASE)
_NOT_LINE_END = re.compile(rb"[^\r\n]")


class Limits(NamedTuple):
    """What reading one piece of a WARC file may cost (the reader's bounds, inputs.py)."""

    record_bytes: int  # one record's block, unpacked; a longer one is not held
    body_chars: int  # one page's decoded text
    unpacked_bytes: int | None = None  # all a piece of a .warc.gz may unpack to
    record_cost: int = 0  # bytes each record counts as at least, towards unpacked_bytes


class Skipped(NamedTuple):
    """A record that holds no page (request, warcinfo, metadata, revisit, ...): counted as
    read, written nowhere."""

    input_uri: str
    line: int
    record_type: str


class Piece(NamedTuple):
    """A stretch of a WARC file that starts where a record does: bytes [start, end) (end
    None: to the end of the file) and the response records starting in it."""

    start: int
    end: int | None
    responses: int


def place_id(path: str, offset: int, inner: int = 0) -> str:
    """The id of what lies at a place in a WARC file: `offset` (in a .warc.gz, the offset
    of a gzip member, and `inner` the offset in what the member unpacks to, 0 but in a
    file compressed as one stream). A reject made in reading is named by it: reading the
    file again makes it again, at the same place. So was every page in tables written by
    earlier versions: a page whose place id is stored is not stored again (and no page
    this version stores has it, so only their pages are found so)."""
    return stable_id(path, "warc", offset, inner)


def page_id(record_id: str | None, path: str, offset: int, inner: int = 0) -> str:
    """The article_id of a page: from its record's WARC-Record-ID, which the crawler made
    unique to the record, so a page keeps its id wherever its file is read from (moved,
    renamed, recompressed) and another crawl written over the same path has ids of its
    own. A record without one is named by its place, in words of its own (not place_id,
    which matches pages of earlier versions)."""
    if record_id:
        return stable_id("warc-record", record_id)
    return stable_id("warc-place", path, offset, inner)


# ----------------------------------------------------------------------------------------
# Framing: bytes to records.


class _Cut(Exception):
    """The file ends inside a record (or a gzip member)."""


class _ShortRecord(_Cut):
    """A stream (a gzip member, or the file) ends inside a record."""


class _NotWarc(Exception):
    """What stands where a record should start is no WARC record."""

    def __init__(self, reason: str, data: bytes):
        super().__init__(reason)
        self.data = data


class _UnpackedTooLarge(Exception):
    """A piece of a .warc.gz unpacked to more than its limit."""


class _Budget:
    """Bytes a piece may still unpack (None: no bound)."""

    def __init__(self, limit: int | None):
        self.limit, self.spent = limit, 0

    def spend(self, n: int) -> None:
        self.spent += n
        if self.limit is not None and self.spent > self.limit:
            raise _UnpackedTooLarge()


class _Stream:
    """Bytes of one stream (a gzip member unpacked, or an uncompressed file from a record
    start) through a buffer; `position` counts the bytes taken."""

    def __init__(self):
        self._buffer = b""
        self._at = 0  # bytes of the buffer taken
        self.position = 0
        self.record_start = 0  # position of the record being framed

    def _more(self) -> bytes:
        """The next bytes of the stream; b"" at its end."""
        raise NotImplementedError

    def _held(self) -> int:
        return len(self._buffer) - self._at

    def readline(self, limit: int) -> bytes:
        """A line (with its b"\\n"), or its first `limit` bytes; b"" at the end."""
        while True:
            cut = self._buffer.find(b"\n", self._at, self._at + limit)
            if cut >= 0:
                return self._take(cut + 1 - self._at)
            more = self._more() if self._held() < limit else b""
            if not more:
                return self._take(limit)
            self._buffer, self._at = self._buffer[self._at:] + more, 0

    def read(self, n: int) -> bytes:
        """`n` bytes, fewer only at the end of the stream."""
        if self._held() < n:
            parts = [self._buffer[self._at:]]
            held = len(parts[0])
            while held < n:
                more = self._more()
                if not more:
                    break
                parts.append(more)
                held += len(more)
            self._buffer, self._at = b"".join(parts), 0
        return self._take(n)

    def skip_line_ends(self) -> None:
        """Pass over a run of CR and LF bytes (what ends a record), however long."""
        while True:
            found = _NOT_LINE_END.search(self._buffer, self._at)
            if found:
                self.position += found.start() - self._at
                self._at = found.start()
                return
            self.position += self._held()
            self._buffer, self._at = self._more(), 0
            if not self._buffer:
                return

    def skip(self, n: int) -> int:
        """Pass over `n` bytes without holding them; the bytes passed (fewer at the end)."""
        passed = 0
        while passed < n:
            if not self._held():
                self._buffer, self._at = self._more(), 0
                if not self._buffer:
                    break
            step = min(n - passed, self._held())
            self._at += step
            self.position += step
            passed += step
        return passed

    def _take(self, n: int) -> bytes:
        taken = self._buffer[self._at:self._at + n]
        self._at += len(taken)
        self.position += len(taken)
        return taken


class _Plain(_Stream):
    def __init__(self, raw):
        super().__init__()
        self._raw = raw

    def _more(self) -> bytes:
        return self._raw.read(BLOCK_BYTES)


class _GzipFile:
    """The raw bytes of a gzip file from one member's start on, member by member."""

    def __init__(self, raw, offset: int, budget: _Budget):
        self.raw, self.offset, self.budget = raw, offset, budget
        self.input = b""  # bytes read from the file and not yet unpacked

    def next_member(self) -> _Member | None:
        """The member at `offset`, or None at the end of the file."""
        if not self.input:
            self.input = self.raw.read(BLOCK_BYTES)
        return _Member(self) if self.input else None


class _Member(_Stream):
    """One gzip member unpacked. Raises zlib.error for bytes that are no gzip data or are
    corrupt, _Cut where the file ends inside the member."""

    def __init__(self, file: _GzipFile):
        super().__init__()
        self._file = file
        self.offset = file.offset
        self._inflate = zlib.decompressobj(wbits=31)  # gzip framing, its CRC checked

    def _more(self) -> bytes:
        file = self._file
        while not self._inflate.eof:
            if not file.input:
                file.input = file.raw.read(BLOCK_BYTES)
                if not file.input:
                    raise _Cut()
            given = len(file.input)
            data = self._inflate.decompress(file.input, BLOCK_BYTES)
            file.input = (self._inflate.unused_data if self._inflate.eof
                          else self._inflate.unconsumed_tail)
            file.offset += given - len(file.input)
            if data:
                file.budget.spend(len(data))
                return data
        return b""

    def finish(self) -> None:
        """Unpack the rest of the member (bytes after its records), so that the file is at
        the next member."""
        while self._more():
            pass


@dataclass(frozen=True)
class _Frame:
    """One record, framed: where it starts, its header, and its block (None when it was
    passed over: a record that is no page, or over the size limit)."""

    inner: int  # offset in its stream
    record_type: str
    head: bytes
    length: int  # Content-Length
    block: bytes | None


def _frames(stream: _Stream, wanted: frozenset[str], max_block: int,
            budget: _Budget | None = None, record_cost: int = 0, stop: int | None = None
            ) -> Iterator[_Frame]:
    """The records of a stream. The block of a record whose type is not `wanted` is passed
    over, as is one over `max_block` bytes. Ends before a record at or past stream
    position `stop`. Raises _NotWarc for bytes that are no record and _ShortRecord where
    the stream ends inside one."""
    while True:
        stream.skip_line_ends()  # the blank lines that end the record before
        line = stream.readline(MAX_HEADER_BYTES)
        if not line:
            return
        inner = stream.record_start = stream.position - len(line)
        if stop is not None and inner >= stop:
            return
        if not line.startswith(WARC_MAGIC):
            raise _NotWarc("no WARC record starts here (a record starts with a line "
                           "\"WARC/1.0\" or \"WARC/1.1\")", line)
        head = [line]
        size = len(line)
        while line not in (b"\r\n", b"\n"):
            line = stream.readline(MAX_HEADER_BYTES)
            if not line:
                raise _ShortRecord()
            head.append(line)
            size += len(line)
            if size > MAX_HEADER_BYTES:
                raise _NotWarc(f"WARC header over {MAX_HEADER_BYTES:,} bytes", b"".join(head))
        header = b"".join(head)
        record_type, length = _parse_header(header)
        if budget is not None:
            budget.spend(record_cost)
        if record_type in wanted and length <= max_block:
            block = stream.read(length)
            if len(block) < length:
                raise _ShortRecord()
        else:
            block = None
            if stream.skip(length) < length:
                raise _ShortRecord()
        yield _Frame(inner, record_type, header, length, block)


def _parse_header(header: bytes) -> tuple[str, int]:
    """The WARC-Type and Content-Length of a record's header."""
    try:
        record = next(iter(ArchiveIterator(io.BytesIO(header), parse_http=False,
                                           quirks_mode=True)), None)
    except OSError as err:
        raise _NotWarc(f"WARC header does not parse: {err}", header) from err
    if record is None:
        raise _NotWarc("WARC header does not parse", header)
    # The library reads a missing or malformed length as 0; the block would then be read
    # as the next record.
    length = (record.headers.get("Content-Length") or "").strip()
    if not length.isdigit():
        raise _NotWarc(f"WARC header has no valid Content-Length ({length or 'none'})", header)
    declared = record.headers.get("WARC-Type") or "(none)"
    return declared.strip().lower(), int(length)


class _Unit(NamedTuple):
    """A framed record with its place, or a problem where one should be."""

    offset: int  # the record's offset in the file; in a .warc.gz its member's
    inner: int  # its offset in its member's unpacked bytes (0: it starts the member)
    frame: _Frame | None
    problem: str | None = None
    stage: str = "read"  # of the problem: "parse" for bytes that are no WARC record
    data: bytes | None = None  # what the problem is about, for the excerpt
    last: bool = False  # nothing after a problem can be read


def _units(raw, start: int, end: int | None, limits: Limits, wanted: frozenset[str]
           ) -> Iterator[_Unit]:
    """The records of a piece of a file whose handle `raw` is at byte `start`, a record's
    start: framed, or a problem that took the record's place (with `last` when nothing
    after it can be found)."""
    first = raw.read(len(GZIP_MAGIC))
    raw = _Prefixed(first, raw)
    if first == GZIP_MAGIC:
        yield from _gzip_units(raw, start, end, limits, wanted)
    else:
        yield from _plain_units(raw, start, end, limits, wanted)


class _Prefixed:
    """A binary handle with bytes already read put back in front."""

    def __init__(self, head: bytes, raw):
        self._head, self._raw = head, raw

    def read(self, n: int) -> bytes:
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
            return data if len(data) == n else data + self._raw.read(n - len(data))
        return self._raw.read(n)


def _plain_units(raw, start: int, end: int | None, limits: Limits, wanted: frozenset[str]
                 ) -> Iterator[_Unit]:
    stream = _Plain(raw)
    stop = None if end is None else end - start
    frames = _frames(stream, wanted, limits.record_bytes, stop=stop)
    while True:
        try:
            frame = next(frames, None)
        except _NotWarc as err:
            yield _Unit(start + stream.position - len(err.data), 0, None, str(err), "parse",
                        err.data, True)
            return
        except _Cut:
            yield _Unit(start + stream.record_start, 0, None,
                        "the file ends inside this record: it is cut off", last=True)
            return
        if frame is None:
            return
        yield _Unit(start + frame.inner, 0, frame)


def _gzip_units(raw, start: int, end: int | None, limits: Limits, wanted: frozenset[str]
                ) -> Iterator[_Unit]:
    budget = _Budget(limits.unpacked_bytes)
    file = _GzipFile(raw, start, budget)
    while end is None or file.offset < end:
        at = file.offset
        try:
            member = file.next_member()
            if member is None:
                return
            frames = _frames(member, wanted, limits.record_bytes, budget, limits.record_cost)
            try:
                for frame in frames:
                    yield _Unit(at, frame.inner, frame)
            except _NotWarc as err:
                # Members are independent: the next one is read as if this one were fine.
                yield _Unit(at, member.position - len(err.data), None,
                            f"gzip member at byte {at:,}: {err}", "parse", err.data)
            except _ShortRecord:
                # The member ended whole, its record did not: a wrong Content-Length.
                yield _Unit(at, member.record_start, None, f"gzip member at byte {at:,} "
                            "ends inside its record (a Content-Length longer than the "
                            "record)", "parse")
            member.finish()
        except _Cut:
            yield _Unit(at, member.record_start, None, f"the file ends inside the gzip member "
                        f"at byte {at:,}: its record is cut off", last=True)
            return
        except zlib.error as err:
            yield _Unit(at, 0, None, f"no readable gzip member at byte {at:,} ({err}): the "
                        "bytes there are not gzip data, or corrupt", data=file.input[:64],
                        last=True)
            return
        except _UnpackedTooLarge:
            yield _Unit(at, 0, None, f"stopped reading at byte {at:,}: unpacked to over "
                        f"{limits.unpacked_bytes:,} bytes, the bound for this much packed data "
                        f"(each record counted as {limits.record_cost:,} bytes at least): a "
                        "decompression bomb?", last=True)
            return


# ----------------------------------------------------------------------------------------
# Reading pages, and planning pieces.


def read_warc(raw, path: str, limits: Limits, start: int = 0, end: int | None = None
              ) -> Iterator[RawRecord | Reject | Skipped]:
    """The pages (RawRecords), rejects and skipped records of the piece [start, end) of a
    WARC file, `raw` a binary handle at byte `start`. Records that start in the piece are
    read, to their end. A problem that leaves the rest of the piece unreadable (a file cut
    off, bytes that are no WARC) is one reject; the records before it stand."""
    any_unit = False
    rest = "the rest of the file" if end is None else f"the rest of this part (to byte {end:,})"
    for unit in _units(raw, start, end, limits, frozenset({RESPONSE})):
        any_unit = True
        if unit.frame is None:
            reason = unit.problem + (f"; {rest} is not read" if unit.last else "")
            yield Reject(path, unit.offset, place_id(path, unit.offset, unit.inner),
                         unit.stage, reason, excerpt(unit.data))
        elif unit.frame.record_type != RESPONSE:
            yield Skipped(path, unit.offset, unit.frame.record_type)
        elif unit.frame.block is None:
            yield Reject(path, unit.offset, place_id(path, unit.offset, unit.inner), "read",
                         f"response record is {unit.frame.length:,} bytes, over the limit "
                         f"of {limits.record_bytes:,} for one page; not read",
                         excerpt(unit.frame.head))
        else:
            yield page(unit.frame.head + unit.frame.block, path, unit.offset, unit.inner,
                       limits)
    if not any_unit and start == 0:
        yield Reject(path, 0, place_id(path, 0), "read",
                     "the file holds no WARC record")


def warc_pieces(raw, piece_bytes: int, limits: Limits) -> list[Piece]:
    """A WARC file cut into pieces of at least `piece_bytes` of records (as unpacked:
    the work of reading and cleaning a piece goes with its records' size, not with how
    well they pack), each starting where a record does (in a .warc.gz, where a record's
    gzip member does), with the responses in each. The whole file is framed once (a
    .warc.gz unpacked); where that fails, the rest is one piece, whose reading says why."""
    pieces: list[Piece] = []
    start, held, responses = 0, 0, 0
    for unit in _units(raw, 0, None, limits, frozenset()):
        if unit.frame is None:
            if unit.last:
                break
            continue
        if held >= piece_bytes and unit.inner == 0:
            pieces.append(Piece(start, unit.offset, responses))
            start, held, responses = unit.offset, 0, 0
        held += len(unit.frame.head) + unit.frame.length
        responses += unit.frame.record_type == RESPONSE
    if pieces and held < piece_bytes // 2:  # a short last piece joins the one before
        before = pieces.pop()
        start, responses = before.start, before.responses + responses
    return [*pieces, Piece(start, None, responses)]


def content_type(value: str | None) -> tuple[str | None, str | None]:
    """The media type (lower case) and charset of a Content-Type header value."""
    if not value or not value.strip():
        return None, None
    media = value.split(";", 1)[0].strip().lower() or None
    charset = _CHARSET.search(value)
    return media, charset.group(1) if charset else None


def page(record: bytes, path: str, line: int, inner: int, limits: Limits
         ) -> RawRecord | Reject:
    """A response record (WARC header and block) at offset `line` (and `inner`: place_id)
    to a page, or a reject saying why it is none: no HTTP, a status other than 200, not
    HTML, cut short by the crawler, a payload that does not decode."""
    place = place_id(path, line, inner)

    def reject(stage: str, reason: str, data: bytes | None = None) -> Reject:
        return Reject(path, line, place, stage, reason, excerpt(data))

    try:
        parsed: WarcRecord | None = next(iter(ArchiveIterator(
            io.BytesIO(record), parse_http=True, auto_decode="all", quirks_mode=True)), None)
    except OSError as err:  # the library names what it cannot read (an unknown encoding)
        return reject("parse", f"response does not parse: {err}", _block(record))
    if parsed is None:
        return reject("parse", "response does not parse", record)
    url = parsed.headers.get("WARC-Target-URI")
    at = f" ({url})" if url else ""
    if not parsed.is_http:
        kind = parsed.headers.get("Content-Type") or "none"
        return reject("read", f"response record holds no HTTP response{at} (its Content-Type "
                              f"is {kind})", _block(record))
    status = parsed.http_headers.status_code
    if status is None:
        return reject("parse", f"response has no HTTP status line{at}", _block(record))
    if status != 200:
        return reject("read", f"HTTP status {status}{at}: only a 200 response is a page",
                      _block(record))
    truncated = parsed.headers.get("WARC-Truncated")
    if truncated:
        return reject("read", f"the crawler cut this response short (WARC-Truncated: "
                              f"{truncated}){at}: not the whole page", _block(record))
    media, charset = content_type(parsed.http_headers.get("Content-Type")
                                  or parsed.headers.get("WARC-Identified-Payload-Type"))
    if media not in HTML_TYPES:
        said = f"content type {media}" if media else "no content type"
        return reject("read", f"{said}{at}: not an HTML page", _block(record))
    try:
        payload = _payload(parsed, limits.record_bytes + 1)
    except OSError as err:
        encoding = (parsed.http_headers.get("Content-Encoding")
                    or parsed.http_headers.get("Transfer-Encoding") or "")
        return reject("decode", f"payload does not decode{at}"
                                f"{f' ({encoding})' if encoding else ''}: {err}",
                      _block(record))
    if len(payload) > limits.record_bytes:
        return reject("read", f"payload unpacks to over {limits.record_bytes:,} bytes{at}, "
                              "the limit for one page", _block(record))
    try:
        body = decode_bytes(payload, html=True, declared=charset)
    except NotText as err:
        return reject("decode", f"{err}{at}", payload)
    if not body.strip():
        return reject("read", f"empty page{at}", _block(record))
    if len(body) > limits.body_chars:
        return reject("read", f"html is {len(body):,} characters, over the limit of "
                              f"{limits.body_chars:,} for one article{at}", payload)
    article_id = page_id((parsed.record_id or "").strip() or None, path, line, inner)
    return RawRecord(article_id, path, line, "html", body, url=url, stored_as=place)


def _payload(record: WarcRecord, most: int) -> bytes:
    """A record's payload, decoded (chunks joined, gzip unpacked ...), to `most` bytes."""
    parts, held = [], 0
    while held < most:
        part = record.reader.read(most - held)
        if not part:
            break
        parts.append(part)
        held += len(part)
    return b"".join(parts)


def _block(record: bytes) -> bytes:
    """A record's block (its HTTP response), for a reject's excerpt."""
    cut = record.find(b"\r\n\r\n")
    return record[cut + 4:] if cut >= 0 else record
