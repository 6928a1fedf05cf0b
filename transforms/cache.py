"""Copies of slow-to-load data (the language model, word frequencies) kept in the user's
cache folder as plain NumPy arrays, each named after the library version it came from.

A copy is read without pickle, and written whole or not at all: written under a name of
its own, then renamed, so that processes writing at once leave one whole copy. A cache
never stops a run: a copy that is missing or unreadable is made again, and without a
writable folder the data is made from the library each time.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Where copies are kept: $STORYWIRE_CACHE, else storywire/ in the XDG cache folder.
CACHE_ENV = "STORYWIRE_CACHE"

# A half-written copy of a process killed while writing it (a worker is killed without
# clean-up): removed by the next process that reads or writes a copy of its kind, once it
# is this old.
STALE_SECONDS = 600


def cache_folder() -> Path | None:
    """$STORYWIRE_CACHE, else storywire/ in the XDG cache folder; None without a home to
    put it in (a relative XDG_CACHE_HOME is ignored, as the XDG specification says)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "storywire"
    home = os.path.expanduser("~")
    if not os.path.isabs(home) or home == os.sep:
        return None  # HOME unset or empty: no folder of this user's to write into
    return Path(home) / ".cache" / "storywire"


def from_copy(name: str, writing_prefix: str, read: Callable[[dict], T],
              make: Callable[[], T], arrays: Callable[[T], dict]) -> T:
    """`read` of the arrays of the copy called `name`; without a whole copy, what `make`
    makes, its `arrays` then written as the copy. `read` raises for a copy it cannot use.
    `writing_prefix` names this kind of copy's temporary files."""
    path = cached_path(name)
    if path is not None:
        _remove_stale(path.parent, writing_prefix)
        try:
            return read(read_arrays(path))
        except Exception:  # noqa: BLE001 - none yet, or unreadable: a cache never stops a run
            pass
    made = make()
    if path is not None:
        try:
            write_arrays(path, writing_prefix, **arrays(made))
        except OSError:
            pass  # a read-only home or a full disk: the next process makes it again
    return made


def cached_path(name: str) -> Path | None:
    """Where the copy called `name` is kept; None without a cache folder."""
    folder = cache_folder()
    return None if folder is None else folder / name


def read_arrays(path: Path) -> dict:
    """The arrays of a copy, by name (raises if it is missing or damaged)."""
    import numpy as np

    if not path.is_file():  # a pipe or a device would block or never end
        raise FileNotFoundError(f"{path} is not a file")
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def write_arrays(path: Path, stale_prefix: str, **arrays) -> None:
    """Writes a copy of `arrays` at `path`, whole or not at all. `stale_prefix` names the
    temporary files of this kind of copy, so that half-written ones can be found."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent, stale_prefix)
    handle, temporary = _new_file(path.parent, stale_prefix)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _new_file(folder: Path, prefix: str) -> tuple[int, Path]:
    """A new file in `folder`, open for writing, that others may read as far as the umask
    lets them: a cache folder may be shared, and a copy only its writer could read
    (mkstemp's files are) would be made again, and replaced, by every other user."""
    while True:
        path = folder / f"{prefix}{secrets.token_hex(8)}.npz"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:
            continue


def _remove_stale(folder: Path, prefix: str) -> None:
    """Removes the half-written copies of this kind that are old enough (on every read as
    well as every write: once every copy is whole, nothing would be written again)."""
    now = time.time()
    try:
        found = list(folder.glob(f"{prefix}*.npz"))
    except OSError:
        return  # a folder that cannot be listed: nothing to tidy
    for stale in found:
        try:
            if now - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove
