"""A worker process that ends while a run goes, said in one line.

When a worker process of the local runner ends in the middle of a run (the kernel's
out-of-memory killer, a user's `kill`), Beam's threads each print the traceback of what
they lost (the worker's exit, its control and data connections) and the run fails with
"Channel closed prematurely", which does not say what happened. While a pipeline runs,
`WatchWorkers` holds back the errors of Beam's threads and of its runner's logs for
`HOLD_SECONDS`. Once one of them says a worker process exited, the run's failure is a
WorkerLost that says how it ended, and the held errors, which follow from it, are dropped;
without one, they are printed as they would have been, a moment later.

A worker that ends before it has connected leaves Beam's runner waiting for it for good:
if the run has not failed `HOLD_SECONDS` after a worker's exit, the main thread is sent
`ABANDON_SIGNAL`, whose handler (only while the run goes) raises RunAbandoned there. A
signal of its own, not SIGINT: a run in parts ignores SIGINT in the part's process, and
`storywire watch` takes it for the user's Ctrl-C.

A run stopped while it goes (Ctrl-C, SIGTERM: whatever raises KeyboardInterrupt in the
main thread) would wait as Beam stops its workers, and Beam waits for a worker to end that
never will when it had not connected yet (or for a busy one to finish its bundle); one
still starting when the run has unwound keeps the process from exiting, as Beam's thread
waits for it. And a worker Beam stops prints the errors of the bundle it was in. So the
run's worker processes are killed `STOP_WORKERS_SECONDS` after the stop, again while the
run unwinds, and once more when it has: the run is abandoned anyway, and what it had not
committed is not in the tables (a commit is made so that a kill at any point is safe).
A second Ctrl-C while the run stops is let go: it would break off Beam's clean-up, whose
threads would then keep the process from exiting.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from contextlib import contextmanager

HOLD_SECONDS = 5.0
# A shell command's prefix that has the program it runs ignore Ctrl-C, SIGHUP and SIGTERM
# from its start (an ignored signal stays ignored across exec): the run's child processes
# (parts, workers) leave stopping to the run, whose terminal or service manager sends
# these to every process of its group (`storywire watch` finishes its batch on the first),
# and one hit while Python starts would print a fatal error of its own. The run ends its
# workers with SIGKILL (a worker whose run is gone ends itself), and stops a part with
# PART_STOP; the kernel sends a part RUN_GONE when the run's process ends.
IGNORING_STOPS = "trap '' INT HUP TERM; exec "
PART_STOP = signal.SIGUSR2
RUN_GONE = signal.SIGRTMIN + 1
ABANDON_SIGNAL = signal.SIGUSR1
STOP_WORKERS_SECONDS = 0.0
# How long a run that has unwound waits for Beam to take note of its killed workers.
REAP_SECONDS = 2.0
# The signals that stop a run (cli.main has SIGHUP, a closed terminal, stop it too), or a
# part of one.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, PART_STOP, RUN_GONE)
# The command lines of the local runner's worker processes (storywire's, Beam's own).
_WORKER_MODULES = (b"storywire.pipeline.worker", b"apache_beam.runners.worker.sdk_worker_main")
# How Beam's local runner reports a worker process that ended (local_job_service.py).
_WORKER_EXIT = re.compile(r"Worker subprocess exited with return code (-?\d+)")
_RUNNER_LOGS = "apache_beam.runners"


class WorkerLost(Exception):
    """A run failed because one of its worker processes ended; the message says how."""


class RunAbandoned(BaseException):
    """Raised in the main thread of a run that waits for a worker process that is gone.
    Not an Exception: Beam's own handlers must let it through."""


def signal_name(number: int) -> str:
    """A signal's name ("SIGKILL"), or "signal N" for a number without one."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def how_it_ended(code: int) -> str:
    """A worker's end in words, from its return code (negative: the signal that ended it)."""
    if code < 0:
        name = signal_name(-code)
        why = ("; when memory runs out, the kernel kills the largest process (`dmesg` says "
               "whether it did), and fewer --direct_num_workers or a smaller "
               "--max_batch_articles use less" if -code == signal.SIGKILL else "")
        return f"a worker process was ended by {name} during the run{why}"
    return f"a worker process ended with exit status {code} during the run"


@contextmanager
def stop_signals_let_go():
    """While in it, Ctrl-C, SIGTERM and SIGHUP are ignored (set in the main thread only):
    for the clean-up after a stop, which another such signal would break off."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # ended meanwhile


def worker_processes(parent: int) -> list[int]:
    """The local runner's worker processes that `parent` started (from Linux's /proc;
    none found elsewhere)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                their_parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
            if their_parent != parent:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        if any(module in command for module in _WORKER_MODULES):
            found.append(int(entry))
    return found


