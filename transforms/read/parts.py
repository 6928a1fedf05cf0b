"""A big local input cut into parts, each run as one incremental run after the other.

The local runner keeps every collection between two steps in its main process, so what a
run holds grows with its input. A run over more than `max_records` records is made of
parts of at most about that many, in input order, each committed before the next starts:
what the runner holds is bounded by the part, whatever the input's size, and a run
killed in the middle keeps the parts it committed (the next run skips their records).
Stories continue across parts as they do across incremental runs (continuation.py).

A part is a list of the pieces files are read in anyway (inputs.file_chunks): whole
files, line-aligned byte ranges of a big JSONL file, or pieces of a big WARC file that
start where records do, so a part's records are read as one run would read them, line
numbers and ids included. A compressed JSONL file is cut as an uncompressed one is, in
what it unpacks to (unpacked once to count its lines), and a part's pieces of it joined
into one for each worker: each piece read unpacks the file from its start. The records
of a WARC file too small to cut are estimated from its size. One
difference with a run in one piece: a record whose id a record of an earlier part had is
skipped as stored, not rejected as a duplicate.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from apache_beam.io.filesystem import FileMetadata

from storywire.transforms.read.inputs import (
    CHUNK_BYTES,
    InputChunk,
    file_chunks,
    input_format,
    is_compressed,
    joined,
)
from storywire.transforms.read.matching import (
    distinct_paths,
    find_input,
    first_look,
    same_file,
)
from storywire.transforms.records import Reject, printable_name, storable_text

# Records a part may hold, by default. A part's memory follows its size, and grows more
# slowly with what is stored; each part also costs a run's start-up. 100,000 text
# articles on one quiet morning (bb22566): parts of 10,000 peaked at 581 MiB in 306 s, of
# 12,000 at 596 MiB in 280 s, of 15,000 at 625 MiB in 260 s (a run of 10,000: 476 MiB in
# 25 s); a million in parts of 15,000 at 708 MiB (benchmarks/results/scaling-1m-bb22566.txt).
# On the AMD machine (8294f6f), 30,000 new records into 780,000 stored took 131 s in parts
# of 20,000 with 625 MiB at most, 161 s in parts of 15,000 with 590 (both holding none of
# the stored ids, which add 16 bytes an article: 16 MB at a million).
DEFAULT_MAX_BATCH_RECORDS = 20_000
# Records assumed per byte of a compressed JSONL file whose start holds no record (gzip
# packs news JSONL 3 to 6 times, and a text record is about 4 KiB).
_RECORDS_PER_PACKED_BYTE = 5 / 4096
# A compressed JSONL file is not unpacked whole to plan the parts: its records are counted
# in what its first SAMPLE_PACKED_BYTES unpack to (at most SAMPLE_UNPACKED_BYTES), and
# scaled to its size. (A fixed rate was 40 times off for short records.)
SAMPLE_PACKED_BYTES = 256 * 1024
SAMPLE_UNPACKED_BYTES = 8 * 1024 * 1024
# Pages assumed per byte of a WARC file too small to cut, which is not framed: a news
# page's response is 50 to 200 KiB, packed about 5 times in a .warc.gz.
_WARC_PAGES_PER_BYTE = 1 / (100 * 1024)
_WARC_PAGES_PER_PACKED_BYTE = 5 / (100 * 1024)


@dataclass(frozen=True)
class InputPart:
    """Part `number` (from 1) of `of`: the pieces of files it reads, about `records`
    records, and (in the first part) what matching the inputs rejected and the --input
    paths it answers for as looked up (`looked_up`)."""

    number: int
    of: int
    chunks: tuple[InputChunk, ...]
    records: int
    rejects: tuple[Reject, ...] = ()
    looked_up: tuple[str, ...] = ()
    # Whether `records` is estimated from the size of a file that may hold many more: a
    # compressed JSONL file that was not unpacked to be cut (UTF-16 inside), a WARC file
    # too small to cut (not framed).
    estimated: bool = False


def _lines(path: str) -> int | None:
    """Lines of a small uncompressed file, a last one without its line end too (None if it
    cannot be read: the run says why)."""
    lines, last = 0, b"\n"
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines, last = lines + block.count(b"\n"), block[-1:]
    except OSError:
        return None
    return lines + (last != b"\n")


def packed_records(path: str, size: int | None) -> int:
    """About how many records (non-blank lines) the compressed JSONL file at `path` holds:
    those of its first SAMPLE_PACKED_BYTES, exact when that is the whole file, else scaled
    from the packed bytes they came from to its `size`. Where it stops unpacking (not
    gzip, or damaged), reading stops too: the records before are all it gives (the reject
    of the rest is no record). A start that holds no record is estimated at
    _RECORDS_PER_PACKED_BYTE."""
    fallback = max(1, int((size or 0) * _RECORDS_PER_PACKED_BYTE))
    try:
        with open(path, "rb") as handle:
            packed = handle.read(SAMPLE_PACKED_BYTES)
            whole = not handle.read(1)
    except OSError:
        return fallback
    records, pending = 0, False  # pending: the line under way has a non-blank byte
    unpacked, rest = 0, packed
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip
    try:
        while rest and unpacked < SAMPLE_UNPACKED_BYTES:
            out = unpacker.decompress(rest, 1 << 20)  # bounded: a bomb never unpacks at once
            unpacked += len(out)
            if not out.strip():  # blank lines only (or a bomb of them): none split
                if b"\n" in out:
                    records, pending = records + pending, False
            else:
                *ended, under_way = out.split(b"\n")
                for line in ended:
                    records += pending or bool(line.strip())
                    pending = False
                pending = pending or bool(under_way.strip())
            if unpacker.eof:  # a member ends: the next one, if any, is read as gzip does
                rest = unpacker.unused_data.lstrip(b"\0")  # zeros padding it, as gzip skips
                unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                rest = unpacker.unconsumed_tail
    except zlib.error:
        return max(1, records)
    if whole and not rest:  # all of it: a last line without its line end counts too
        return max(1, records + pending)
    read = len(packed) - len(rest)
    if not records or not read:
        return fallback
    return max(1, round(records * (size or len(packed)) / read))


def _pieces(chunks: list[InputChunk], lines: int | None
            ) -> tuple[list[tuple[InputChunk, int]], bool]:
    """Each piece of one file with the records it holds (lines, for a JSONL file; the
    responses that may be pages, for a WARC file), and whether they are estimated from the
    file's size (which may hold many more) rather than counted."""
    if all(chunk.records is not None for chunk in chunks):  # counted when it was cut
        return [(chunk, max(1, chunk.records)) for chunk in chunks], False
    if len(chunks) == 1 and lines is None:
        chunk = chunks[0]
        if input_format(chunk.path) == "warc":  # too small to cut: not framed
            per_byte = (_WARC_PAGES_PER_PACKED_BYTE if is_compressed(chunk.path)
                        else _WARC_PAGES_PER_BYTE)
            return [(chunk, max(1, int((chunk.size or 0) * per_byte)))], True
        if input_format(chunk.path) != "jsonl":
            return [(chunk, 1)], False
        if is_compressed(chunk.path):  # not unpacked whole to count (UTF-16 inside)
            return [(chunk, packed_records(chunk.path, chunk.size))], True
        return [(chunk, max(1, _lines(chunk.path) or 1))], False  # under a piece: counted
    starts = [c.first_line for c in chunks] + [1 + (lines or 0)]
    return [(chunk, max(1, starts[n + 1] - starts[n])) for n, chunk in enumerate(chunks)], False


