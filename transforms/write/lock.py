"""One writer at a time: the lock a run holds on its output folder.

Two runs committing into one output at once corrupt it (rows written twice, a stories table
that lost the other run's stories), and scheduled jobs do overlap. So a run takes the lock
`<output>/_storywire.lock` before it reads anything and holds it to the end; `storywire
watch` holds it while it watches. The lock file names its holder (command, host, process,
start time), so the run that finds it taken can say who holds it.

- Local folders: an exclusive `flock` on the lock file. The kernel drops it when the holder
  exits, however it dies, so a lock left by a killed run is free at once; the holder's
  details it left behind are reported when the next run takes over.
- Object stores (gs://): the lock object is created only if absent (a generation
  precondition), and its holder rewrites it every HEARTBEAT_SECONDS, again only if it is
  still the version it wrote. A lock not refreshed for STALE_AFTER_SECONDS is a dead run's
  and is taken over by replacing exactly that version, so two runs cannot both take it.
  Hosts' clocks must agree to within a few minutes.
- A detached cloud job (`storywire run --detach`) holds the lock after its launcher has
  left: the job's commit step releases it. Its liveness is the job's state, when the
  runner's service can be asked.
- Other object stores (s3://, ...) offer no create-if-absent through Beam's filesystems:
  the lock there is checked and written, not atomic (documented).

Before it commits, a run checks that the lock still names it (`check_held`): a run whose
lock was taken over (its heartbeat stopped) fails before touching the tables.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone

from apache_beam.io.filesystems import FileSystems

from storywire.transforms.paths import is_local

LOCK_NAME = "_storywire.lock"
HEARTBEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 600.0
WAIT_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock."""

    token: str        # unique to one holder: what its commit checks
    command: str
    host: str
    pid: int
    started: str      # ISO 8601, UTC
    refreshed: float  # seconds since the epoch of its last heartbeat (object stores)
    job: str | None = None  # a detached cloud job that holds the lock for its launcher

    @classmethod
    def new(cls, command: str) -> Holder:
        now = datetime.now(timezone.utc)
        return cls(uuid.uuid4().hex, command, socket.gethostname(), os.getpid(),
                   now.strftime("%Y-%m-%d %H:%M:%S UTC"), now.timestamp())

    def describe(self) -> str:
        who = f"job {self.job}" if self.job else f"pid {self.pid} on {self.host}"
        return f"`{self.command}` ({who}, started {self.started})"

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> Holder | None:
        """The holder a lock file names; None for an empty or unreadable one."""
        try:
            fields = json.loads(data.decode("utf-8"))
            return cls(**{k: fields[k] for k in cls.__dataclass_fields__ if k in fields})
        except (ValueError, TypeError, KeyError, RecursionError):
            return None


class LockHeld(Exception):
    """The output is locked by another run."""

    def __init__(self, output: str, holder: Holder | None):
        self.output = output
        self.holder = holder
        who = holder.describe() if holder else "another storywire run (just starting)"
        super().__init__(f"{output} is being written by {who}")


class LockLost(Exception):
    """This run's lock was taken over by another run: it must not commit."""


def lock_path(output: str) -> str:
    return FileSystems.join(output, LOCK_NAME)


# --- Local folders: flock --------------------------------------------------------------

class _FileLock:
    """An exclusive flock on the lock file, held through an open descriptor."""

    def __init__(self, path: str):
        self._path = path
        self._fd: int | None = None

    def try_acquire(self, holder: Holder) -> tuple[bool, Holder | None]:
        """(True, the dead holder it took over from or None), or (False, the holder)."""
        import fcntl

        # Never through a link: a lock file that is a link would have us rewrite whatever
        # it points at.
        if os.path.islink(self._path):
            raise OSError(errno.ELOOP, f"{self._path} is a symbolic link, not a lock file; "
                                       "remove it")
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False, Holder.decode(_read_file(self._path))
            raise
        # A holder that ended cleanly emptied the file: what is left is a dead run's.
        previous = Holder.decode(os.pread(fd, 1 << 16, 0))
        _rewrite(fd, holder.encode())
        self._fd = fd
        return True, previous

    def refresh(self, holder: Holder) -> bool:
        return self._fd is not None  # the kernel keeps a flock for as long as we live

    def descriptors(self) -> tuple[int, ...]:
        return () if self._fd is None else (self._fd,)

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        try:
            _rewrite(self._fd, b"")
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


