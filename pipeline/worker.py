"""Entry point of the local runner's worker processes: Beam's SDK worker, minus its noise.

Beam's worker logs at start-up through the root logger before it has a handler of its own,
so Python prints every such line to the terminal, and the runner then prints it a second
time. Here the root logger gets a handler first, and the worker's start-up notices (no
staged main session, which storywire does not use) are kept below warning level; warnings
from storywire's own code still reach the user, once, through the runner. Workers ignore
SIGINT: the main process stops them.
"""

import logging
import signal
import sys

from storywire.pipeline.memory import hand_back_freed_memory


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group; the main process decides what
    # stops (`storywire watch` finishes its batch first), so workers carry on until told.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hand_back_freed_memory()
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger("apache_beam.runners.worker.sdk_worker_main").setLevel(logging.ERROR)
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