def _fill(pieces: list[tuple[InputChunk, int]], cap: int) -> list[list[tuple[InputChunk, int]]]:
    """The pieces in order, in groups each filled up to `cap` records (a piece over it
    alone)."""
    groups: list[list[tuple[InputChunk, int]]] = [[]]
    held = 0
    for piece in pieces:
        if groups[-1] and held + piece[1] > cap:
            groups.append([])
            held = 0
        groups[-1].append(piece)
        held += piece[1]
    return groups


def balanced_groups(pieces: list[tuple[InputChunk, int]],
                    max_records: int) -> list[list[tuple[InputChunk, int]]]:
    """The pieces in order, in as few groups as filling each up to `max_records` makes,
    the largest as small as that many allows: 100,000 records in parts of at most 20,000
    are 6 parts of at most about 16,700, not 5 of 19,600 and one of 1,000 (each part costs
    a run's start-up, and its memory follows its size)."""
    groups = _fill(pieces, max_records)
    low, high = 1, max_records  # the smallest cap that needs no more groups
    while low < high:
        cap = (low + high) // 2
        if len(_fill(pieces, cap)) <= len(groups):
            high = cap
        else:
            low = cap + 1
    return _fill(pieces, high)


def plan_parts(paths: Iterable[str], exclude: str | None, max_records: int,
               chunk_bytes: int = CHUNK_BYTES, workers: int = 2) -> list[InputPart]:
    """The parts a run over the local `paths` is made of (one part when the input is no
    bigger than `max_records` records). Files are matched as a run matches them. A part's
    pieces of one compressed file are joined into as many as it has `workers` (each piece
    read unpacks the file up to it)."""
    paths = distinct_paths(paths)
    rejects: list[Reject] = []
    files: dict[str, FileMetadata] = {}  # a file that two paths name is read once
    for path in paths:
        for found in find_input(path, exclude):
            if isinstance(found, Reject):
                rejects.append(found)
                continue
            key = same_file(found.path)
            files[key] = first_look([files[key], found]) if key in files else found
    pieces: list[tuple[InputChunk, int]] = []
    estimated: set[str] = set()  # the files whose records are estimated
    for found in files.values():
        counted: list[int] = []
        chunks = file_chunks(found.path, found.size_in_bytes, chunk_bytes, counted,
                             most_packed_pieces=None)
        held, guessed = _pieces(chunks, counted[0] if counted else None)
        pieces.extend(held)
        if guessed:
            estimated.add(found.path)
    groups = balanced_groups(pieces, max_records)
    # A path that names a file, read under that name, answers for itself where the file is
    # read (its first piece's ReadSpan); looked up in part 1, it would take that file's
    # stored rejects of the whole file ("empty file") away before the file's part read it.
    read_as_named = {storable_text(found.path) for found in files.values()}
    looked_up = tuple(p for p in paths if storable_text(p) not in read_as_named)
    return [InputPart(n, len(groups), _packed_pieces_joined([c for c, _ in group], workers),
                      sum(r for _, r in group),
                      tuple(rejects) if n == 1 else (), looked_up if n == 1 else (),
                      estimated=any(c.path in estimated for c, _ in group))
            for n, group in enumerate(groups, start=1)]


