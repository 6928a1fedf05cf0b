"""Where a path lives (this machine's filesystem, or an object store such as gs:// reached
through Beam's filesystems), and listing and deleting files whatever their names hold.

Beam's filesystems read every path they list or delete as a glob, so a folder named
`out[1]` or `G*3` would match nothing: listed, the output would look empty to every run;
deleted, nothing would go. Local paths are listed and deleted with the operating system's
own calls; object-store paths are escaped.
"""

from __future__ import annotations

import glob
import os
import warnings

from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems


def is_local(path: str) -> bool:
    """A path of this machine's filesystem (no scheme): walked, locked and renamed with the
    operating system's own calls, where object stores need Beam's filesystems."""
    return "://" not in path


def literal(path: str) -> str:
    """A path as a pattern that matches only itself: an output folder named `out[1]` or
    `G*3` must not be read as a glob (it would match nothing, and every run would take the
    output for empty)."""
    return glob.escape(path)


def match_files(pattern: str) -> list[FileMetadata]:
    """The files a pattern matches (none is no error), through Beam's filesystems."""
    with warnings.catch_warnings():
        # Python's re warns about the "[[]" of an escaped "["; the pattern is meant so.
        warnings.filterwarnings("ignore", "Possible nested set", FutureWarning)
        return list(FileSystems.match([pattern])[0].metadata_list)


def files_under(folder: str) -> list[str]:
    """Every file below a folder or object prefix, recursively (none if there is none), in
    the spelling of `folder`."""
    if is_local(folder):
        return sorted(os.path.join(root, name)
                      for root, _, names in os.walk(folder) for name in names)
    return sorted(m.path for m in match_files(literal(folder.rstrip("/")) + "/**"))


def delete_files(paths: list[str]) -> None:
    """Delete these files (those already gone are no error)."""
    local = [p for p in paths if is_local(p)]
    for path in local:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    remote = [p for p in paths if not is_local(p)]
    if remote:
        FileSystems.delete([literal(p) for p in remote])