class WatchWorkers:
    """While in it: errors of Beam's threads and runner logs are held back, a worker
    process's exit is recorded (`lost`: what to tell the user, or None), and a run stopped
    by a signal ends its workers `stop_seconds` later if Beam has not."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS,
                 stop_seconds: float = STOP_WORKERS_SECONDS):
        self._hold = hold_seconds
        self._stop_seconds = stop_seconds
        self._stopping = False  # the run was stopped: what its workers do is of no concern
        self._held: list[tuple[float, object]] = []  # (when, thread hook args or log record)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.lost: str | None = None

    def __enter__(self) -> WatchWorkers:
        self._previous_hook = threading.excepthook
        threading.excepthook = self._thread_error
        self._handlers = logging.getLogger().handlers
        for handler in self._handlers:
            handler.addFilter(self._runner_log)
        self._releaser = threading.Thread(target=self._release_late, daemon=True,
                                          name="storywire-held-errors")
        self._releaser.start()
        self._timer: threading.Timer | None = None
        self._previous_handler = None
        self._previous_stop: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():  # where handlers run
            self._previous_handler = signal.signal(ABANDON_SIGNAL, self._abandon)
            for signum in STOP_SIGNALS:  # those that stop the run: ignored ones are not
                handler = signal.getsignal(signum)
                if callable(handler):
                    self._previous_stop[signum] = signal.signal(signum, self._stop_signal)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._stopping:
                self._end_lingering_workers()
            with self._lock:  # no signal is sent after this
                self._done.set()
                if self._timer is not None:
                    self._timer.cancel()
            self._releaser.join()
        finally:
            threading.excepthook = self._previous_hook
            for handler in self._handlers:
                handler.removeFilter(self._runner_log)
            if self._previous_handler is not None:
                signal.signal(ABANDON_SIGNAL, self._previous_handler)
            for signum, handler in self._previous_stop.items():
                signal.signal(signum, handler)
        self._release(before=float("inf"))

    @property
    def stopped(self) -> bool:
        """Whether a signal stopped the run (Ctrl-C, SIGTERM)."""
        return self._stopping

    def _thread_error(self, args) -> None:
        match = _WORKER_EXIT.search(str(args.exc_value))
        with self._lock:
            if self.lost is not None or self._stopping:
                return  # what follows from the lost worker, or from the stop
            if not match:
                self._held.append((time.monotonic(), args))
                return
            self.lost = how_it_ended(int(match.group(1)))
            if self._previous_handler is not None and not self._done.is_set():
                self._timer = threading.Timer(self._hold, self._stop_waiting)
                self._timer.daemon = True
                self._timer.start()

    def _stop_waiting(self) -> None:
        """Abandon a run still going long after a worker process ended."""
        with self._lock:
            if not self._done.is_set():
                signal.pthread_kill(threading.main_thread().ident, ABANDON_SIGNAL)

    def _abandon(self, signum, frame) -> None:
        # Only ours: not one sent just as the run ended, nor one sent by someone else.
        if self.lost is not None and not self._done.is_set():
            raise RunAbandoned(self.lost)

    def _stop_signal(self, signum, frame) -> None:
        """The handler the run had, and if it stops the run, the workers' end after
        `stop_seconds`."""
        with self._lock:
            if self._stopping and not self._done.is_set():
                # Stopping already: the workers end within `stop_seconds`. Another
                # interrupt would break off Beam's clean-up, whose threads then keep the
                # process from ever exiting.
                return
        try:
            self._previous_stop[signum](signum, frame)
        except BaseException:
            with self._lock:
                start = not self._stopping and not self._done.is_set()
                self._stopping = True
            if start:
                threading.Thread(target=self._end_workers, daemon=True,
                                 name="storywire-end-workers").start()
            raise

    def _end_workers(self) -> None:
        # Until the run has unwound: a worker Beam was starting shows up a moment later.
        wait = self._stop_seconds
        while not self._done.wait(wait):
            _kill(worker_processes(os.getpid()))
            wait = 0.2

    def _end_lingering_workers(self) -> None:
        """Kill the workers a stopped run left, and wait (a while) until Beam's threads
        have seen them end: their errors are dropped only while the run is watched."""
        left = worker_processes(os.getpid())
        _kill(left)
        deadline = time.monotonic() + REAP_SECONDS
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [pid for pid in left if os.path.exists(f"/proc/{pid}")]  # not reaped
        if not left:
            time.sleep(0.05)  # the reaping thread raises just after

    def _runner_log(self, record: logging.LogRecord) -> bool:
        if (record.levelno < logging.ERROR or not record.name.startswith(_RUNNER_LOGS)
                or getattr(record, "storywire_released", False)):
            return True
        with self._lock:
            if self.lost is None and not self._stopping:
                self._held.append((time.monotonic(), record))
        return False

    def _release_late(self) -> None:
        while not self._done.wait(0.5):
            self._release(before=time.monotonic() - self._hold)

    def _release(self, before: float) -> None:
        """Print what was held since before `before`, unless a worker was lost or the run
        was stopped."""
        with self._lock:
            due = [item for when, item in self._held if when <= before]
            self._held = [(when, item) for when, item in self._held if when > before]
            if self.lost is not None or self._stopping:
                return
        for item in due:
            if isinstance(item, logging.LogRecord):
                item.storywire_released = True
                for handler in self._handlers:
                    handler.handle(item)
            else:
                self._previous_hook(item)
