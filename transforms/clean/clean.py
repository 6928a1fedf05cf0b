"""Raw records to clean articles, in Beam: the cleaning itself is in cleaning.py."""

from __future__ import annotations

import logging

import apache_beam as beam

from storywire.transforms.clean.cleaning import clean_record
from storywire.transforms.clean.timelimit import DEFAULT_TIMEOUT_SECONDS, TimedOut, TimeLimited
from storywire.transforms.metrics import (
    ARTICLES_CLEANED,
    ARTICLES_WITH_DATE,
    CLEAN_TIMEOUTS,
    counter,
)
from storywire.transforms.progress import CLEANED, Tally
from storywire.transforms.records import REJECTS, RawRecord, Reject, excerpt


class _Clean(beam.DoFn):
    def __init__(self, timeout_seconds: float, progress: str | None):
        self._timeout_seconds = timeout_seconds
        self._progress = progress
        self.cleaned = counter(ARTICLES_CLEANED)
        self.dated = counter(ARTICLES_WITH_DATE)
        self.timed_out = counter(CLEAN_TIMEOUTS)

    def setup(self):
        # HTML extraction runs in a child process that is killed if it overruns; our own
        # text cleaner is linear in the text and runs here.
        self._limited_clean = TimeLimited(clean_record, self._timeout_seconds)
        # trafilatura warns about every page it finds no body in ("discarding data"); that
        # page becomes a reject row with the reason, so the warning only adds noise.
        logging.getLogger("trafilatura").setLevel(logging.ERROR)
        # Cleaning is the long step of a run: how far it got shows on the terminal.
        self._tally = Tally(self._progress)

    def finish_bundle(self):
        self._tally.flush()

    def teardown(self):
        self._limited_clean.close()

    def process(self, record: RawRecord):
        self._tally.add(CLEANED)
        try:
            out = self._limited_clean(record) if record.kind == "html" else clean_record(record)
        except TimedOut as err:
            self.timed_out.inc()
            out = Reject(record.input_uri, record.line, record.article_id, "clean",
                         f"cleaning the html {err}: abandoned (--clean_timeout_seconds)",
                         excerpt(record.body))
        except Exception as err:  # noqa: BLE001 - one bad page must not fail the bundle
            out = Reject(record.input_uri, record.line, record.article_id, "clean",
                         f"{type(err).__name__}: {err}", excerpt(record.body))
        if isinstance(out, Reject):
            yield beam.pvalue.TaggedOutput(REJECTS, out)
            return
        self.cleaned.inc()
        if out.published_at is not None:
            self.dated.inc()
        yield out


class CleanArticles(beam.PTransform):
    """Raw records to fingerprinted articles (main output) and rejects (tagged `rejects`).

    Cleaning one HTML page may take at most `timeout_seconds`; a page that takes longer is
    a reject. With a `progress` folder, how many records were cleaned is tallied there for
    the terminal (progress.py)."""

    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 progress: str | None = None):
        super().__init__()
        self._timeout_seconds = timeout_seconds
        self._progress = progress

    def expand(self, records):
        return records | beam.ParDo(_Clean(self._timeout_seconds, self._progress)).with_outputs(
            REJECTS, main="articles")
