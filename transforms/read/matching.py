"""Finding input files: what each --input path names, and what it names that is not read.

Local paths are walked with the operating system's own calls, so that what is no regular
file is seen before anything opens it: a named pipe would hang the reader, a device would
never end. Links are followed as `find -L` does. Object-store paths (gs://, s3://) are
matched through Beam's filesystems. Paths are matched inside the pipeline, on a worker,
never while the graph is built, so the same command builds a cloud job whose inputs the
launching machine cannot see. The output folder is never input.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import stat
from collections.abc import Iterable
from typing import NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata, FileSystem
from apache_beam.io.filesystems import FileSystems

from storywire.pipeline.scratch import HELD
from storywire.transforms.metrics import FILES_MATCHED, INPUT_UNITS, counter
from storywire.transforms.paths import is_local
from storywire.transforms.records import REJECTS, SPANS, ReadSpan, Reject, storable_text

_GLOB_CHARS = set("*?[")


def has_glob(path: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in path)


def is_inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies below it. Local paths are compared as real paths
    (links resolved, "./x" and "x", trailing slashes), object-store paths by prefix."""
    if is_local(path) != is_local(folder):
        return False
    if is_local(path):
        path, folder = os.path.realpath(path), os.path.realpath(folder)
    else:
        path, folder = path.rstrip("/"), folder.rstrip("/")
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class Overlap(NamedTuple):
    message: str
    fatal: bool


def input_output_overlap(inputs: list[str], output: str) -> Overlap | None:
    """What to say when --input and --output overlap, before any work: an input that is
    the output folder or inside it cannot be read (fatal); an output folder inside an
    input is left out of it (a note)."""
    # An empty path names nothing (matching makes it a reject of its own): no overlap.
    folders = {path: _glob_base(path) for path in inputs if path}
    for path, folder in folders.items():
        if is_inside(folder, output):
            return Overlap(storable_text(f"--input {path} is inside --output {output}: files "
                                         "under the output folder are never read as input"),
                           True)
    for path, folder in folders.items():
        if is_inside(output, folder):
            return Overlap(storable_text(f"--output {output} is inside --input {path}: its "
                                         "files are not read as input"), False)
    return None


def _glob_base(path: str) -> str:
    """The folder a glob lists (the part before its first glob character); other paths
    as they are."""
    if not has_glob(path) or (is_local(path) and os.path.lexists(path)):
        return path
    head = re.match(r"[^[*?]*", path).group(0)
    return head if head.endswith("/") else os.path.dirname(head) or "."


def input_name(path: str) -> str:
    """The name an input path is known by in the tables: "./seeds/" and "seeds" name the
    same files, and so give the same ids and the same reject rows (a local path as
    os.path.normpath writes it; an object store's as given)."""
    return os.path.normpath(path) if path and is_local(path) else path


def match_input_path(path: str, exclude: str | None = None) -> list[FileMetadata | Reject]:
    """The files an --input path names (a glob, a folder, read recursively, or one file),
    and a reject for each thing it names that is not read: a named pipe, a device, a
    socket, a dangling or looping link, a folder that cannot be listed. Files below
    `exclude` (the output folder) are not input. Sorted by path. An empty path (an unset
    shell variable) names nothing, never the current folder."""
    if not path:
        return [Reject(path, None, None, "match", "empty input path: it names no file; "
                                                  "nothing read")]
    if not is_local(path):
        return [m for m in _match_on_filesystems(path)
                if exclude is None or not is_inside(m.path, exclude)]
    path = input_name(path)
    if has_glob(path) and not os.path.lexists(path):  # not a file with [, * or ? in its name
        # Beam's glob: the folder before the first glob character is listed, and every
        # path below it compared with the pattern ("*" stays within a folder, "**" not).
        pattern = re.compile(FileSystem.translate_pattern(path))
        top = os.path.dirname(re.match(r"[^[*?]*", path).group(0))
        found = _walk_local(top, exclude) if os.path.isdir(top or ".") else []
        return [f for f in found if pattern.match(f.path if isinstance(f, FileMetadata)
                                                  else f.input_uri)]
    return _walk_local(path, exclude)


def _match_on_filesystems(path: str) -> list[FileMetadata]:
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


_SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
# The kernel's own filesystems hold no articles, and their links lead round the whole
# machine (/proc/self/root is "/"; /sys links each device to its bus and back, so its
# paths multiply without end), so a walk into them would not finish. A link into one, or
# an input that names one, is a reject.
KERNEL_FOLDERS = ("/proc", "/sys")

_Stack = list[tuple[str, dict[tuple[int, int], str]]]


def kernel_devices() -> dict[int, str]:
    """The device number of each of KERNEL_FOLDERS -> its path: a file or folder on one of
    those devices is in it, however a path reached it."""
    devices = {}
    for folder in KERNEL_FOLDERS:
        with contextlib.suppress(OSError):  # no /proc here (not Linux)
            devices[os.stat(folder).st_dev] = folder
    return devices