def _rewrite(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _read_file(path: str) -> bytes:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            return os.read(fd, 1 << 16)
        finally:
            os.close(fd)
    return b""


# --- Object stores: create-if-absent and compare-and-replace ----------------------------

class _GcsObject:
    """The lock object on Cloud Storage, written only under a generation precondition."""

    def __init__(self, path: str):
        from apache_beam.io.gcp import gcsio

        bucket, name = gcsio.parse_gcs_path(path)
        self._blob_name = name
        self._bucket = gcsio.GcsIO().client.bucket(bucket)

    def read(self) -> tuple[bytes, int] | None:
        from google.api_core.exceptions import NotFound

        blob = self._bucket.get_blob(self._blob_name)
        if blob is None:
            return None
        try:
            return blob.download_as_bytes(if_generation_match=blob.generation), blob.generation
        except NotFound:
            return None

    def write(self, data: bytes, if_generation: int) -> int | None:
        """Write if the object is at `if_generation` (0: absent); its new generation, or
        None when another writer got there first."""
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(self._blob_name)
        try:
            blob.upload_from_string(data, if_generation_match=if_generation)
        except PreconditionFailed:
            return None
        return blob.generation

    def delete(self, if_generation: int) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with contextlib.suppress(NotFound, PreconditionFailed):
            self._bucket.blob(self._blob_name).delete(if_generation_match=if_generation)


class _PlainObject:
    """A lock object on a store with no conditional writes through Beam's filesystems: a
    version is a hash of the content, and each write checks, then writes (not atomic)."""

    def __init__(self, path: str):
        self._path = path

    def read(self) -> tuple[bytes, int] | None:
        if not FileSystems.exists(self._path):
            return None
        with FileSystems.open(self._path) as handle:
            data = handle.read()
        return data, _version(data)

    def write(self, data: bytes, if_generation: int) -> int | None:
        current = self.read()
        if (current[1] if current else 0) != if_generation:
            return None
        with FileSystems.create(self._path) as handle:
            handle.write(data)
        return _version(data)

    def delete(self, if_generation: int) -> None:
        current = self.read()
        if current and current[1] == if_generation:
            FileSystems.delete([self._path])


def _version(data: bytes) -> int:
    import zlib

    return zlib.crc32(data) or 1  # never 0, which means "absent"


class _ObjectLock:
    """The lock on an object store, over any store with read / conditional write."""

    def __init__(self, store, is_live: Callable[[Holder], bool]):
        self._store = store
        self._is_live = is_live
        self._generation: int | None = None

    def try_acquire(self, holder: Holder) -> tuple[bool, Holder | None]:
        current = self._store.read()
        previous = None
        if current is None:
            generation = self._store.write(holder.encode(), if_generation=0)
        else:
            data, version = current
            previous = Holder.decode(data)
            if previous is not None and self._is_live(previous):
                return False, previous
            generation = self._store.write(holder.encode(), if_generation=version)
        if generation is None:  # another run took it between our read and our write
            now = self._store.read()
            return False, Holder.decode(now[0]) if now else None
        self._generation = generation
        return True, previous

    def refresh(self, holder: Holder) -> bool:
        """Rewrite the lock with a new heartbeat; False if it is no longer ours."""
        if self._generation is None:
            return False
        generation = self._store.write(holder.encode(), if_generation=self._generation)
        self._generation = generation
        return generation is not None

    def release(self) -> None:
        if self._generation is not None:
            self._store.delete(if_generation=self._generation)
            self._generation = None


def heartbeat_is_recent(holder: Holder, now: float | None = None) -> bool:
    """A holder whose lock was refreshed within STALE_AFTER_SECONDS; a detached job's lock
    is judged by the job (see OutputLock)."""
    now = time.time() if now is None else now
    return now - holder.refreshed < STALE_AFTER_SECONDS


def _backend(output: str, is_live: Callable[[Holder], bool]):
    path = lock_path(output)
    if is_local(path):
        return _FileLock(path)
    if path.startswith("gs://"):
        return _ObjectLock(_GcsObject(path), is_live)
    return _ObjectLock(_PlainObject(path), is_live)


class OutputLock:
    """The lock of one output folder, as the storywire process holds it.

    `acquire` takes it (waiting up to `wait_seconds` for a live holder to finish) or raises
    LockHeld; on object stores a thread refreshes it until `release`. `hand_over(job)`
    leaves it to a detached job, whose commit releases it. `job_finished(job)` tells
    whether a detached holder's job has ended (True/False) or cannot tell (None).
    """

    def __init__(self, output: str, command: str,
                 job_finished: Callable[[str], bool | None] = lambda job: None):
        self.output = output
        self.holder = Holder.new(command)
        self._job_finished = job_finished
        self._backend = _backend(output, self._is_live)
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.lost = False

    @property
    def token(self) -> str:
        return self.holder.token

    def _is_live(self, holder: Holder) -> bool:
        if holder.job:
            return self._job_finished(holder.job) is not True
        return heartbeat_is_recent(holder)

    def acquire(self, wait_seconds: float = 0.0,
                on_wait: Callable[[Holder | None], None] | None = None) -> Holder | None:
        """Take the lock; return the dead holder it took over from, if any."""
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            acquired, other = self._backend.try_acquire(self.holder)
            if acquired:
                break
            if time.monotonic() >= deadline:
                raise LockHeld(self.output, other)
            if on_wait and not told:
                on_wait(other)
                told = True
            time.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        if isinstance(self._backend, _ObjectLock):
            self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                          name="storywire-lock-heartbeat")
            self._beat.start()
        return other

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.holder = replace(self.holder, refreshed=time.time())
            if not self._backend.refresh(self.holder):
                self.lost = True
                return

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
            self._beat = None

    def hand_over(self, job: str) -> None:
        """Leave the lock to a detached job: it names the job, is no longer refreshed, and
        the job's commit releases it."""
        self._stop_heartbeat()
        self.holder = replace(self.holder, job=job, refreshed=time.time())
        self._backend.refresh(self.holder)
        self._backend = None

    def descriptors(self) -> tuple[int, ...]:
        """What a process that works for the holder inherits to hold the lock with it: a
        local lock's descriptor (its flock lasts while any process holding it lives);
        none for an object store's lock, which the holder's heartbeat keeps."""
        return getattr(self._backend, "descriptors", tuple)()

    def release(self) -> None:
        self._stop_heartbeat()
        if self._backend is not None:
            self._backend.release()
            self._backend = None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# --- On a worker, at commit time ------------------------------------------------------

def current_holder(output: str) -> Holder | None:
    """The holder the lock file of `output` names (None: no lock file, or empty)."""
    path = lock_path(output)
    if is_local(path):
        return Holder.decode(_read_file(path))
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as handle:
        return Holder.decode(handle.read())


def check_held(output: str, token: str) -> None:
    """Raise LockLost unless the lock of `output` names the holder `token`."""
    holder = current_holder(output)
    if holder is None or holder.token != token:
        who = holder.describe() if holder else "no one"
        raise LockLost(f"the lock on {output} is now held by {who}: this run does not "
                       "commit (its tables are as they were)")


def release_detached(output: str, token: str) -> None:
    """Release the lock a detached job holds, after its commit (only if it is its own)."""
    path = lock_path(output)
    if is_local(path):
        return  # local outputs are not run detached
    store = _GcsObject(path) if path.startswith("gs://") else _PlainObject(path)
    current = store.read()
    if current is not None:
        holder = Holder.decode(current[0])
        if holder is not None and holder.token == token:
            store.delete(if_generation=current[1])
