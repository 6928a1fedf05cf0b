"""A time limit on one call, enforced by running it in a child process.

HTML extraction can stall on a pathological page. Beam runs DoFns in worker threads, where
signal-based alarms do not work, and a thread cannot be stopped; a child process can be
killed. The child is started once and reused, so each call costs a round trip through a
pipe, not a process start; one that overruns is killed and a fresh child started. (Not a
multiprocessing Pool: a Pool replaces a child that died, but the call it was making is
lost, and the caller waits for it until the time limit.)
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
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


def _serve(function: Callable[..., Any], calls) -> None:
    """The child's loop: call `function` with each argument tuple received on `calls`, and
    send back (True, result) or (False, the exception), until the parent closes it."""
    _quiet_child()
    while True:
        try:
            args = calls.recv()
        except EOFError:
            return  # the parent closed the pipe, or is gone
        try:
            answer = (True, function(*args))
        except Exception as err:  # noqa: BLE001 - the parent decides what an error means
            answer = (False, err)
        try:
            calls.send(answer)
        except (pickle.PicklingError, TypeError, AttributeError):
            calls.send((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))


class ChildLost(Exception):
    """The child process ended during a call, twice in a row: the call is given up."""


class TimeLimited:
    """Calls `function` in a child process, at most `seconds` each. Not picklable: create
    it in a DoFn's setup() and close() it in teardown().

    A child that ends during a call (killed by the kernel's out-of-memory killer or by a
    user, or crashed in a C library) is seen at once, not when the time limit is up: the
    call is made again in a fresh child, and a call that ends that one too raises
    ChildLost."""

    def __init__(self, function: Callable[..., Any], seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self._function = function
        self._seconds = seconds
        self._child = None
        self._calls = None

    def __call__(self, *args: Any) -> Any:
        for attempt in (1, 2):
            if self._child is None:
                self._start()
            try:
                self._calls.send(args)
                # Ready when the answer comes, or when the child ends (the pipe closes).
                if not self._calls.poll(self._seconds):
                    self.close()
                    raise TimedOut(f"took over {self._seconds:g} s")
                ok, value = self._calls.recv()
            except (EOFError, OSError):
                self._child.join(1)
                ended = self._child.exitcode
                self.close()
                if attempt == 2:
                    raise ChildLost(f"the cleaning process {_how_it_ended(ended)} twice on "
                                    "this page") from None
                continue
            if ok:
                return value
            raise value
        raise AssertionError("unreachable")

    def _start(self) -> None:
        # spawn, not fork: a Beam worker is a multithreaded gRPC process.
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(target=_serve, args=(self._function, theirs), daemon=True,
                                name="storywire-html-cleaning")
        try:
            child.start()
        finally:
            theirs.close()  # the child's end: it alone holds it, so its end closes the pipe
        self._child, self._calls = child, ours  # started: close() ends it

    def close(self) -> None:
        if self._child is not None:
            self._calls.close()
            self._child.kill()
            self._child.join()
            self._child.close()
            self._child = self._calls = None


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        from storywire.pipeline.lostworkers import signal_name

        return f"was ended by {signal_name(-exitcode)}"
    return f"ended (exit status {exitcode})"
