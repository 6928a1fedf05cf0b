"""Entry point of the local runner's worker processes: Beam's SDK worker, minus its noise.

Beam's worker logs at start-up through the root logger before it has a handler of its own,
so Python prints every such line to the terminal, and the runner then prints it a second
time. Here the root logger gets a handler first, and the worker's start-up notices (no
staged main session, which storywire does not use) are kept below warning level; warnings
from storywire's own code still reach the user, once, through the runner. Workers ignore
Ctrl-C, SIGHUP and SIGTERM (their command has them ignored from the start, see
options.make_runner): the main process stops them. A worker whose main process is gone
(killed, say by the kernel's out-of-memory killer) ends too, within a second, instead of
living on. (Its gRPC threads may still print the errors of the lost connection in that
second.)
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
    hand_back_freed_memory()
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger("apache_beam.runners.worker.sdk_worker_main").setLevel(logging.ERROR)
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
