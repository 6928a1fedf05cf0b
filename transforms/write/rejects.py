"""The rejects table: a run appends its new rejects, and removes those of earlier runs whose
record is now an article. A page that timed out under load, or a record whose feed later
sent its full text, is a reject of one run and an article of a later one; the rejects
table holds the input that did not become an article, so such a row goes."""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.metrics import REJECTS_NOW_ARTICLES, counter
from storywire.transforms.write.inplace import UpdateTableInPlace

TABLE = "rejects"


class _NowArticles(beam.DoFn):
    """(article id, {"new": ..., "rejected": ...}) to the id, when a new article of this
    run has stored rejects, counting them."""

    def __init__(self):
        self.cleared = counter(REJECTS_NOW_ARTICLES)

    def process(self, joined):
        article_id, grouped = joined
        if grouped["new"] and grouped["rejected"]:
            self.cleared.inc(len(grouped["rejected"]))
            yield article_id


class UpdateRejectsTable(beam.PTransform):
    """(the run's new reject rows, the ids of its new articles, the stored reject rows) to
    StagedFiles: the new rows, and each stored file holding a reject of a record that is
    now an article rewritten without it."""

    def __init__(self, output: str, staging: str, rows_per_file: int):
        super().__init__()
        self._update = UpdateTableInPlace(TABLE, "article_id", output, staging, rows_per_file)

    def expand(self, pcolls):
        rows, article_ids, stored = pcolls
        now_articles = (
            {"new": article_ids | "NewById" >> beam.Map(lambda i: (i, None)),
             "rejected": (stored
                          | "StoredWithId" >> beam.Filter(lambda r: r["article_id"] is not None)
                          | "StoredById" >> beam.Map(lambda r: (r["article_id"], None)))}
            | "JoinIds" >> beam.CoGroupByKey()
            | "NowArticles" >> beam.ParDo(_NowArticles()))
        return (rows, now_articles) | "Update" >> self._update
