"""One record per article_id: the first by (input_uri, line) is kept, the others rejected.
(Records whose article_id an earlier run wrote are skipped before cleaning: stage.py.)"""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.metrics import DUPLICATE_IDS, counter
from storywire.transforms.read.inputs import input_format
from storywire.transforms.records import REJECTS, RawRecord, Reject, excerpt


def first_per_id(records: list[RawRecord]) -> tuple[RawRecord, list[Reject]]:
    # Records here are StagedArticles in a batch run (deduplicated after cleaning, without
    # their text) and Articles in a stream (per window, after cleaning has found their
    # event time): both have id and origin.
    """The record kept for an id, and a reject for each other record with that id."""
    ordered = sorted(records, key=lambda r: (r.input_uri, r.line or 0))
    kept = ordered[0]
    where = kept.input_uri + (f":{kept.line}" if kept.line is not None else "")

    def reason(r) -> str:
        if (r.input_uri, r.line) == (kept.input_uri, kept.line):
            # One file named twice (two --input paths, a glob and a folder): read twice.
            return (f"duplicate article_id {r.article_id!r}: {where} was read twice (its "
                    "file is named by two --input paths); it is kept once")
        if input_format(r.input_uri) == "warc":
            # A page's id is its record's WARC-Record-ID (warc.page_id): the same record in
            # two files, or a crawler that gave two records one id.
            return (f"duplicate article_id {r.article_id!r}: the same WARC-Record-ID as the "
                    f"record at {where}, which is kept")
        return f"duplicate article_id {r.article_id!r}: the record at {where} is kept"

    return kept, [
        Reject(r.input_uri, r.line, r.article_id, "dedupe", reason(r),
               excerpt(getattr(r, "body", None) or getattr(r, "text", None)
                       or getattr(r, "excerpt", None)))
        for r in ordered[1:]
    ]


class _KeepFirst(beam.DoFn):
    def __init__(self):
        self.duplicates = counter(DUPLICATE_IDS)

    def process(self, grouped):
        _, records = grouped
        kept, rejects = first_per_id(list(records))
        yield kept
        for reject in rejects:
            self.duplicates.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject)


class KeepFirstPerId(beam.PTransform):
    """Records (StagedArticles of a batch run, Articles of a stream window) to one per
    article_id (main output) and a reject for each other (tagged `rejects`)."""

    def expand(self, records):
        return (records
                | "ById" >> beam.Map(lambda r: (r.article_id, r))
                | "GroupById" >> beam.GroupByKey()
                | "KeepFirst" >> beam.ParDo(_KeepFirst()).with_outputs(REJECTS, main="records"))
