"""Reading input files into raw records: one for a .txt or .html file, one per line of
JSONL, one per HTML page of a WARC file (warc.py), each read in bounded pieces (a line, a
file, a record, what a compressed file unpacks to), so no file can hold a worker's memory
or time hostage. Finding the files is matching.py's.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import hashlib
import itertools
import json
import logging
import os
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from gzip import BadGzipFile
from typing import NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

from storywire.transforms.metrics import INPUT_UNITS, SKIPPED_NO_PAGE, counter
from storywire.transforms.paths import is_local
from storywire.transforms.progress import READ, Tally
from storywire.transforms.read import warc
from storywire.transforms.read.decode import NotText, decode_bytes
from storywire.transforms.read.wide import MARK_BYTES, as_utf8, wide_encoding
from storywire.transforms.records import (
    REJECTS,
    SPANS,
    RawRecord,
    ReadSpan,
    Reject,
    excerpt,
    record_id,
    stable_id,
    storable_text,
)

# A .txt or .html file larger than this is rejected, not read: no article is this long,
# and one huge file must not stall a worker.
MAX_FILE_BYTES = 16 * 1024 * 1024
# One article's raw text or HTML, at most: the longest news pages are a few hundred
# thousand characters, so anything longer is a dump or a mistake, and cleaning it would
# cost a worker minutes.
MAX_BODY_CHARS = 2_000_000
# A JSONL file is read in parts of about this size, cut at line ends, so that every worker
# reads (and then cleans, where it reads) a share of one big file instead of one worker
# reading it all; a WARC file in parts of about this much of its records, cut where
# records start. The local runner deals the parts out evenly by number: small parts even
# out the work (a part is about 600 text articles, or 3 s of cleaning).
CHUNK_BYTES = 2 * 1024 * 1024
_SCAN_BLOCK_BYTES = 8 * 1024 * 1024
# A compressed JSONL file is cut as an uncompressed one is, at line ends of what it unpacks
# to; but a piece cannot be reached without unpacking the file up to it, so each piece read
# costs unpacking all before it. A file is therefore read in at most MAX_PACKED_PIECES
# pieces: unpacking it about MAX_PACKED_PIECES / 2 times over, at about 500 MB/s, against
# cleaning its text at about 1 MB/s (about 3% more work for 16 pieces). Every compressed
# JSONL file is unpacked to cut it, however small: where its pieces start is where the
# rule of 10,000 lines without an article starts counting again, as in the same bytes
# unpacked (a small file of short lines can unpack to many pieces).
MAX_PACKED_PIECES = 16
# About what a .warc.gz of news pages unpacks to, per byte (the benchmark's pages: 4.9).
# One over CHUNK_BYTES / WARC_PACKING likely holds more than a part's records, so it is
# framed to be cut (WARC parts are sized by their records, unpacked, as JSONL's).
WARC_PACKING = 5
# One JSONL line, at most, in bytes: a record whose body is MAX_BODY_CHARS long, written
# as json.dumps writes by default (every non-ASCII character a 6-byte \uXXXX escape),
# and a megabyte for its other fields. A longer line cannot hold a record that would be
# accepted, so it is never held whole: it is skipped in pieces of _SKIP_BYTES.
MAX_LINE_BYTES = 6 * MAX_BODY_CHARS + 1024 * 1024
_SKIP_BYTES = 1024 * 1024
# A compressed file may unpack to MAX_EXPANSION times its packed size, or to
# MIN_UNPACKED_LIMIT_BYTES if that is more; past that it is taken for a decompression bomb
# and not read further. Gzip packs news JSONL 3 to 6 times (the development data: 2.7 to
# 5.4); only runs of one byte pack near its maximum of about 1000 times. So a news file
# never comes near the limit, whatever its size, and the floor only matters to a small
# file that packs over 100 times: a record repeated, a line of one character. The floor
# (16 MiB) holds the longest line accepted (MAX_LINE_BYTES): a small file costs at most
# what a 16 MiB uncompressed one does, where 256 MiB of two-byte lines took minutes.
MAX_EXPANSION = 100
MIN_UNPACKED_LIMIT_BYTES = 16 * 1024 * 1024
# Towards that limit a line counts as at least this many bytes: however short, a line is
# an input unit that becomes a record or a reject row, which costs a run as much as a few
# kilobytes of a long record does (about 75 us and over a kilobyte of memory a reject on
# the local runner). News records are longer, so a news file never feels it (a feed of
# 200-byte records packed 5 times counts 26 times its size); but a small archive of short
# lines, mixed with the odd record so that no run of 10,000 stops it, is read only as far
# as 16,384 lines, not millions.
MIN_LINE_COST_BYTES = 1024
# Lines in a row that gave no record (blank, or a reject) after which the rest of a file,
# or of the part of it being read, is not read. A feed's bad lines come one here and there
# (a record cut off, a stray header); ten thousand in a row are no feed of articles but a
# dump, a log or padding, and cheap to make: 2,000,000 lines "1" pack into 4 KB of gzip,
# and each line read costs a reject row through the whole run. Ten thousand rejects still
# show what the file holds, and cost a few seconds and megabytes.
MAX_LINES_WITHOUT_RECORD = 10_000

_FORMATS = (
    (".warc.gz", "warc"),
    (".warc", "warc"),
    (".jsonl.gz", "jsonl"),
    (".ndjson.gz", "jsonl"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
    (".html", "html"),
    (".htm", "html"),
    (".txt", "text"),
)
SUPPORTED_EXTENSIONS = tuple(ext for ext, _ in _FORMATS)

_log = logging.getLogger(__name__)


def input_format(path: str) -> str | None:
    """'text', 'html', 'jsonl' or 'warc' from the file name, its extension in any case
    ("a.TXT", "b.Jsonl.GZ"); None for anything else."""
    lower = path.lower()
    for ext, kind in _FORMATS:
        if lower.endswith(ext):
            return kind
    return None


def is_supported(path: str) -> bool:
    """Whether storywire reads a file of this name: every step that picks or skips files by
    name (run, watch, a stream's storage notifications) asks this."""
    return input_format(path) is not None


def is_compressed(path: str) -> bool:
    """Whether a file is read through gzip, by its name as input_format reads it (any case)."""
    return path.lower().endswith(".gz")


@dataclass(frozen=True)
class InputChunk:
    """A file to read, or a part of one: bytes [start, end) (end None: to the end of the
    file; of what it unpacks to, for a compressed JSONL file), whose first line is line
    number `first_line` of the file (and last line `last_line`, for a JSONL part that ends
    before the file does); `records`, the records that could be pages in it, when the file
    was framed to cut it (WARC). `cuts`: the (first line, start byte) of each piece of a
    compressed JSONL file it was joined from, after its first (joined()): each is read as a
    piece of its own is (where 10,000 lines without an article stop reading, what a blank
    piece is rejected for), so a file reads the same however its pieces were joined."""

    path: str
    size: int | None
    start: int = 0
    end: int | None = None
    first_line: int = 1
    records: int | None = None
    last_line: int | None = None
    cuts: tuple[tuple[int, int], ...] = ()
    # A digest of the bytes (up to JOINT_BYTES) before `start` when the file was cut: a file
    # that no longer holds them there was rewritten, and its lines are not where the piece
    # says. (One appended to holds them still.)
    joint: bytes = b""

    def pieces(self) -> list[InputChunk]:
        """The pieces it was joined from (itself, if it was not)."""
        if not self.cuts:
            return [self]
        starts = [(self.first_line, self.start), *self.cuts]
        ends = [(line - 1, start) for line, start in self.cuts] + [(self.last_line, self.end)]
        return [InputChunk(self.path, self.size, start, end, first, last_line=last)
                for (first, start), (last, end) in zip(starts, ends)]

    def span(self, kind: str | None) -> ReadSpan:
        """Where reading this chunk reads the file, in the places its rejects are at."""
        if kind == "warc":  # a WARC file's places are byte offsets
            first, last = self.start, None if self.end is None else self.end - 1
        else:
            first, last = self.first_line, self.last_line
        return ReadSpan(storable_text(self.path), first, last, from_start=self.start == 0)


# The bytes before each cut that its digest covers (InputChunk.joint): hundreds of records,
# so that a rewritten file holds the same ones at the same place only where it holds the
# same records there (32 bytes were the same in a feed whose records all end alike).
JOINT_BYTES = 64 * 1024


def joint_digest(before: bytes) -> bytes:
    """The digest of the bytes before a cut, InputChunk.joint."""
    return hashlib.blake2b(before, digest_size=16).digest()


class LineCut(NamedTuple):
    """Where a part of a file cut at line ends starts (`first_line`, at byte `start`, after
    bytes whose digest is `joint`) and ends (None: at the file's end)."""

    start: int
    end: int | None
    first_line: int
    joint: bytes = b""


def line_chunks(blocks: Iterable[bytes], chunk_bytes: int) -> list[LineCut]:
    """Cut a file, given as consecutive blocks of bytes, into parts of at least
    `chunk_bytes` that end at a line end. Line numbers count b"\n" as a JSONL reader does,
    so a record's number is the same whichever part it is read from."""
    chunks: list[LineCut] = []
    start, first_line, joint = 0, 1, b""
    offset = 0         # file offset of the current block
    newlines = 0       # line ends between `start` and the scan position
    before = b""       # the last bytes of the blocks before the current one
    for block in blocks:
        pos = 0
        while True:
            look_from = max(start + chunk_bytes - 1 - offset, pos)
            cut = block.find(b"\n", look_from) if look_from < len(block) else -1
            if cut < 0:
                break
            newlines += block.count(b"\n", pos, cut + 1)
            chunks.append(LineCut(start, offset + cut + 1, first_line, joint))
            start, first_line, newlines = offset + cut + 1, first_line + newlines, 0
            joint = joint_digest(
                (before + block[max(0, cut + 1 - JOINT_BYTES):cut + 1])[-JOINT_BYTES:])
            pos = cut + 1
        newlines += block.count(b"\n", pos)
        offset += len(block)
        before = (before + block[-JOINT_BYTES:])[-JOINT_BYTES:]
    if offset > start or not chunks:
        chunks.append(LineCut(start, None, first_line, joint))
    else:  # the file ends at a cut: the last part runs to the end
        chunks.append(chunks.pop()._replace(end=None))
    return chunks


def unpacked_limit(packed_bytes: int | None, expansion: int = MAX_EXPANSION,
                   floor: int = MIN_UNPACKED_LIMIT_BYTES) -> int:
    """The most a compressed file of `packed_bytes` may unpack to."""
    return max(expansion * (packed_bytes or 0), floor)


class UnpackedTooLarge(Exception):
    """A compressed file unpacked to more than its limit, its lines counted at their cost."""

    def __init__(self, unpacked_bytes: int, lines: int):
        super().__init__(f"unpacked to over {unpacked_bytes:,} bytes in {lines:,} lines")
        self.unpacked_bytes = unpacked_bytes
        self.lines = lines


@dataclass(frozen=True)
class Line:
    """One line of a file: its number, its bytes (with the line end), and its size, which
    is more than len(data) for a line over the limit, of which only the start is kept."""

    number: int
    data: bytes
    size: int

    @property
    def whole(self) -> bool:
        return self.size == len(self.data)


def read_lines(handle, max_line_bytes: int, max_total_bytes: int | None = None,
               first_line: int = 1, start: int = 0, end: int | None = None,
               skip_bytes: int = _SKIP_BYTES, min_line_cost: int = 0) -> Iterator[Line]:
    """The lines of a binary handle positioned at byte `start` of its file, up to the line
    that starts at or after `end`, holding at most `max_line_bytes` of one line in memory.
    Raises UnpackedTooLarge when more than `max_total_bytes` have been read, each line
    counted as at least `min_line_cost` bytes; the lines given before stand."""
    number, position, total, cost = first_line - 1, start, 0, 0

    def count(piece: bytes, top_up: int = 0) -> int:
        nonlocal total, cost
        total += len(piece)
        cost += len(piece) + top_up
        if max_total_bytes is not None and cost > max_total_bytes:
            raise UnpackedTooLarge(total, number - first_line + 2)
        return len(piece)

    while end is None or position < end:
        data = handle.readline(max_line_bytes)
        if not data:
            return
        size = count(data, max(0, min_line_cost - len(data)))
        if len(data) == max_line_bytes and not data.endswith(b"\n"):
            while True:  # over the limit: skip the rest of the line, a piece at a time
                piece = handle.readline(skip_bytes)
                size += count(piece)
                if not piece or piece.endswith(b"\n"):
                    break
        number += 1
        position += size
        yield Line(number, data, size)


def line_too_long(size: int, limit: int) -> str:
    return (f"line is {size:,} bytes, over the limit of {limit:,} for one record (no "
            "article is this long); not read")


def _record_field(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = str(value).strip()
        return value or None
    raise ValueError(f"field {name!r} must be a string, not {type(value).__name__}")


def parse_jsonl_line(line: str, input_uri: str, number: int) -> RawRecord | Reject:
    """One JSONL line to a raw record, or a reject saying what is wrong with it."""

    def reject(reason: str, article_id: str | None = None) -> Reject:
        return Reject(input_uri, number, article_id, "parse", reason, excerpt(line))

    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as err:
        if "\r" in line.rstrip("\r") and "\n" not in line:
            # Lines ended by a carriage return alone (old Mac files) make one line of all.
            return reject(f"invalid JSON: {err}; this line holds carriage returns (\\r) "
                          "and no line feed: if the file's lines end in \\r alone, convert "
                          "them to \\n")
        return reject(f"invalid JSON: {err}")
    if not isinstance(record, dict):
        return reject(f"a JSONL line must be an object, not {type(record).__name__}")
    return record_of_object(record, line, input_uri, number)


def record_of_object(record: dict, line: str, input_uri: str, number: int
                     ) -> RawRecord | Reject:
    """A JSONL line's object (parsed from `line`) to a raw record, or a reject saying what is
    wrong with it."""

    def reject(reason: str, article_id: str | None = None) -> Reject:
        return Reject(input_uri, number, article_id, "parse", reason, excerpt(line))

    try:
        given_id = _record_field(record, "id")
        fields = {k: _record_field(record, k) for k in ("url", "source", "title", "published")}
    except ValueError as err:
        return reject(str(err))
    # A given id as it is stored, so that a rerun finds it among the stored ids; without
    # one, a url already names the article (for a reject too).
    known_id = (storable_text(given_id) if given_id else
                record_id(fields["url"]) if fields["url"] else None)
    text, html = record.get("text"), record.get("html")
    for name, value in (("text", text), ("html", html)):
        if value is not None and not isinstance(value, str):
            kind = type(value).__name__
            return reject(f"field {name!r} must be a string, not {kind}", known_id)
    for kind, body in (("html", html), ("text", text)):
        if body and body.strip():
            article_id = known_id or record_id(None, fields["title"], fields["published"],
                                               body)
            if len(body) > MAX_BODY_CHARS:
                return reject(body_too_long(kind, len(body)), article_id)
            language = record.get("language")  # optional: one that is no code is ignored
            return RawRecord(article_id, input_uri, number, kind, body, **fields,
                             language=language if isinstance(language, str) else None)
    return reject("record has neither a non-empty 'text' nor 'html' field", known_id)


def jsonl_line(line: Line, input_uri: str, max_line_bytes: int = MAX_LINE_BYTES
               ) -> RawRecord | Reject | None:
    """One line of a JSONL file to a raw record, a reject, or None for a blank line."""
    if not line.whole:
        return Reject(input_uri, line.number, None, "read",
                      line_too_long(line.size, max_line_bytes), excerpt(line.data))
    if is_blank_line(line.data):
        return None
    try:
        text = line_text(line.data)
    except NotText as err:
        return Reject(input_uri, line.number, None, "decode", str(err), excerpt(line.data))
    return parse_jsonl_line(text, input_uri, line.number)


def is_blank_line(data: bytes) -> bool:
    """A line of white space is blank, and so is one that holds only the byte order mark
    with which a Windows editor saves even an empty file (or marks, where files were
    joined)."""
    return not data.replace(codecs.BOM_UTF8, b"").strip()


def line_text(data: bytes) -> str:
    """The text of a JSONL line (or a stream's message, which is read as one): a byte
    order mark dropped, UTF-8 or else the charset its bytes are in (decode_bytes). Raises
    NotText for bytes that are no text."""
    return decode_bytes(data.rstrip(b"\r\n"))


def no_articles_in_a_row(lines: int, first: int, end: int | None) -> str:
    """The reason of the reject that ends reading a file, or the part of it that ends at
    byte `end`, after `lines` lines in a row from line `first` gave no record."""
    rest = ("the rest of the file is not read" if end is None else
            f"the rest of this part of the file, to byte {end:,}, is not read")
    return (f"{lines:,} lines in a row held no article (lines {first:,} to "
            f"{first + lines - 1:,}, each blank or rejected): {rest}")


def nothing_to_read(chunk: InputChunk, last_line: int) -> str:
    """The reason of the reject of a JSONL file, or a piece of one, that ends at line
    `last_line` and held no line to read."""
    lines = last_line - chunk.first_line + 1
    whole = chunk.start == 0 and chunk.end is None
    if lines <= 0 and not whole:
        return (f"the file ends before line {chunk.first_line:,}: it is shorter than when "
                "the run cut it into pieces (a rerun reads it as it is now)")
    if whole:
        return ("empty file" if lines == 0 else
                f"file holds only blank lines ({lines:,} line{'s' if lines > 1 else ''})")
    return f"lines {chunk.first_line:,} to {last_line:,} of the file are all blank"


def body_too_long(kind: str, chars: int) -> str:
    return (f"{kind} is {chars:,} characters, over the limit of {MAX_BODY_CHARS:,} for one "
            "article")


def read_whole_file(path: str, kind: str, data: bytes) -> RawRecord | Reject:
    """A .txt or .html file to one raw record."""
    if not data:
        return Reject(path, None, stable_id(path), "read", "empty file")
    try:
        body = decode_bytes(data, html=(kind == "html"))
    except NotText as err:
        return Reject(path, None, stable_id(path), "decode", str(err), excerpt(data))
    if not body.strip():
        return Reject(path, None, stable_id(path), "read", "file holds only white space")
    if len(body) > MAX_BODY_CHARS:
        return Reject(path, None, stable_id(path), "read", body_too_long(kind, len(body)),
                      excerpt(body))
    return RawRecord(stable_id(path), path, None, kind, body)


class _ChunkFiles(beam.DoFn):
    """A file to the parts it is read in (file_chunks)."""

    def __init__(self, chunk_bytes: int):
        self._chunk_bytes = chunk_bytes

    def process(self, metadata: FileMetadata | InputChunk):
        if isinstance(metadata, InputChunk):  # cut already (a part of a big run, parts.py)
            yield metadata
            return
        yield from file_chunks(metadata.path, metadata.size_in_bytes, self._chunk_bytes)


def file_chunks(path: str, size: int | None, chunk_bytes: int = CHUNK_BYTES,
                counted: list[int] | None = None,
                most_packed_pieces: int | None = MAX_PACKED_PIECES) -> list[InputChunk]:
    """The parts a file is read in: a JSONL file over `chunk_bytes` (unpacked) is scanned
    once for line ends, a WARC file over it framed once for record starts; anything else is
    one part. A compressed JSONL file is cut into at most `most_packed_pieces` (None: as an
    uncompressed one is, for parts.py to join). With `counted`, the lines scanned are added
    to it (for a JSONL file that was scanned)."""
    kind = input_format(path)
    packed = is_compressed(path)
    if kind == "warc" and size is not None and size * (WARC_PACKING if packed else 1) > chunk_bytes:
        return warc_chunks(path, size, chunk_bytes)
    if kind != "jsonl" or size is None or (not packed and size <= chunk_bytes):
        return [InputChunk(path, size)]
    lines = 0

    def blocks(head: bytes, handle):
        nonlocal lines
        last, unpacked = b"\n", 0
        limit = unpacked_limit(size, MAX_EXPANSION, MIN_UNPACKED_LIMIT_BYTES) if packed else None
        # Gzip unpacked as the reader's lines unpack it: a read of many bytes that meets an
        # error (garbage after a member) loses what it unpacked before it.
        read = handle.read1 if packed else handle.read
        for block in itertools.chain([head], iter(lambda: read(_SCAN_BLOCK_BYTES), b"")):
            lines += block.count(b"\n")
            last = block[-1:] or last
            yield block
            unpacked += len(block)
            if limit is not None and max(unpacked, lines * MIN_LINE_COST_BYTES) > limit:
                return  # a decompression bomb: its last piece's reader says so
        lines += last != b"\n"  # a last line without its line end is a line too

    try:
        with _unpacked(path) as f:
            head = f.read(MARK_BYTES)
            if wide_encoding(head) is not None:  # a UTF-16 line end is not the byte b"\n"
                return [InputChunk(path, size)]
            parts = line_chunks(_up_to_an_error(blocks(head, f)), chunk_bytes)
    except Exception:  # noqa: BLE001 - reading the whole file says why, as a reject
        parts = [LineCut(0, None, 1)]
    if counted is not None:
        counted.append(lines)
    # A part's last line is the line before the next part's first.
    last_lines = [part.first_line - 1 for part in parts[1:]] + [None]
    chunks = [InputChunk(path, size, part.start, part.end, part.first_line, last_line=last,
                         joint=part.joint)
              for part, last in zip(parts, last_lines)]
    return joined(chunks, most_packed_pieces) if packed and most_packed_pieces else chunks


@contextlib.contextmanager
def _unpacked(path: str):
    """A binary handle on what the file holds, a compressed one unpacked. Gzip goes through
    Python's own reader: Beam's decompressor ends a cut-off archive quietly, as if
    complete, where this one raises EOFError, so the loss becomes a reject."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
        if is_compressed(path):
            with gzip.GzipFile(fileobj=raw, mode="rb") as handle:
                yield handle
        else:
            yield raw


def _up_to_an_error(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The blocks until one cannot be read: the pieces found before stand, and the last one,
    which runs to the end, meets the error where it is read, which rejects the rest."""
    try:
        yield from blocks
    except (OSError, EOFError, zlib.error):
        return


def joined(chunks: list[InputChunk], most: int) -> list[InputChunk]:
    """Consecutive pieces of one file joined into at most `most` pieces, as even in number
    as that allows."""
    if len(chunks) <= most:
        return chunks
    size, extra = divmod(len(chunks), most)
    out, at = [], 0
    for n in range(most):
        group = chunks[at:at + size + (n < extra)]
        at += len(group)
        first, last = group[0], group[-1]
        cuts = tuple(cut for piece in group
                     for cut in ((piece.first_line, piece.start), *piece.cuts))[1:]
        out.append(InputChunk(first.path, first.size, first.start, last.end,
                              first.first_line, last_line=last.last_line, cuts=cuts,
                              joint=first.joint))
    return out


def warc_limits(packed_bytes: int | None) -> warc.Limits:
    """The bounds of reading a WARC file, or a piece of one of `packed_bytes`: a record
    as large as a .txt or .html file may be, a page as long as any article, and for a
    .warc.gz the decompression-bomb bound of a compressed JSONL file, each record counted
    as a line is."""
    return warc.Limits(MAX_FILE_BYTES, MAX_BODY_CHARS, unpacked_limit(packed_bytes),
                       MIN_LINE_COST_BYTES)


def warc_chunks(path: str, size: int | None, chunk_bytes: int) -> list[InputChunk]:
    """A WARC file in pieces of about `chunk_bytes` of records (unpacked, as a JSONL
    file's) that start where records start, framed once to find them (a .warc.gz
    unpacked once)."""
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            pieces = warc.warc_pieces(f, chunk_bytes, warc_limits(size))
            # Pieces start at record (gzip member) starts of the file as it lies: the bytes
            # before each cut are checked as they lie, too.
            joints = [raw_joint(f, p.start) for p in pieces]
    except Exception:  # noqa: BLE001 - reading the whole file says why, as a reject
        return [InputChunk(path, size)]
    return [InputChunk(path, size, p.start, p.end, records=p.responses, joint=joint)
            for p, joint in zip(pieces, joints)]


class _ReadRecords(beam.DoFn):
    """A file or part of one to raw records: one for .txt/.html, one per non-blank line
    for JSONL, one per page of a WARC file. A WARC record that holds no page is counted
    as read and skipped. Each file or part read gives its ReadSpan too (tagged SPANS)."""

    def __init__(self, progress: str | None = None):
        self.units = counter(INPUT_UNITS)
        self.skipped = counter(SKIPPED_NO_PAGE)
        self._progress = progress

    def setup(self):
        self._tally = Tally(self._progress)

    def finish_bundle(self):
        self._tally.flush()

    def process(self, chunk: InputChunk):
        kind = input_format(chunk.path)
        for out in self._read(chunk, kind):
            self.units.inc()
            self._tally.add(READ)
            if isinstance(out, Reject):
                yield beam.pvalue.TaggedOutput(REJECTS, out)
            elif isinstance(out, warc.Skipped):
                self.skipped.inc()
            else:
                yield out
        yield beam.pvalue.TaggedOutput(SPANS, chunk.span(kind))

    def _read(self, chunk: InputChunk, kind: str | None) -> Iterator[RawRecord | Reject]:
        path = chunk.path
        if kind is None:
            expected = ", ".join(SUPPORTED_EXTENSIONS)
            yield Reject(path, None, None, "read",
                         f"unsupported file type (expected one of {expected})")
            return
        if kind == "jsonl":
            yield from self._read_jsonl(chunk)
            return
        if kind == "warc":
            yield from self._read_warc(chunk)
            return
        if chunk.size is not None and chunk.size > MAX_FILE_BYTES:
            yield Reject(path, None, stable_id(path), "read",
                         f"file is {chunk.size} bytes, over the {MAX_FILE_BYTES}-byte limit")
            return
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                data = f.read(MAX_FILE_BYTES + 1)  # a file may have grown since it was listed
        except Exception as err:  # noqa: BLE001 - unreadable file becomes a reject
            yield Reject(path, None, stable_id(path), "read", f"cannot read file: {err}")
            return
        if len(data) > MAX_FILE_BYTES:
            yield Reject(path, None, stable_id(path), "read",
                         f"file is over the {MAX_FILE_BYTES}-byte limit")
            return
        yield read_whole_file(path, kind, data)

    @staticmethod
    def _read_warc(chunk: InputChunk) -> Iterator[RawRecord | Reject | warc.Skipped]:
        path = chunk.path
        size = packed_size_now(chunk)
        packed = None if size is None else (chunk.end or size) - chunk.start
        changed = shrunk_since_cut(chunk) or rewritten_since_cut(chunk)
        if changed is not None:
            yield changed
            return
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                if chunk.start:
                    f.seek(chunk.start)
                yield from warc.read_warc(f, path, warc_limits(packed), chunk.start, chunk.end)
        except Exception as err:  # noqa: BLE001 - an unreadable file becomes a reject
            _log.warning("%s: unreadable from byte %d: %s", path, chunk.start, err)
            yield Reject(path, chunk.start, None, "read",
                         f"cannot read file from byte {chunk.start:,}: "
                         f"{type(err).__name__}: {err}")

    @staticmethod
    @contextlib.contextmanager
    def _open_lines(chunk: InputChunk):
        """A handle whose readline() gives the file's lines: from the chunk's start, or
        from the file's for a compressed file (reading its piece unpacks all before it)."""
        with _unpacked(chunk.path) as handle:
            if chunk.start and not is_compressed(chunk.path):
                handle.seek(chunk.start)  # a piece cut at line ends: UTF-8, not wide.py's
                yield handle
            else:
                yield as_utf8(handle)

    def _read_jsonl(self, chunk: InputChunk) -> Iterator[RawRecord | Reject]:
        path, packed = chunk.path, packed_size_now(chunk)
        max_line, max_without = MAX_LINE_BYTES, MAX_LINES_WITHOUT_RECORD
        limit = (unpacked_limit(packed, MAX_EXPANSION, MIN_UNPACKED_LIMIT_BYTES)
                 if is_compressed(path) else None)
        changed = shrunk_since_cut(chunk) or rewritten_since_cut(chunk)
        if changed is not None:
            yield changed
            return
        # A piece of a compressed file is read from the file's start, its lines before the
        # piece skipped; they count towards the unpacked limit as in a read of the whole
        # file, so reading stops at the same line whichever piece it falls in. Where they
        # end must be where they ended when the file was cut (`joint`), or it was rewritten.
        from_start = limit is not None
        joint = Joint(chunk) if from_start and chunk.joint else None
        pieces = chunk.pieces()  # each read as a piece of its own (InputChunk.cuts)
        at, piece = 0, pieces[0]
        seen = number = chunk.first_line - 1  # the last line unpacked; the last one read
        without = 0  # lines in a row, up to `number`, that gave no record
        gave = stopped = False  # whether a line of the piece gave anything; reading it ended
        try:
            with self._open_lines(chunk) as handle:
                lines = read_lines(handle, max_line, limit,
                                   1 if from_start else chunk.first_line,
                                   0 if from_start else chunk.start,
                                   chunk.end, min_line_cost=MIN_LINE_COST_BYTES)
                for line in lines:
                    seen = line.number
                    if line.number < chunk.first_line:
                        if joint:
                            joint.passed(line)
                        continue
                    if joint:
                        if not joint.holds():
                            yield changed_reject(chunk)
                            return
                        joint = None
                    while piece is not pieces[-1] and line.number > piece.last_line:
                        if not (gave or stopped):
                            yield nothing_read(piece, number)
                        at, piece = at + 1, pieces[at + 1]
                        without, gave, stopped = 0, False, False
                    if stopped:
                        continue
                    if without >= max_without:
                        # No feed of articles: the lines before stand, the rest is one reject.
                        yield Reject(path, line.number, None, "read",
                                     no_articles_in_a_row(without, line.number - without,
                                                          piece.end),
                                     excerpt(line.data))
                        if piece is pieces[-1]:
                            return
                        stopped = True
                        continue
                    number = line.number
                    out = jsonl_line(line, path, max_line)
                    without = 0 if isinstance(out, RawRecord) else without + 1
                    if out is not None:
                        gave = True
                        yield out
            if joint:  # the file now ends before the piece
                yield changed_reject(chunk)
                return
            if not (gave or stopped):
                # Nothing to read is a reject, as an empty .txt file is: the run then says
                # why it has no article.
                yield nothing_read(piece, number)
            for later in pieces[at + 1:]:  # the file ended before them
                yield nothing_read(later, number)
        except (UnpackedTooLarge, OSError, EOFError, zlib.error, BadGzipFile,
                UnicodeDecodeError) as err:
            # Reading stops at line `stop`: the lines read so far stand. The piece it stops
            # in says why in one reject (unless reading it had stopped already: its own
            # reject says so), and each piece after it that it would have read, in one each
            # (the pieces of a file read separately say the same).
            stop = err.lines if isinstance(err, UnpackedTooLarge) else seen + 1
            _log.warning("%s: reading stops at line %d: %s", path, stop, err)
            while piece is not pieces[-1] and stop > piece.last_line:  # read to its end
                if not (gave or stopped):
                    yield nothing_read(piece, number)
                at, piece = at + 1, pieces[at + 1]
                gave, stopped = False, False
            if stop >= piece.first_line:  # in this piece
                if not stopped:
                    yield Reject(path, stop, None, "read", stop_reason(err, stop, packed))
                at += 1
            why = ("the file unpacked to over its limit, a decompression bomb?"
                   if isinstance(err, UnpackedTooLarge) else f"{type(err).__name__}: {err}")
            for later in pieces[at:]:
                yield Reject(path, later.first_line, None, "read",
                             f"{lines_of(later)} are not read: reading the file stopped "
                             f"before them, at line {stop:,} ({why})")


def stop_reason(err: Exception, stop: int, packed: int | None) -> str:
    """Why reading a JSONL file stopped at line `stop`, and what is not read."""
    if isinstance(err, UnpackedTooLarge):  # a decompression bomb
        return (f"stopped reading after {err.unpacked_bytes:,} bytes in {err.lines:,} lines "
                f"unpacked from {'?' if packed is None else f'{packed:,}'} packed: over "
                f"{MAX_EXPANSION}x the packed size and over "
                f"{MIN_UNPACKED_LIMIT_BYTES / 2**20:g} MiB, each line counted as "
                f"{MIN_LINE_COST_BYTES:,} bytes at least (a decompression bomb?); lines from "
                f"{stop} on are not read")
    # A truncated or corrupt archive (or UTF-16 file), or no archive at all
    where = (f"from line {stop:,} on (the lines before it are read)" if stop > 1
             else "from its start")
    return f"unreadable {where}: {type(err).__name__}: {err}"


def lines_of(piece: InputChunk) -> str:
    return (f"lines {piece.first_line:,} on" if piece.last_line is None else
            f"lines {piece.first_line:,} to {piece.last_line:,}")


def nothing_read(piece: InputChunk, last_line: int) -> Reject:
    """The reject of a JSONL file, or a piece of one, that ends at line `last_line` and held
    no line to read."""
    whole = piece.start == 0 and piece.end is None
    return Reject(piece.path, None if whole else piece.first_line, None, "read",
                  nothing_to_read(piece, last_line))


def packed_size_now(chunk: InputChunk) -> int | None:
    """The size of a piece's file that bounds what reading the piece may unpack: as it was
    cut, or for the last piece (which reads to the file's end) as the file is now, so that
    a file appended to since it was cut reads on, its added records within the bound."""
    if chunk.size is None or chunk.end is not None or not is_local(chunk.path):
        return chunk.size  # (a size not known when it was listed stays unknown)
    try:
        return max(chunk.size, os.stat(chunk.path).st_size)
    except OSError:
        return chunk.size  # reading it says why


def shrunk_since_cut(chunk: InputChunk) -> Reject | None:
    """The reject of a piece of a local file that is now smaller than when it was cut into
    pieces (replaced, or rewritten): its records are no longer where the pieces say. (A
    file that grew, as a feed appended to does, keeps its records where they were.)"""
    if chunk.size is None or (chunk.start == 0 and chunk.end is None) or not is_local(chunk.path):
        return None
    try:
        now = os.stat(chunk.path).st_size
    except OSError:
        return None  # reading it says why
    if now >= chunk.size:
        return None
    at, _, where = _piece_start(chunk)
    return Reject(chunk.path, at, None, "read",
                  f"the file is {now:,} bytes, smaller than the {chunk.size:,} it was when the "
                  f"run cut it into pieces: it changed, and its {where} are not read (a rerun "
                  "reads it as it is now)")


def raw_joint(handle, start: int) -> bytes:
    """InputChunk.joint of a piece that starts at byte `start` of the file as it lies
    (`handle` a binary handle on it, not unpacked); b"" for a piece at the file's start."""
    if not start:
        return b""
    handle.seek(max(0, start - JOINT_BYTES))
    return joint_digest(handle.read(min(start, JOINT_BYTES)))


def rewritten_since_cut(chunk: InputChunk) -> Reject | None:
    """The reject of a piece of a local file that no longer holds, just before the piece,
    the bytes it held there when the run cut it (InputChunk.joint): the file was rewritten,
    and its records are not where the piece says. The file's bytes as they lie, for an
    uncompressed file and for a WARC file (cut at gzip members); a compressed JSONL file
    is checked as it is unpacked up to the piece (Joint)."""
    raw = input_format(chunk.path) == "warc" or not is_compressed(chunk.path)
    if not chunk.joint or not raw or not is_local(chunk.path):
        return None
    try:
        with open(chunk.path, "rb") as handle:
            held = raw_joint(handle, chunk.start)
    except OSError:
        return None  # reading it says why
    return None if held == chunk.joint else changed_reject(chunk)


def changed_reject(chunk: InputChunk) -> Reject:
    at, before, where = _piece_start(chunk)
    return Reject(chunk.path, at, None, "read",
                  f"the file changed since the run cut it into pieces: it no longer holds, "
                  f"before {before}, what it held there, so its {where} are not read (a "
                  "rerun reads it as it is now)")


def _piece_start(chunk: InputChunk) -> tuple[int, str, str]:
    """Where a piece starts, as its file's rejects say where they are (a WARC file's by
    byte offset), that place in words, and what of the file from there on is."""
    if input_format(chunk.path) == "warc":
        return chunk.start, f"byte {chunk.start:,}", f"records from byte {chunk.start:,}"
    return chunk.first_line, f"line {chunk.first_line:,}", f"lines from {chunk.first_line:,}"


class Joint:
    """The lines of a file unpacked from its start up to a piece of it: whether they end
    where, and with the bytes (InputChunk.joint), they ended when the file was cut."""

    def __init__(self, chunk: InputChunk):
        self._chunk = chunk
        self._offset = 0
        self._behind: deque[bytes] = deque()  # the last lines, JOINT_BYTES of them at least
        self._held = 0  # their bytes
        self._whole = True  # whether they are all held (a line over the read limit is not)

    def passed(self, line: Line) -> None:
        self._offset += line.size
        if not line.whole:  # its end was skipped, not held: what came before is of no use
            self._behind.clear()
            self._held, self._whole = 0, False
            return
        self._behind.append(line.data)
        self._held += len(line.data)
        while self._held - len(self._behind[0]) >= JOINT_BYTES:
            self._held -= len(self._behind.popleft())
        self._whole = self._whole or self._held >= JOINT_BYTES

    def holds(self) -> bool:
        start = self._chunk.start
        if self._offset != start:
            return False
        # After a line over the read limit, the offset alone tells.
        return not self._whole or joint_digest(
            b"".join(self._behind)[-min(start, JOINT_BYTES):]) == self._chunk.joint


class ReadRecords(beam.PTransform):
    """File metadata to raw records (main output), rejects (tagged `rejects`), and where
    each file was read (ReadSpans, tagged `spans`: the rejects table's update needs them).

    Big JSONL files are read in parts of about `chunk_bytes`; with `spread`, the parts are
    shuffled so that all workers read, and clean, a share of them. With a `progress`
    folder, the input units read are tallied there for the terminal (progress.py).
    """

    def __init__(self, chunk_bytes: int = CHUNK_BYTES, spread: bool = True,
                 progress: str | None = None):
        super().__init__()
        self._chunk_bytes = chunk_bytes
        self._spread = spread
        self._progress = progress

    def expand(self, files):
        chunks = files | "Chunks" >> beam.ParDo(_ChunkFiles(self._chunk_bytes))
        if self._spread:
            chunks = chunks | "Spread" >> beam.Reshuffle()
        return chunks | "Parse" >> beam.ParDo(_ReadRecords(self._progress)).with_outputs(
            REJECTS, SPANS, main="records")
