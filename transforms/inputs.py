"""Finding input files and reading them into raw records.

Paths are matched inside the pipeline, on a worker, never while the graph is built, so the
same command builds a cloud job whose inputs the launching machine cannot see.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from gzip import BadGzipFile

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from storywire.transforms.decode import NotText, decode_bytes
from storywire.transforms.records import NAMESPACE, REJECTS, RawRecord, Reject, excerpt, stable_id

# A .txt or .html file larger than this is rejected, not read: no article is this long,
# and one huge file must not stall a worker.
MAX_FILE_BYTES = 16 * 1024 * 1024
# One article's raw text or HTML, at most: the longest news pages are a few hundred
# thousand characters, so anything longer is a dump or a mistake, and cleaning it would
# cost a worker minutes.
MAX_BODY_CHARS = 2_000_000
_GLOB_CHARS = set("*?[")

_FORMATS = (
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
    """'text', 'html' or 'jsonl' from the file name; None for anything else."""
    lower = path.lower()
    for ext, kind in _FORMATS:
        if lower.endswith(ext):
            return kind
    return None


def has_glob(path: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in path)


def match_input_path(path: str) -> list[FileMetadata]:
    """The files an --input path names: a glob, a folder (recursive) or one file."""
    if "://" not in path:
        # "./seeds/" and "seeds" name the same files, and so give the same article ids.
        path = os.path.normpath(path)
    if has_glob(path):
        if FileSystems.exists(path):  # a file whose name has [, * or ? in it
            return list(FileSystems.match([glob.escape(path)])[0].metadata_list)
        return list(FileSystems.match([path])[0].metadata_list)
    # "**" lists a folder recursively, locally and on object stores alike.
    folder = FileSystems.match([path.rstrip("/") + "/**"])[0].metadata_list
    if folder:
        return list(folder)
    exact = FileSystems.match([path])[0].metadata_list
    return [m for m in exact if m.path.rstrip("/") == path.rstrip("/")]


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
        return reject(f"invalid JSON: {err}")
    if not isinstance(record, dict):
        return reject(f"a JSONL line must be an object, not {type(record).__name__}")
    try:
        given_id = _record_field(record, "id")
        article_id = given_id or stable_id(input_uri, number)
        fields = {k: _record_field(record, k) for k in ("url", "source", "title", "published")}
    except ValueError as err:
        return reject(str(err))
    text, html = record.get("text"), record.get("html")
    for name, value in (("text", text), ("html", html)):
        if value is not None and not isinstance(value, str):
            kind = type(value).__name__
            return reject(f"field {name!r} must be a string, not {kind}", article_id)
    for kind, body in (("html", html), ("text", text)):
        if body and body.strip():
            if len(body) > MAX_BODY_CHARS:
                return reject(body_too_long(kind, len(body)), article_id)
            return RawRecord(article_id, input_uri, number, kind, body, **fields)
    return reject("record has neither a non-empty 'text' nor 'html' field", article_id)


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


class _MatchInputPaths(beam.DoFn):
    def __init__(self):
        self.matched = Metrics.counter(NAMESPACE, "files_matched")
        # A path that names nothing is an input unit too: it ends as one reject row.
        self.units = Metrics.counter(NAMESPACE, "input_units")

    def process(self, path: str):
        try:
            found = match_input_path(path)
        except Exception as err:  # noqa: BLE001 - any filesystem error becomes a reject
            self.units.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTS, Reject(path, None, None, "match", f"cannot list input: {err}")
            )
            return
        if not found:
            self.units.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTS, Reject(path, None, None, "match", "input path matched no files")
            )
        for metadata in found:
            self.matched.inc()
            yield metadata


class FindInputFiles(beam.PTransform):
    """--input paths to the metadata of every file they name; an empty match is a reject."""

    def __init__(self, paths: Iterable[str]):
        super().__init__()
        self._paths = list(paths)

    def expand(self, pbegin):
        return (
            pbegin
            | "Paths" >> beam.Create(self._paths)
            | "Match" >> beam.ParDo(_MatchInputPaths()).with_outputs(REJECTS, main="files")
        )


class _ReadRecords(beam.DoFn):
    """A file to raw records: one for .txt/.html, one per non-blank line for JSONL."""

    def __init__(self):
        self.units = Metrics.counter(NAMESPACE, "input_units")

    def process(self, readable: fileio.ReadableFile):
        path = readable.metadata.path
        kind = input_format(path)
        for out in self._read(readable, path, kind):
            self.units.inc()
            if isinstance(out, Reject):
                yield beam.pvalue.TaggedOutput(REJECTS, out)
            else:
                yield out

    def _read(self, readable, path: str, kind: str | None) -> Iterator[RawRecord | Reject]:
        if kind is None:
            expected = ", ".join(SUPPORTED_EXTENSIONS)
            yield Reject(path, None, None, "read",
                         f"unsupported file type (expected one of {expected})")
            return
        if kind == "jsonl":
            yield from self._read_jsonl(readable, path)
            return
        size = readable.metadata.size_in_bytes
        if size is not None and size > MAX_FILE_BYTES:
            yield Reject(path, None, stable_id(path), "read",
                         f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
            return
        try:
            data = readable.read(mime_type="application/octet-stream")
        except Exception as err:  # noqa: BLE001 - unreadable file becomes a reject
            yield Reject(path, None, stable_id(path), "read", f"cannot read file: {err}")
            return
        yield read_whole_file(path, kind, data)

    @staticmethod
    @contextlib.contextmanager
    def _open_lines(readable, path: str):
        """A handle whose readline() gives the file's lines. Gzip goes through Python's
        own reader: Beam's decompressor ends a cut-off archive quietly, as if complete,
        where this one raises EOFError, so the loss becomes a reject."""
        if path.endswith(".gz"):
            with readable.open(compression_type=CompressionTypes.UNCOMPRESSED) as raw, \
                    gzip.GzipFile(fileobj=raw, mode="rb") as handle:
                yield handle
        else:
            with readable.open(compression_type=CompressionTypes.AUTO) as handle:
                yield handle

    def _read_jsonl(self, readable, path: str) -> Iterator[RawRecord | Reject]:
        number = 0
        try:
            with self._open_lines(readable, path) as handle:
                for number, raw in enumerate(iter(handle.readline, b""), start=1):
                    if not raw.strip():
                        continue
                    try:
                        line = decode_bytes(raw.rstrip(b"\r\n"))
                    except NotText as err:
                        yield Reject(path, number, None, "decode", str(err), excerpt(raw))
                        continue
                    yield parse_jsonl_line(line, path, number)
        except (OSError, EOFError, zlib.error, BadGzipFile) as err:
            # A truncated or corrupt archive: the lines read so far stand, the rest is one reject.
            _log.warning("%s: unreadable after line %d: %s", path, number, err)
            yield Reject(path, number + 1, None, "read",
                         f"unreadable after line {number}: {type(err).__name__}: {err}")


class ReadRecords(beam.PTransform):
    """File metadata to raw records (main output) and rejects (tagged `rejects`)."""

    def expand(self, files):
        return (
            files
            | "Open" >> fileio.ReadMatches()
            | "Parse" >> beam.ParDo(_ReadRecords()).with_outputs(REJECTS, main="records")
        )
