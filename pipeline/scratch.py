"""Scratch folders in the temporary folder (TMPDIR), and the removal of those whose process
was killed.

A run keeps scratch there: the progress line's tallies, the stored ids a run in parts
skips, each part's job and Beam's files; eval keeps a whole output there. A process ended
by SIGKILL (or by the kernel's out-of-memory killer) removes none of it, and a big eval's
output is gigabytes. So each scratch folder holds a lock on which its process keeps a
flock for as long as it lives, and hands to the processes of its parts: the kernel drops
the flock when the last of them ends. The next storywire process to make a scratch
folder removes every one whose lock nobody holds. The lock is an empty folder, not a
file: an --input that holds the temporary folder reads nothing of a run just begun.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import tempfile

PREFIX = "storywire-"
HELD = ".storywire-held"  # the lock (a folder): a folder without it is never removed
# The names Scratch gives (tempfile.mkdtemp's eight characters): no other is ever removed.
_NAME = re.compile(re.escape(PREFIX) + r"(run|eval)-[a-z0-9_]{8}")
_SYSTEM = ("/tmp", "/var/tmp", "/usr/tmp")
_ADVICE = "set TMPDIR to a folder this user can write"
_NONE = f"no usable temporary folder (/tmp, /var/tmp); {_ADVICE}"


class NoScratch(OSError):
    """No scratch folder can be made: the temporary folder is missing, full or not ours
    to write. Its text is the line that says so."""

    def __str__(self) -> str:
        return self.strerror


class Scratch:
    """A scratch folder, held (see the module's docstring) until `remove`."""

    def __init__(self, kind: str):
        """Make one, named storywire-`kind`-..., in the temporary folder, after removing
        those of killed processes. Raises NoScratch, saying why, when it cannot."""
        folder = temporary_folder()
        remove_abandoned(folder)
        try:
            self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-", dir=folder)
        except OSError as err:
            raise NoScratch(err.errno, _cannot(folder, err)) from None
        try:
            self._fd = _hold(self.path)
        except OSError as err:  # full, say
            shutil.rmtree(self.path, ignore_errors=True)
            raise NoScratch(err.errno, _cannot(folder, err)) from None

    def descriptors(self) -> tuple[int, ...]:
        """The descriptor a process must inherit to keep this folder held."""
        return () if self._fd is None else (self._fd,)

    def folder(self, name: str) -> str:
        """A folder of that name inside, made empty."""
        path = os.path.join(self.path, name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def temporary_folder() -> str:
    """The folder scratch goes in: TMPDIR when it is set (where Python would fall back to
    /tmp, or even the current folder, when TMPDIR is not usable), else /tmp or /var/tmp.
    Raises NoScratch when there is none."""
    chosen = tempfile.tempdir or os.environ.get("TMPDIR")
    if chosen:
        return chosen  # if it is not usable, making a folder in it says why
    try:
        folder = tempfile.gettempdir()
    except OSError as err:
        raise NoScratch(err.errno, _NONE) from None
    if os.path.abspath(folder) == os.path.abspath(os.getcwd()) and folder not in _SYSTEM:
        raise NoScratch(errno.EACCES, _NONE)  # Python's last resort, the current folder
    return folder


def _cannot(folder: str, err: OSError) -> str:
    return (f"cannot make a folder in the temporary folder {folder}: "
            f"{err.strerror or err}; {_ADVICE}")


def _hold(path: str) -> int | None:
    """Lock the folder's lock; its descriptor. The lock takes its name only once locked:
    a process removing abandoned folders never sees it unheld. None where the filesystem
    has no flock (the folder then stays if the process is killed)."""
    making = os.path.join(path, HELD + ".new")
    os.mkdir(making, 0o700)
    fd = os.open(making, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.rename(making, os.path.join(path, HELD))
    return fd


def remove_abandoned(folder: str) -> list[str]:
    """Remove the scratch folders in `folder` (the temporary folder) whose lock nobody
    holds: their processes have all ended. The paths removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if (not _NAME.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False)
                    or entry.stat(follow_symlinks=False).st_uid != os.geteuid()):
                continue  # not a name Scratch gives, or another user's
            fd = os.open(os.path.join(entry.path, HELD),
                         os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:  # not one of ours, or gone meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its process lives (or this filesystem has no flock)
            os.close(fd)
            continue
        try:  # ours to remove while we hold its lock
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
        finally:
            os.close(fd)
    return removed
