"""One record per article_id: the first by (input_uri, line) is kept, the others rejected;
records whose article_id an earlier run already wrote are skipped (counted)."""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.metrics import DUPLICATE_IDS, SKIPPED_ALREADY_STORED, counter
from storywire.transforms.records import REJECTS, RawRecord, Reject, excerpt


def first_per_id(records: list[RawRecord]) -> tuple[RawRecord, list[Reject]]:
    # Records here are StagedArticles in a batch run (deduplicated after cleaning, without
    # their text) and Articles in a stream (per window, after cleaning has found their
    # event time): both have id and origin.
    """The record kept for an id, and a reject for each other record with that id."""
    ordered = sorted(records, key=lambda r: (r.input_uri, r.line or 0))
    kept = ordered[0]
    where = kept.input_uri + (f":{kept.line}" if kept.line else "")
    return kept, [
        Reject(r.input_uri, r.line, r.article_id, "dedupe",
               f"duplicate article_id {r.article_id!r}: the record at {where} is kept",
               excerpt(getattr(r, "body", None) or getattr(r, "text", None)
                       or getattr(r, "excerpt", None)))
        for r in ordered[1:]
    ]


class _KeepFirst(beam.DoFn):
    def __init__(self):
        self.duplicates = counter(DUPLICATE_IDS)
        self.stored = counter(SKIPPED_ALREADY_STORED)

    def process(self, joined):
        _, grouped = joined
        records = list(grouped["record"])
        if not records:
            return
        if grouped["stored"]:
            self.stored.inc(len(records))
            return
        kept, rejects = first_per_id(records)
        yield kept
        for reject in rejects:
            self.duplicates.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject)


class KeepFirstPerId(beam.PTransform):
    """(raw records, stored article ids) to one record per new article_id.

    The grouping by id also spreads the records over the workers.
    """

    def expand(self, pcolls):
        records, stored_ids = pcolls if isinstance(pcolls, tuple) else (pcolls, None)
        if stored_ids is None:  # a stream: no stored ids
            return (records
                    | "ById" >> beam.Map(lambda r: (r.article_id, r))
                    | "GroupById" >> beam.GroupByKey()
                    | "AsJoined" >> beam.MapTuple(lambda i, rs: (i, {"record": list(rs),
                                                                     "stored": []}))
                    | "KeepFirst" >> beam.ParDo(_KeepFirst()).with_outputs(
                        REJECTS, main="records"))
        return (
            {"record": records | "ById" >> beam.Map(lambda r: (r.article_id, r)),
             "stored": stored_ids | "StoredById" >> beam.Map(lambda i: (i, None))}
            | "GroupById" >> beam.CoGroupByKey()
            | "KeepFirst" >> beam.ParDo(_KeepFirst()).with_outputs(REJECTS, main="records")
        )