def _link_target(path: str) -> str:
    """" to 'target'" for a link whose target can be read; "" when even that fails (the
    link went away, or the kernel hides where it leads)."""
    try:
        return f" to {os.readlink(path)!r}"
    except OSError:
        return ""


def not_a_file(path: str) -> str:
    """Why a local path that is not a regular file (os.path.isfile) cannot be read as one,
    for a command given one file (`eval`, `stream --replay`)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.lexists(path):
            return f"dangling symbolic link{_link_target(path)} (no such file)"
        return "no such file"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop (its links never reach a file)"
        return f"cannot look at it: {err.strerror or err}"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "an unknown kind of file")
    return f"{kind}, not a regular file"


def _walk_local(top: str, exclude: str | None) -> list[FileMetadata | Reject]:
    """A local file, or a folder's files recursively. Links are followed, as `find -L`
    does: a link to a file is read as that file, a link to a folder is listed, unless the
    folder is one the link is already inside (a loop) or a kernel filesystem. Whatever
    goes wrong with one entry is that entry's reject; the rest is walked."""
    found: list[FileMetadata | Reject] = []
    kernel = kernel_devices()
    # Depth first, each folder with the (device, inode) -> path of the folders above it.
    stack: _Stack = [(top, {})]
    while stack:
        path, above = stack.pop()
        try:
            _look(path, above, top, exclude, kernel, found, stack)
        except (OSError, ValueError) as err:
            found.append(Reject(path, None, None, "match", "cannot look at it: "
                                f"{getattr(err, 'strerror', None) or err}; not read"))
    return sorted(found, key=lambda f: f.path if isinstance(f, FileMetadata) else f.input_uri)


def _look(path: str, above: dict[tuple[int, int], str], top: str, exclude: str | None,
          kernel: dict[int, str], found: list[FileMetadata | Reject], stack: _Stack) -> None:
    """One entry of the walk: a file to read, a reject, or a folder whose entries go on
    the stack."""

    def reject(reason: str) -> None:
        found.append(Reject(path, None, None, "match", reason))

    try:
        info = os.lstat(path or ".")
    except FileNotFoundError:
        return  # gone since its folder was listed, or never there: nothing to read
    link = stat.S_ISLNK(info.st_mode)
    if link:
        try:
            info = os.stat(path)  # what the link leads to
        except FileNotFoundError:
            reject(f"dangling symbolic link{_link_target(path)} (no such file); not read")
            return
        except OSError as err:
            if err.errno == errno.ELOOP:
                reject("symbolic link loop (its links never reach a file); not read")
            else:
                reject(f"cannot follow symbolic link: {err.strerror or err}; not read")
            return
    if info.st_dev in kernel:
        reject(f"{'leads into' if link else 'in'} {kernel[info.st_dev]}, a kernel filesystem "
               "(no articles there, and its links lead round the whole machine); not read")
        return
    if stat.S_ISREG(info.st_mode):
        # Below a folder that is not the output, only a link can lead into it.
        if exclude is None or not (link or path == top) or not is_inside(path, exclude):
            found.append(FileMetadata(path, info.st_size, info.st_mtime))
        return
    if not stat.S_ISDIR(info.st_mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(info.st_mode)),
                    "an unknown kind of file")
        reject(f"{kind}, not a regular file; not read")
        return
    key = (info.st_dev, info.st_ino)
    if key in above:
        reject(f"symbolic link loop: leads back to the folder {above[key]!r} it is in; not "
               "followed")
        return
    if exclude is not None and is_inside(path, exclude):
        return  # the output folder: its files are not input
    try:
        names = sorted(os.listdir(path or "."))
    except OSError as err:
        reject(f"cannot list folder: {err.strerror or err}")
        return
    if HELD in names:
        return  # a storywire process's scratch folder (an --input holding TMPDIR): not input
    inside = {**above, key: path}
    stack.extend((os.path.join(path, name), inside) for name in reversed(names))


class _MatchInputPaths(beam.DoFn):
    def __init__(self, exclude: str | None):
        self._exclude = exclude
        # A path that names nothing is an input unit too: it ends as one reject row.
        self.units = counter(INPUT_UNITS)

    def process(self, name: bytes):
        path = name.decode("utf-8", "surrogateescape")
        yield beam.pvalue.TaggedOutput(SPANS, ReadSpan.looked_up(storable_text(path)))
        for item in find_input(path, self._exclude):
            if isinstance(item, Reject):
                self.units.inc()
                yield beam.pvalue.TaggedOutput(REJECTS, item)
            else:
                # Keyed by bytes: a file name need not be UTF-8 (see FindInputFiles).
                yield same_file(item.path).encode("utf-8", "surrogateescape"), item


def same_file(path: str) -> str:
    """What tells a matched file from another: a local file's device and inode (a relative
    and an absolute name, a symbolic or a hard link, lead to one file; its real path if it
    cannot be looked at), another filesystem's path as it is."""
    if not is_local(path):
        return path
    try:
        info = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return f"inode {info.st_dev} {info.st_ino}"