def _packed_pieces_joined(chunks: list[InputChunk], most: int) -> tuple[InputChunk, ...]:
    """A part's pieces, those of each compressed file joined into at most `most`."""
    out: list[InputChunk] = []
    for path, pieces in itertools.groupby(chunks, key=lambda chunk: chunk.path):
        pieces = list(pieces)
        out.extend(joined(pieces, most) if is_compressed(path) else pieces)
    return tuple(out)


def uncut_over(parts: list[InputPart], max_records: int) -> list[str]:
    """A line for each compressed JSONL file that was not cut (in UTF-16 or UTF-32, or
    smaller than a piece unpacked) and holds more than `max_records` records by its
    estimate: its part holds them all, and its memory grows with them. (Other JSONL files
    are cut into pieces of 2 MiB, which hold a few hundred text records at most.)"""
    counted = {}
    for part in parts:
        if len(part.chunks) == 1 and part.records > max_records:
            (chunk,) = part.chunks
            whole = chunk.start == 0 and chunk.end is None
            if whole and input_format(chunk.path) == "jsonl" and is_compressed(chunk.path):
                counted[chunk.path] = part.records
    return [f"{printable_name(path)} holds about {records:,} records, over "
            f"--max_batch_articles {max_records:,}, and cannot be cut: they go in one part, "
            "whose memory grows with them (unpack it, or split it into files, to bound it)"
            for path, records in counted.items()]
