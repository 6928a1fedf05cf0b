"""Entry point of the local runner's worker processes: Beam's SDK worker, minus its noise.

Beam's worker logs at start-up through the root logger before it has a handler of its own,
so Python prints every such line to the terminal, and the runner then prints it a second
time. Here the root logger gets a handler first, and the worker's start-up notices (no
staged main session, which storywire does not use) are kept below warning level; warnings
from storywire's own code still reach the user, once, through the runner. Workers ignore
Ctrl-C, SIGHUP and SIGTERM (their command has them ignored from the start, see
options.make_runner): the main process stops them. A worker whose main process is gone
(killed, say by the kernel's out-of-memory killer) ends too, within a second, instead of
living on, and without a word: the errors of the lost connection that its threads raise
(and Beam's log client prints) as the main process dies end it at once, unprinted.
"""

import logging
import os
import signal
import sys
import threading
import time

from storywire.pipeline.memory import hand_back_freed_memory

# How often a worker looks whether the process that started it is still there.
ORPHAN_CHECK_SECONDS = 1.0
# How long an error waits to be told whether the main process is gone: the kernel hands
# its children to another parent just after it closes their connections to it.
LOST_PARENT_SECONDS = 2.0
# What Beam's log client prints when its connection to the runner breaks.
_LOST_LOG_CLIENT = "Logging client failed"


def _orphaned(parent: int, within: float = LOST_PARENT_SECONDS) -> bool:
    """Whether `parent` is no longer this process's parent, or is not within `within` s."""
    deadline = time.monotonic() + within
    while os.getppid() == parent:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def quiet_when_orphaned(parent: int) -> None:
    """An uncaught error in any thread, or the log client's failure, ends this process
    without a word when `parent` is gone: it is the connection to it breaking. While
    `parent` lives, they are reported as before."""

    def silenced(report):
        def hook(*args) -> None:
            if _orphaned(parent):
                os._exit(1)
            report(*args)
        return hook

    threading.excepthook = silenced(threading.excepthook)
    sys.excepthook = silenced(sys.excepthook)
    sys.stderr = _LostLogClient(sys.stderr, parent)


class _LostLogClient:
    """Standard error, except Beam's log client's report of its lost connection once the
    main process is gone (it prints that itself, and carries on)."""

    def __init__(self, stream, parent: int):
        self._stream = stream
        self._parent = parent

    def write(self, text: str) -> int:
        if text.startswith(_LOST_LOG_CLIENT) and _orphaned(self._parent):
            os._exit(1)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def end_when_orphaned(parent: int, every: float = ORPHAN_CHECK_SECONDS) -> threading.Thread:
    """Watch, from a thread of this process's own, for `parent` to be gone (this process
    then has another parent: it was handed to init or a subreaper) and end the process
    at once: there is nobody left to report to."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    watcher = threading.Thread(target=watch, name="storywire-orphan-check", daemon=True)
    watcher.start()
    return watcher


# The process that cleans up after the HTML cleaning child (multiprocessing's resource
# tracker) outlives a worker that was killed, and would then warn of the child's "leaked
# semaphore objects" as it cleans them up: noise after the run's own line.
QUIET_RESOURCE_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group; the main process decides what
    # stops (`storywire watch` finishes its batch first), so workers carry on until told.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["PYTHONWARNINGS"] = ",".join(
        filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_RESOURCE_TRACKER]))
    end_when_orphaned(os.getppid())
    quiet_when_orphaned(os.getppid())
    hand_back_freed_memory()
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger("apache_beam.runners.worker.sdk_worker_main").setLevel(logging.ERROR)
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
