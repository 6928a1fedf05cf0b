"""`storywire stream --replay FILE.jsonl`: the stream pipeline on Beam's local streaming
runner, fed from a file instead of Pub/Sub, so a stream job can be tried (and scored)
before it is deployed.

Records arrive in file order on a replay clock: a dated record at its published time (or,
published before the clock, at the clock: it is then late, as it would be in a live
stream), an undated one `--replay_interval_seconds` after the record before it. The
watermark follows the clock. Nothing waits for real time: a feed spread over years
replays in the time its windows take to process.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

from storywire.transforms.clean.cleaning import to_micros
from storywire.transforms.clean.dates import parse_date
from storywire.transforms.read.inputs import is_blank_line, is_compressed, line_text
from storywire.transforms.read.wide import as_utf8

_log = logging.getLogger(__name__)
# Where the replay clock starts for a file that opens with undated records.
REPLAY_START = 946_684_800_000_000  # 2000-01-01T00:00:00Z, in microseconds
# After the last record, the processing time the runner is moved on by, in steps, so late
# panes (which fire a while after their first record) fire before the replay ends.
_LATE_STEPS, _STEP_SECONDS = 40, 60


@dataclass(frozen=True)
class Arrival:
    line: int      # 1-based line of the file
    data: bytes    # the line as the message's data
    at: int        # microseconds: when it arrives on the replay clock


def arrivals(path: str, interval_seconds: float, start: int = REPLAY_START
             ) -> Iterator[Arrival]:
    """The file's records on the replay clock, in file order. The clock starts at the first
    dated record's time, or `start` when the file opens with undated ones (a fixed time:
    the same file replays the same way at any hour)."""
    clock: int | None = None
    step = int(interval_seconds * 1_000_000)
    with _open(path) as handle:
        for number, line in enumerate(_readable_lines(as_utf8(handle), path), start=1):
            if is_blank_line(line):
                continue
            published = _published(line)
            if published is not None:
                clock = published if clock is None else max(clock, published)
            else:
                clock = start if clock is None else clock + step
            # Beam's test stream keeps times in whole milliseconds.
            yield Arrival(number, line.rstrip(b"\r\n"), clock - clock % 1000)


def _readable_lines(lines, path: str) -> Iterator[bytes]:
    """The lines of a file up to where it stops decoding (a UTF-16 file that ends inside a
    character): those before stand, as in a run, and a warning says where it stopped."""
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            yield line
    except UnicodeDecodeError as err:
        where = (f"from line {number + 1:,} on ({err}): the lines before it are replayed"
                 if number else f"from its start ({err})")
        _log.warning("%s: unreadable %s", path, where)


def _open(path: str):
    """The file's lines as bytes; a .jsonl.gz unpacked as it is read. (Read through
    as_utf8, a file in UTF-16 or UTF-32 gives its lines in UTF-8, as `storywire run` reads
    it.)"""
    if is_compressed(path):
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115


def _published(line: bytes) -> int | None:
    """The record's published time in microseconds, if it gives one that parses. A line
    that is no JSON record still arrives: the stream rejects it as it would a message."""
    try:
        record = json.loads(line_text(line))
        parsed = parse_date(record.get("published")) if isinstance(record, dict) else None
    except (ValueError, TypeError):  # NotText is a ValueError
        return None
    return to_micros(parsed) if parsed is not None else None


def replay_stream(path: str, interval_seconds: float, start: int, lateness_seconds: float):
    """A Beam TestStream of the file's records as Pub/Sub messages (message id: the line).

    The watermark is what a perfect source would give: the earliest event time of the
    records still to come (streaming.event_time of each). A feed in date order has it at
    the replay clock; a record published before records already replayed holds it back
    just enough, so no record of a replay is late data and no window waits on a late pane.
    """
    import apache_beam as beam
    from apache_beam.io.gcp.pubsub import PubsubMessage
    from apache_beam.testing.test_stream import TestStream
    from apache_beam.utils.timestamp import Timestamp

    from storywire.transforms.streaming import event_time

    lateness = int(lateness_seconds * 1_000_000)
    records = list(arrivals(path, interval_seconds, start))
    # The earliest event time from each record on, in whole milliseconds as Beam keeps them.
    still_to_come, earliest = [], None
    for arrival in reversed(records):
        when = event_time(_published(arrival.data), arrival.at, lateness)
        earliest = when if earliest is None else min(earliest, when)
        still_to_come.append(earliest - earliest % 1000)
    still_to_come.reverse()
    stream = TestStream()
    watermark = None
    for arrival, earliest in zip(records, still_to_come):
        if watermark is None or earliest > watermark:
            watermark = earliest
            stream = stream.advance_watermark_to(Timestamp(micros=watermark))
        message = PubsubMessage(arrival.data, {}, message_id=str(arrival.line))
        stream = stream.add_elements(
            [beam.window.TimestampedValue(message, Timestamp(micros=arrival.at))])
    for _ in range(_LATE_STEPS):
        stream = stream.advance_processing_time(_STEP_SECONDS)
    return stream.advance_watermark_to_infinity()


def replay(options, path: str, build) -> float:
    """Run the stream built by `build(messages)` on the local streaming runner, fed from
    `path`; the seconds it took."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner

    from storywire.pipeline.lostworkers import stop_signals_let_go
    from storywire.pipeline.options import StreamOptions

    options.view_as(StandardOptions).streaming = True
    stream_options = options.view_as(StreamOptions)
    interval = stream_options.replay_interval_seconds
    lateness = stream_options.allowed_lateness_hours * 3600
    started = time.perf_counter()
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    try:
        build(pipeline | "Replay" >> replay_stream(path, interval, REPLAY_START, lateness))
        result = pipeline.run()
    finally:  # Beam removes it as the pipeline runs: not if stopped before
        shutil.rmtree(pipeline.local_tempdir, ignore_errors=True)
    try:
        result.wait_until_finish()
    except BaseException:
        # The runner's threads would go on writing windows while the caller cleans up: stop
        # them, and wait for the work they are in to end.
        with stop_signals_let_go():
            result.cancel()
        raise
    return time.perf_counter() - started
