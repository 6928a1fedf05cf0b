"""`storywire` with the local runner's stage timeline recorded, for the benchmarks.

    python benchmarks/stages.py TIMELINE.jsonl run --input ... --output ...

Beam's local runner runs the graph as fused stages, one after another, each split over
the workers; it logs the start of each. This entry point records those starts (wall clock)
with the pipeline steps each stage holds, and otherwise is `storywire` unchanged.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from storywire.transforms.progress import STAGE_LOGGER, STAGE_STARTING, steps_of


class _Timeline(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.starts: list[tuple[float, list[str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(STAGE_STARTING):
            stage = message[len(STAGE_STARTING):].split("\n", 1)[0]
            self.starts.append((time.time(), steps_of(stage)))


def main(argv: list[str]) -> int:
    path, args = argv[0], argv[1:]
    timeline = _Timeline()
    logger = logging.getLogger(STAGE_LOGGER)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # recorded here, not printed
    logger.addHandler(timeline)
    from storywire.pipeline.cli import main as storywire

    started = time.time()
    try:
        return storywire(args)
    finally:
        with open(path, "w") as out:
            out.write(json.dumps({"started": started, "ended": time.time()}) + "\n")
            for at, steps in timeline.starts:
                out.write(json.dumps({"at": at, "steps": steps}) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
