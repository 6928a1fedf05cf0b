"""The rejects table: a run appends its new rejects, and removes those of earlier runs that
its input supersedes.

- A reject of a record that this run made an article: a page that timed out under load,
  or a record whose feed later sent its full text, is a reject of one run and an article
  of a later one. (Not one made in reading, which reading the same input makes again
  whatever became of its id: the rule below is theirs.)
- A reject made in reading (READ_STAGES), of a file or a part of one that this run read
  again and found no longer bad there: a line that was not JSON and was mended or
  removed, a whole file that gave nothing (empty, blank lines only, a path that named no
  file) and now gives records.

A reject that the run makes again stays, unless it makes it for another reason: then its
new row replaces it (`recorded`). The rejects table holds the input that did not get in,
and why, as it stands now, so the others go."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from storywire.transforms.metrics import REJECTS_NOW_ARTICLES, REJECTS_NOW_READ, counter
from storywire.transforms.records import ReadSpan
from storywire.transforms.write.assemble import REJECT_KEY, reason_by_key, recorded, reject_key
from storywire.transforms.write.inplace import UpdateTableInPlace

TABLE = "rejects"
# The stages whose rejects a run makes again whenever it reads their input: they come
# before records whose ids are stored are skipped (stage.py). The rejects at clean and
# dedupe are of records, which a later run skips once their id is stored.
READ_STAGES = frozenset({"match", "read", "decode", "parse"})
# Why a stored reject goes.
NOW_ARTICLE, NOW_READ = "article", "read"


def _now_articles(joined):
    """(article id, {"new": ..., "rejected": keys of its stored rejects}) to those keys,
    when the id is a new article of this run."""
    _, grouped = joined
    if grouped["new"]:
        for key in grouped["rejected"]:
            yield key, NOW_ARTICLE


def read_again(spans: Iterable[ReadSpan], rejected: Iterable[dict]) -> list[tuple]:
    """The keys of the stored reject rows made in reading one file (`rejected`) that are
    of what this run read of it (`spans`)."""
    spans = list(spans)
    return [reject_key(row) for row in rejected
            if any(span.covers(row["line"]) for span in spans)]


def _read_again(joined):
    _, grouped = joined
    for key in read_again(grouped["span"], grouped["rejected"]):
        yield key, NOW_READ


class _Gone(beam.DoFn):
    """(reject key, {"why": why it is superseded, "again": the reasons the run made it for,
    "stored": the reasons its stored rows give}) to the key of stored rejects that go:
    superseded ones the run did not make again (counted by why), and those it made again
    for another reason (their new rows replace them: `recorded`)."""

    def __init__(self):
        self.now_articles = counter(REJECTS_NOW_ARTICLES)
        self.now_read = counter(REJECTS_NOW_READ)

    def process(self, joined):
        key, grouped = joined
        made, stored = list(grouped["again"]), list(grouped["stored"])
        if made:
            if stored and not recorded(stored, made):
                yield key
            return
        why = list(grouped["why"])
        if why:
            (self.now_articles if NOW_ARTICLE in why else self.now_read).inc()
            yield key


class UpdateRejectsTable(beam.PTransform):
    """(the run's new reject rows, all its Rejects (new or already recorded), its new
    articles (StagedArticles), its ReadSpans, the stored reject rows) to StagedFiles: the
    new rows, and each stored file holding a reject that the run supersedes rewritten
    without it."""

    def __init__(self, output: str, staging: str, rows_per_file: int):
        super().__init__()
        self._update = UpdateTableInPlace(TABLE, REJECT_KEY, output, staging, rows_per_file)

    def expand(self, pcolls):
        rows, rejects, articles, spans, stored = pcolls
        if not self._update.stored:  # a first run: nothing to supersede
            return rows | "Update" >> self._update
        now_articles = (
            {"new": articles | "NewById" >> beam.Map(lambda a: (a.article_id, None)),
             "rejected": (stored
                          | "StoredOfRecords" >> beam.Filter(
                              lambda r: r["article_id"] is not None
                              and r["stage"] not in READ_STAGES)
                          | "StoredById" >> beam.Map(lambda r: (r["article_id"], reject_key(r))))}
            | "JoinIds" >> beam.CoGroupByKey()
            | "NowArticles" >> beam.FlatMap(_now_articles))
        now_read = (
            {"span": spans | "SpansByFile" >> beam.Map(lambda s: (s.input_uri, s)),
             "rejected": (stored
                          | "StoredInReading" >> beam.Filter(lambda r: r["stage"] in READ_STAGES)
                          | "StoredByFile" >> beam.Map(lambda r: (r["input_uri"], r)))}
            | "JoinFiles" >> beam.CoGroupByKey()
            | "NowRead" >> beam.FlatMap(_read_again))
        gone = (
            {"why": (now_articles, now_read) | "Superseded" >> beam.Flatten(),
             "again": rejects | "Again" >> beam.Map(
                 lambda r: reason_by_key(r.as_row())),
             "stored": stored | "StoredReasons" >> beam.Map(
                 reason_by_key)}
            | "JoinAgain" >> beam.CoGroupByKey()
            | "Gone" >> beam.ParDo(_Gone()))
        return (rows, gone) | "Update" >> self._update
