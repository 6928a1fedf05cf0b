"""The rejects table: a run appends its new rejects, and removes those of earlier runs that
its input supersedes.

- A reject whose record this run made an article: a page that timed out under load, or a
  record whose feed later sent its full text, is a reject of one run and an article of a
  later one.
- A reject without an article id, where this run read a record: a line that was not JSON
  and was mended, or a whole file that gave nothing (empty, blank lines only, a path that
  named no file) and now gives records.

The rejects table holds the input that did not get in, as it stands now, so such a row
goes."""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.metrics import REJECTS_NOW_ARTICLES, REJECTS_NOW_READ, counter
from storywire.transforms.records import RawRecord, storable_text
from storywire.transforms.write.assemble import REJECT_KEY, reject_key
from storywire.transforms.write.inplace import UpdateTableInPlace

TABLE = "rejects"


class _NowArticles(beam.DoFn):
    """(article id, {"new": ..., "rejected": keys of its stored rejects}) to those keys,
    when the id is a new article of this run, counting them."""

    def __init__(self):
        self.cleared = counter(REJECTS_NOW_ARTICLES)

    def process(self, joined):
        _, grouped = joined
        if grouped["new"] and grouped["rejected"]:
            self.cleared.inc(len(grouped["rejected"]))
            yield from grouped["rejected"]


def superseded_by(record: RawRecord, rejected) -> list[tuple]:
    """The keys of the stored rejects without an article id that `record` supersedes:
    those of its line, and those of its whole file. `rejected`: (input_uri, line or None)
    to the keys of the stored id-less rejects there, none for a place without (as Beam's
    AsMultiMap gives, or a defaultdict(list))."""
    # As the rejects table stores it: a file name that is not UTF-8 is escaped there.
    uri = storable_text(record.input_uri)
    of_file = list(rejected[(uri, None)])
    return of_file if record.line is None else [*rejected[(uri, record.line)], *of_file]


class _NowRead(beam.DoFn):
    """Raw records of this run to the keys of the stored rejects they supersede
    (superseded_by), each once per bundle: a file that gave nothing before and a million
    records now would otherwise name its reject a million times."""

    def start_bundle(self):
        self._named = set()

    def process(self, record: RawRecord, rejected):
        for key in superseded_by(record, rejected):
            if key not in self._named:
                self._named.add(key)
                yield key


class _CountNowRead(beam.DoFn):
    def __init__(self):
        self.removed = counter(REJECTS_NOW_READ)

    def process(self, key):
        self.removed.inc()
        yield key


class UpdateRejectsTable(beam.PTransform):
    """(the run's new reject rows, its new articles (StagedArticles), its raw records, the
    stored reject rows) to StagedFiles: the new rows, and each stored file holding a reject that
    the run supersedes rewritten without it."""

    def __init__(self, output: str, staging: str, rows_per_file: int):
        super().__init__()
        self._update = UpdateTableInPlace(TABLE, REJECT_KEY, output, staging, rows_per_file)

    def expand(self, pcolls):
        rows, articles, records, stored = pcolls
        if not self._update.stored:  # a first run: nothing to supersede
            return rows | "Update" >> self._update
        now_articles = (
            {"new": articles | "NewById" >> beam.Map(lambda a: (a.article_id, None)),
             "rejected": (stored
                          | "StoredWithId" >> beam.Filter(lambda r: r["article_id"] is not None)
                          | "StoredById" >> beam.Map(lambda r: (r["article_id"], reject_key(r))))}
            | "JoinIds" >> beam.CoGroupByKey()
            | "NowArticles" >> beam.ParDo(_NowArticles()))
        without_id = beam.pvalue.AsMultiMap(
            stored
            | "StoredWithoutId" >> beam.Filter(lambda r: r["article_id"] is None)
            | "ByPlace" >> beam.Map(lambda r: ((r["input_uri"], r["line"]), reject_key(r))))
        now_read = (records
                    | "NowRead" >> beam.ParDo(_NowRead(), without_id)
                    | "DistinctNowRead" >> beam.Distinct()
                    | "CountNowRead" >> beam.ParDo(_CountNowRead()))
        superseded = (now_articles, now_read) | "Superseded" >> beam.Flatten()
        return (rows, superseded) | "Update" >> self._update
