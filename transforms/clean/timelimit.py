"""A time limit on one call, enforced by running it in a child process.

HTML extraction can stall on a pathological page. Beam runs DoFns in worker threads, where
signal-based alarms do not work, and a thread cannot be stopped; a child process can be
killed. The child is started once and reused, so each call costs a round trip through a
pipe, not a process start; one that overruns is killed and a fresh child started.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 60.0


class TimedOut(Exception):
    """The call ran over its time limit and was abandoned."""


class _ParentReports:
    """The child's stderr, minus the report of a crash that only says its parent went away
    (killed, or closing the child as it tears down): the parent has said what happened,
    and the broken pipe's traceback would follow the run's own line."""

    _LOST_PARENT = ("BrokenPipeError", "ConnectionResetError", "EOFError")
    # How Python joins the tracebacks of an error raised while handling another.
    _CHAINED = ("During handling of the above exception",
                "The above exception was the direct cause")

    def __init__(self, stream, parent: int):
        self._stream = stream
        self._parent = parent
        self._report: list[str] | None = None

    def write(self, text: str) -> int:
        if self._report is None and text.startswith("Process "):
            self._report = []  # multiprocessing's report of a crash begins so
        if self._report is None:
            return self._stream.write(text)
        self._report.append(text)
        return len(text)

    def flush(self) -> None:
        # multiprocessing flushes stderr once the report is written, as the child ends.
        report, self._report = "".join(self._report or []), None
        last = report.rstrip().rsplit("\n", 1)[-1]
        # A crash of its own that ends in a broken pipe (chained tracebacks) still shows.
        lost_parent = last.startswith(self._LOST_PARENT) and not any(
            chained in report for chained in self._CHAINED)
        if report and os.getppid() == self._parent and not lost_parent:
            self._stream.write(report)
        self._stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _quiet_child() -> None:
    import logging
    import signal
    import sys

    from storywire.pipeline.memory import hand_back_freed_memory

    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hand_back_freed_memory()
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    sys.stderr = _ParentReports(sys.stderr, os.getppid())


class TimeLimited:
    """Calls `function` in a child process, at most `seconds` each. Not picklable: create
    it in a DoFn's setup() and close() it in teardown()."""

    def __init__(self, function: Callable[..., Any], seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self._function = function
        self._seconds = seconds
        self._pool = None

    def __call__(self, *args: Any) -> Any:
        if self._pool is None:
            # spawn, not fork: a Beam worker is a multithreaded gRPC process.
            self._pool = multiprocessing.get_context("spawn").Pool(1, initializer=_quiet_child)
        pending = self._pool.apply_async(self._function, args)
        try:
            return pending.get(self._seconds)
        except multiprocessing.TimeoutError:
            self.close()
            raise TimedOut(f"took over {self._seconds:g} s") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
