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

import fcntl
import os
import shutil
import tempfile

PREFIX = "storywire-"
HELD = ".storywire-held"  # the lock (a folder): a folder without it is never removed


class NoScratch(OSError):
    """No scratch folder can be made: the temporary folder is missing, full or not ours
    to write."""


class Scratch:
    """A scratch folder, held (see the module's docstring) until `remove`."""

    def __init__(self, kind: str):
        """Make one, named storywire-`kind`-..., in the temporary folder, after removing
        those of killed processes. Raises NoScratch, saying why, when it cannot."""
        remove_abandoned()
        folder = tempfile.gettempdir()
        try:
            self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-")
        except OSError as err:
            raise NoScratch(err.errno, f"cannot make a folder in the temporary folder "
                                       f"{folder}: {err.strerror or err}; set TMPDIR to a "
                                       "folder this user can write") from None
        self._fd = _hold(self.path)

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


def remove_abandoned(folder: str | None = None) -> list[str]:
    """Remove the scratch folders in `folder` (the temporary folder) whose lock nobody
    holds: their processes have all ended. The paths removed."""
    folder = folder or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            fd = os.open(os.path.join(entry.path, HELD),
                         os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:  # not one of ours, another user's, or gone meanwhile
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
