"""The pieces a stream needs around the batch transforms: messages in, event time, windows,
and Parquet files written per window and pane."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Timestamp

from storywire.transforms.metrics import (
    FILES_WRITTEN,
    INPUT_UNITS,
    STREAM_EVENT_TIMES_CLAMPED,
    STREAM_FILE_NOTIFICATIONS,
    STREAM_NOTIFICATIONS_IGNORED,
    counter,
)
from storywire.transforms.paths import delete_files
from storywire.transforms.read.decode import NotText
from storywire.transforms.read.inputs import is_supported, line_text, parse_jsonl_line
from storywire.transforms.records import REJECTS, Reject, excerpt
from storywire.transforms.write.parquet import (
    STAGING_DIR,
    STREAM_FILE_PREFIX,
    make_parent,
    partition_of,
    to_arrow,
    write_parquet,
)

FILES = "files"
DEFAULT_WINDOW_MINUTES = 10.0
DEFAULT_ALLOWED_LATENESS_HOURS = 24.0
LATE_PANE_DELAY = 30  # seconds a late pane waits for the rest of its records
DEFAULT_SHARDS = 1  # files per table, partition, window and pane


def gcs_notification_path(attributes: dict[str, str]) -> str | None:
    """The gs:// path a Cloud Storage notification names, for a finished upload of an
    article file. Other objects (the stream's own Parquet files, if the notifications
    cover its output too) are no input: reading them as rejects would write more files."""
    if attributes.get("eventType") != "OBJECT_FINALIZE":
        return None
    bucket, name = attributes.get("bucketId"), attributes.get("objectId")
    if not bucket or not name or not is_supported(name):
        return None
    return f"gs://{bucket}/{name}"


def event_time(published_at: int | None, arrival: int, lateness: int) -> int:
    """An article's event time (microseconds): its publication time when known, else its
    arrival; kept within the allowed lateness behind arrival and never after it, so an
    old or future date cannot make a record be dropped as late or hold windows open."""
    if published_at is None:
        return arrival
    return min(arrival, max(published_at, arrival - lateness))


class _ParseMessage(beam.DoFn):
    """A Pub/Sub message: an article record as JSON (main output), or a Cloud Storage
    notification naming a file to read (tagged `files`), or a reject."""

    def __init__(self, source: str, replayed: bool):
        self._source = source
        self._replayed = replayed
        self.units = counter(INPUT_UNITS)
        self.notifications = counter(STREAM_FILE_NOTIFICATIONS)
        self.ignored = counter(STREAM_NOTIFICATIONS_IGNORED)

    def process(self, message):
        attributes = dict(getattr(message, "attributes", None) or {})
        path = gcs_notification_path(attributes)
        if path is not None:
            self.notifications.inc()
            yield beam.pvalue.TaggedOutput(FILES, path)
        elif attributes.get("eventType"):
            # Other storage events (deletes, metadata updates, files of other kinds) name
            # no new article; counted, not rejected.
            self.ignored.inc()
        else:
            self.units.inc()
            yield self._record(message)

    def _record(self, message):
        data = getattr(message, "data", message)
        message_id = getattr(message, "message_id", None)
        if self._replayed:  # the id is the line number: named as `storywire run` names it
            uri, number = self._source, int(message_id)
        else:
            uri, number = (f"{self._source}#{message_id}" if message_id else self._source), None
        try:
            line = line_text(data)  # as `storywire run` reads a line of a JSONL file
        except NotText as err:
            return beam.pvalue.TaggedOutput(REJECTS, Reject(
                uri, number, None, "decode", f"message: {err}", excerpt(data)))
        parsed = parse_jsonl_line(line, uri, number)
        return beam.pvalue.TaggedOutput(REJECTS, parsed) if isinstance(parsed, Reject) else parsed


class ParseMessages(beam.PTransform):
    """Messages to raw records (main), file paths (`files`) and rejects (`rejects`).
    `replayed`: the messages are the lines of the file `source`, each with its line number
    as its id (`storywire stream --replay`), and their records and rejects are named by
    that file and line, as a run over the file names them: a run after the replay then
    finds its rejects recorded."""

    def __init__(self, source: str, replayed: bool = False):
        super().__init__()
        self._source = source
        self._replayed = replayed

    def expand(self, messages):
        return messages | beam.ParDo(_ParseMessage(self._source, self._replayed)).with_outputs(
            FILES, REJECTS, main="records")


class _EventTime(beam.DoFn):
    def __init__(self, lateness: int):
        self._lateness = lateness
        self.clamped = counter(STREAM_EVENT_TIMES_CLAMPED)

    def process(self, article, arrival=beam.DoFn.TimestampParam):
        arrived = arrival.micros
        when = event_time(article.published_at, arrived, self._lateness)
        if article.published_at is not None and when != article.published_at:
            self.clamped.inc()
        yield window.TimestampedValue(article, Timestamp(micros=when))


class AtEventTime(beam.PTransform):
    """Articles stamped with their event time (see `event_time`)."""

    def __init__(self, lateness_seconds: float):
        super().__init__()
        self._lateness = int(lateness_seconds * 1_000_000)

    def expand(self, articles):
        return articles | beam.ParDo(_EventTime(self._lateness))


def fixed_windows(minutes: float, lateness_hours: float) -> beam.WindowInto:
    """Fixed windows that fire when the watermark passes them, then for late records (up to
    the allowed lateness) a while after the first one arrives; each pane holds only what
    is new. The wait gathers what belongs together: the steps of a window join several
    collections derived from the same records, and a pane per record would split them."""
    return beam.WindowInto(
        window.FixedWindows(minutes * 60),
        trigger=trigger.AfterWatermark(late=trigger.AfterProcessingTime(LATE_PANE_DELAY)),
        allowed_lateness=int(lateness_hours * 3600),
        accumulation_mode=trigger.AccumulationMode.DISCARDING)


class _WritePane(beam.DoFn):
    """One file per (partition, shard) of a window's pane, written aside, then renamed in:
    readers never see a half-written file, and a retried bundle writes the same name."""

    def __init__(self, table: str, output: str, job: str):
        self._table = table
        self._output = output
        self._job = job
        self.files = counter(FILES_WRITTEN)

    def process(self, keyed, win=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):
        (partition, shard), rows = keyed
        start = win.start.to_utc_datetime().strftime("%Y%m%dT%H%M%SZ")
        # The job's start is in the name: a later job writing the same window's panes
        # (after a restart) adds files, it does not replace an earlier job's.
        name = f"{STREAM_FILE_PREFIX}{start}-j{self._job}-p{pane.index:04d}-{shard:05d}.parquet"
        relative = f"{partition}/{name}" if partition else name
        final = FileSystems.join(self._output, self._table, relative)
        aside = FileSystems.join(self._output, STAGING_DIR, "stream", self._table, relative)
        write_parquet(aside, to_arrow(self._table, list(rows)))
        if FileSystems.exists(final):
            delete_files([final])
        make_parent(final)
        FileSystems.rename([aside], [final])
        self.files.inc()
        yield self._table, final


class WriteWindowedTable(beam.PTransform):
    """Rows of a windowed stream to Parquet files of one table, per window and pane, under
    the same Hive layout as a batch run."""

    def __init__(self, table: str, output: str, ingested_at: int,
                 shards: int = DEFAULT_SHARDS):
        super().__init__()
        self._table = table
        self._output = output
        self._job = Timestamp(micros=ingested_at).to_utc_datetime().strftime("%Y%m%dT%H%M%SZ")
        self._shards = shards

    def expand(self, rows):
        table, shards = self._table, self._shards
        return (
            rows
            | "Shard" >> beam.Map(lambda r: (
                (partition_of(table, r), _shard_of(r, table, shards)), r))
            | "GroupFiles" >> beam.GroupByKey()
            | "WriteFiles" >> beam.ParDo(_WritePane(table, self._output, self._job))
        )


def _shard_of(row: dict, table: str, shards: int) -> int:
    from storywire.schemas import TABLES
    from storywire.transforms.records import stable_id

    key = row[TABLES[table].sort_columns[0]]
    return int(stable_id(key, row.get("line")), 16) % shards

