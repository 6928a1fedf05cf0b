"""Progress of a run on the terminal: input units read, records cleaned, the step running.

Beam's local runner reports metrics only when the whole run is over, so the steps that read
and clean also tally what they did into a small file of their own in a folder the
storywire process watches (`Tally`): written at most every FLUSH_SECONDS, so it costs
nothing per record. The process sums the files (`read_tallies`) and, for the local runner,
follows which step runs from the runner's stage log. On other runners the same figures come
from the job's metrics while it runs. `Progress` renders them: one line updated in place on
a terminal, a plain line every PLAIN_EVERY_SECONDS otherwise.

The tallies are for people only: no output depends on them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

READ = "read"        # input units read
CLEANED = "cleaned"  # records through cleaning (articles and rejects)
FLUSH_SECONDS = 0.5
REFRESH_SECONDS = 0.5
PLAIN_EVERY_SECONDS = 15.0


class Tally:
    """What one worker-side step instance did, tallied into its own file in `folder` (no
    folder: nothing is written). Create in a DoFn's setup(); `flush()` in finish_bundle()
    (a fast step may add all it does within one flush interval)."""

    def __init__(self, folder: str | None):
        self._folder = folder
        self._path = (os.path.join(folder, f"{os.getpid()}-{uuid.uuid4().hex}.json")
                      if folder else None)
        self._counts: Counter = Counter()
        self._flushed = 0.0

    def add(self, key: str, n: int = 1) -> None:
        if self._path is None:
            return
        self._counts[key] += n
        now = time.monotonic()
        if now - self._flushed >= FLUSH_SECONDS:
            self._flushed = now
            self.flush()

    def flush(self) -> None:
        if self._path is None or not self._counts:
            return
        try:
            with open(self._path + ".tmp", "w") as handle:
                json.dump(self._counts, handle)
            os.replace(self._path + ".tmp", self._path)
        except OSError:
            pass  # the folder is gone: the run is over, or the terminal no longer shows it


def read_tallies(folder: str) -> Counter:
    """The sum of every tally file in `folder`."""
    total: Counter = Counter()
    try:
        names = os.listdir(folder)
    except OSError:
        return total
    for name in names:
        if name.endswith(".json"):
            try:
                with open(os.path.join(folder, name)) as handle:
                    total.update(json.load(handle))
            except (OSError, ValueError):
                continue  # replaced while read: the next look sees it
    return total


def steps_of(stage: str) -> list[str]:
    """The top-level pipeline steps a fused stage name holds, in order: "Clean",
    "NewPerId", ... (Beam names fused transforms "ref_AppliedPTransform_Step-Sub_12" or
    "Step/Sub/Write", joined as "(a)+(b)")."""
    steps: list[str] = []
    for step in re.findall(r"(?:^|\()(?:ref_AppliedPTransform_)?([A-Za-z]\w*?)(?:_\d+\)|[-/])",
                           stage):
        if not step.startswith("ref_PCollection") and step not in steps:
            steps.append(step)
    return steps


# The local runner logs the start of every bundle of a stage here, at DEBUG.
STAGE_LOGGER = "apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle"
STAGE_STARTING = "Running bundle for stage "


class StageLog(logging.Handler):
    """Follows the local runner's stage log: the steps of the stage running now."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.steps: list[str] = []
        self.stages = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(STAGE_STARTING):
            steps = steps_of(message[len(STAGE_STARTING):].split("\n", 1)[0])
            if steps != self.steps:
                self.stages += 1
            self.steps = steps

    def __enter__(self) -> StageLog:
        logger = logging.getLogger(STAGE_LOGGER)
        self._saved = (logger.level, logger.propagate)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # followed here, not printed
        logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logger = logging.getLogger(STAGE_LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._saved[0])
        logger.propagate = self._saved[1]


def progress_line(counts: Counter, elapsed: float, rate: float | None,
                  steps: list[str]) -> str:
    """One line of progress: "1,204 input units read, 1,180 cleaned (45.2/s); at Clean"."""
    where = f"; at {'+'.join(steps[:3])}" if steps else ""
    if not counts.get(READ) and not counts.get(CLEANED):
        return f"storywire: running, nothing read yet{where} [{elapsed:.0f} s]"
    parts = [f"{counts.get(READ, 0):,} input units read",
             f"{counts.get(CLEANED, 0):,} cleaned"
             + (f" ({rate:.1f}/s)" if rate is not None else "")]
    return f"storywire: {', '.join(parts)}{where} [{elapsed:.0f} s]"


class CleaningRate:
    """Records cleaned per second, from the first record cleaned to the last one seen: the
    pace of the cleaning step, which does not fade once cleaning is over."""

    def __init__(self):
        self._first: float | None = None
        self._last_change = 0.0
        self._count = 0

    def update(self, now: float, count: int) -> float | None:
        if count and self._first is None:
            self._first = now
        if count != self._count:
            self._count, self._last_change = count, now
        if self._first is None or self._last_change - self._first < 2.0:
            return None
        return self._count / (self._last_change - self._first)


class Progress:
    """Shows progress while a run goes on: call `start()`, then `stop()` when it ends.
    `counts()` gives the figures so far (tallies or job metrics); `steps()` the step
    running, when known."""

    def __init__(self, counts: Callable[[], Counter],
                 steps: Callable[[], list[str]] = list, stream=None):
        self._counts = counts
        self._steps = steps
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="storywire-progress")
        self._thread.start()

    def _loop(self) -> None:
        started = time.monotonic()
        last_plain = started
        cleaning = CleaningRate()
        while not self._done.wait(REFRESH_SECONDS):
            now = time.monotonic()
            counts = self._counts()
            rate = cleaning.update(now, counts.get(CLEANED, 0))
            line = progress_line(counts, now - started, rate, self._steps())
            if self._tty:
                # Cut to the terminal's width: a line that wraps cannot be redrawn in place.
                width = shutil.get_terminal_size((100, 24)).columns
                self._stream.write("\r\x1b[K" + line[:max(width - 1, 20)])
                self._stream.flush()
                self._shown = True
            elif now - last_plain >= PLAIN_EVERY_SECONDS:
                last_plain = now
                print(line, file=self._stream, flush=True)

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._shown:  # clear the line, so the summary starts on a clean one
            self._stream.write("\r\x1b[K")
            self._stream.flush()