def first_look(metadata: Iterable[FileMetadata]) -> FileMetadata:
    """One of the looks at a file that two --input paths name (same_file): they are the
    same, unless the file changed between them; then the smaller; of two names, the first
    in sort order (its name is the input_uri), whatever order they came in."""
    return min(metadata, key=lambda m: (m.size_in_bytes or 0, m.last_updated_in_seconds or 0,
                                        m.path))


class _CountMatched(beam.DoFn):
    def __init__(self):
        self.matched = counter(FILES_MATCHED)

    def process(self, metadata: FileMetadata):
        self.matched.inc()
        yield metadata


class MatchedInputs(NamedTuple):
    """What FindInputFiles gives: each file (FileMetadata, or an InputChunk in a run in
    parts) once, the Rejects of matching, and a ReadSpan for each path looked up."""

    files: beam.PCollection
    rejects: beam.PCollection
    spans: beam.PCollection


def find_input(path: str, exclude: str | None = None) -> list[FileMetadata | Reject]:
    """What one --input path names: its files, and a reject for each thing it names that
    is not read, or one saying it names nothing or cannot be listed."""
    try:
        found = match_input_path(path, exclude)
    except Exception as err:  # noqa: BLE001 - any filesystem error becomes a reject
        found = [Reject(path, None, None, "match", f"cannot list input: {err}")]
    return found or [Reject(path, None, None, "match", "input path matched no files")]


class _PartInputs(beam.DoFn):
    """The pieces of files one part of a run reads (parts.py), matched before the run."""

    def __init__(self, part):
        self._part = part
        self.matched = counter(FILES_MATCHED)
        self.units = counter(INPUT_UNITS)

    def process(self, _):
        for path in self._part.looked_up:  # part 1's, with what matching rejected
            yield beam.pvalue.TaggedOutput(SPANS, ReadSpan.looked_up(storable_text(path)))
        for reject in self._part.rejects:
            self.units.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
        for chunk in self._part.chunks:
            if chunk.start == 0:  # a file's first piece: the file counts as matched once
                self.matched.inc()
            yield chunk


def distinct_paths(paths: Iterable[str]) -> list[str]:
    """--input paths, each once, in the order given: a path named twice is looked up once,
    so what it names that is not read (nothing, a folder it may not list) is one reject
    row, not one for each time it is named."""
    return list(dict.fromkeys(paths))


class FindInputFiles(beam.PTransform):
    """--input paths to the metadata of every file they name (none below `exclude`, the
    output folder); what they name that is not read, or nothing at all, is a reject
    (tagged `rejects`). Each path looked up gives a ReadSpan (tagged `spans`): a reject of
    it that matching does not make again goes from the rejects table.

    With a `part` (an InputPart of a run in parts), its pieces of files and rejects,
    matched before the run, instead, and the ReadSpans of the paths it looked up (part 1:
    InputPart.looked_up). A file that two paths name is read once."""

    def __init__(self, paths: Iterable[str], exclude: str | None = None, part=None):
        super().__init__()
        self._paths = distinct_paths(paths)
        self._exclude = exclude
        self._part = part

    def expand(self, pbegin):
        if self._part is not None:
            part = (pbegin
                    | "Part" >> beam.Create([self._part.number])
                    | "Match" >> beam.ParDo(_PartInputs(self._part)).with_outputs(
                        REJECTS, SPANS, main="files"))
            return MatchedInputs(part.files, part[REJECTS], part[SPANS])
        # As bytes: a file name need not be UTF-8, and Beam encodes text as UTF-8.
        names = [p.encode("utf-8", "surrogateescape") for p in self._paths]
        matched = (pbegin
                   | "Paths" >> beam.Create(names)
                   | "Match" >> beam.ParDo(_MatchInputPaths(self._exclude)).with_outputs(
                       REJECTS, SPANS, main="files"))
        # A file two paths name (a folder and a file in it) is read once, not twice.
        files = (matched.files
                 | "OncePerFile" >> beam.CombinePerKey(first_look)
                 | "Files" >> beam.Values()
                 | "CountMatched" >> beam.ParDo(_CountMatched()))
        return MatchedInputs(files, matched[REJECTS], matched[SPANS])


# A compressed file counts as this many times its size (gzip packs news JSONL 3 to 6 times).
_PACKED_WEIGHT = 5


def local_input_bytes(paths: Iterable[str], limit: int) -> int | None:
    """The bytes of regular files the local `paths` name (a compressed file as what it
    unpacks to, about), counted until they reach `limit` (then `limit`); None when a path
    is not local. For choosing how to run, not what to read: it globs as Python does and
    does not walk into linked folders."""
    total = 0
    for path in paths:
        if not path or not is_local(path):
            return None
        for named in (glob.glob(path, recursive=True) if has_glob(path) else [path]):
            for root, _, files in (os.walk(named) if os.path.isdir(named)
                                   else [("", [], [named])]):
                for name in files:
                    with contextlib.suppress(OSError):
                        info = os.stat(os.path.join(root, name))  # a link: its target
                        if stat.S_ISREG(info.st_mode):
                            weight = _PACKED_WEIGHT if name.lower().endswith(".gz") else 1
                            total += weight * info.st_size
                    if total >= limit:
                        return limit
    return total
