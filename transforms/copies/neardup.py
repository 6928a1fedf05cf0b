"""Near-duplicate groups: articles whose simhashes differ in at most k bits.

Block bucketing after Manku, Jain and Das Sarma (2007): split the 64 bits into k + 1
blocks; two fingerprints within k bits agree exactly on at least one block. Each article is
keyed by (block index, block value); only articles sharing a key are compared, and a
bucket's pairs are compared there. Groups are the connected components of the pairs found.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import apache_beam as beam

from storywire.transforms.copies.components import ConnectedComponents
from storywire.transforms.copies.fingerprint import SIMHASH_BITS, hamming, to_unsigned64
from storywire.transforms.metrics import (
    ARTICLES_WITH_COPIES,
    DUP_BUCKETS_CAPPED,
    DUP_GROUPS_UNSETTLED,
    DUP_GROUPS_WITH_COPIES,
    counter,
)
from storywire.transforms.records import stable_id

DEFAULT_MAX_DISTANCE = 3
# Distinct fingerprints compared within one bucket at most. Exact copies share one
# fingerprint and cost nothing; past this many distinct ones the rest are not compared
# (counted as `dup_buckets_capped`), which bounds the work of a pathological bucket.
DEFAULT_MAX_BUCKET = 2000


def block_ranges(max_distance: int, bits: int = SIMHASH_BITS) -> list[tuple[int, int]]:
    """(shift, width) of the k + 1 blocks that cover the fingerprint."""
    blocks = max_distance + 1
    widths = [bits // blocks + (1 if i < bits % blocks else 0) for i in range(blocks)]
    ranges, shift = [], 0
    for width in widths:
        ranges.append((shift, width))
        shift += width
    return ranges


def block_keys(simhash: int, max_distance: int) -> list[tuple[int, int]]:
    """The bucket keys of one fingerprint: (block index, block value)."""
    value = to_unsigned64(simhash)
    return [
        (i, (value >> shift) & ((1 << width) - 1))
        for i, (shift, width) in enumerate(block_ranges(max_distance))
    ]


def pairs_in_bucket(
    members: list[tuple[str, int]], max_distance: int, max_bucket: int = DEFAULT_MAX_BUCKET
) -> tuple[list[tuple[str, str]], bool]:
    """Pairs of article ids within max_distance bits, and whether the bucket was capped.

    Articles with the same fingerprint are chained (sorted by id) rather than paired, so
    a thousand exact copies cost a thousand edges, not half a million comparisons.
    """
    by_hash: dict[int, list[str]] = defaultdict(list)
    for article_id, simhash in members:
        by_hash[simhash].append(article_id)
    edges = []
    for ids in by_hash.values():
        ids.sort()
        edges.extend(zip(ids, ids[1:]))
    distinct = sorted(by_hash.items(), key=lambda kv: kv[1][0])
    capped = len(distinct) > max_bucket
    distinct = distinct[:max_bucket]
    for (ha, ids_a), (hb, ids_b) in itertools.combinations(distinct, 2):
        if hamming(ha, hb) <= max_distance:
            edges.append(tuple(sorted((ids_a[0], ids_b[0]))))
    return edges, capped


def dup_group_id(label: str) -> str:
    """The group id: derived from the group's smallest article id."""
    return "dg-" + stable_id("dup", label)


class _PairsInBucket(beam.DoFn):
    def __init__(self, max_distance: int, max_bucket: int):
        self._max_distance = max_distance
        self._max_bucket = max_bucket
        self.capped = counter(DUP_BUCKETS_CAPPED)

    def process(self, keyed):
        _, members = keyed
        members = list(members)
        if len(members) < 2:
            return
        edges, capped = pairs_in_bucket(members, self._max_distance, self._max_bucket)
        if capped:
            self.capped.inc()
        yield from edges


def group_id_of(label: str, stored_groups: dict[str, str]) -> str:
    """The id of a group of copies: when it holds articles of earlier runs, the group id of
    the one with the smallest article id (written ids never change), else the id derived
    from the group's smallest article id."""
    if stored_groups:
        return stored_groups[min(stored_groups)]
    return dup_group_id(label)


def _by_label(joined):
    article_id, grouped = joined
    stored = grouped["stored"][0] if grouped["stored"] else None
    for label in grouped["label"]:
        yield label, (article_id, stored)


class _Label(beam.DoFn):
    def __init__(self):
        self.groups = counter(DUP_GROUPS_WITH_COPIES)
        self.grouped = counter(ARTICLES_WITH_COPIES)

    def process(self, keyed):
        label, members = keyed
        members = list(members)
        stored = {article_id: group for article_id, group in members if group is not None}
        new = [article_id for article_id, group in members if group is None]
        if not new:
            return
        self.groups.inc()
        self.grouped.inc(len(new))
        group = group_id_of(label, stored)
        for article_id in new:
            yield article_id, group


class NearDuplicatePairs(beam.PTransform):
    """(article_id, simhash) to the (id, id) pairs within max_distance bits."""

    def __init__(self, max_distance: int = DEFAULT_MAX_DISTANCE,
                 max_bucket: int = DEFAULT_MAX_BUCKET):
        super().__init__()
        self._max_distance = max_distance
        self._max_bucket = max_bucket

    def expand(self, fingerprints):
        k = self._max_distance
        return (
            fingerprints
            | "BlockKeys" >> beam.FlatMap(
                lambda kv: [(key, kv) for key in block_keys(kv[1], k)])
            | "Buckets" >> beam.GroupByKey()
            | "Pairs" >> beam.ParDo(_PairsInBucket(k, self._max_bucket))
        )


class CopyGroups(beam.PTransform):
    """Near-duplicate pairs to (article_id, smallest article id of its group); `gathered`:
    the pairs are few, and grouped on one worker (ConnectedComponents)."""

    def __init__(self, gathered: bool = False):
        super().__init__()
        self._gathered = gathered

    def expand(self, pairs):
        return pairs | ConnectedComponents(DUP_GROUPS_UNSETTLED, gathered=self._gathered)


class DupGroupIds(beam.PTransform):
    """(copy groups, StoredArticles) to (article_id, dup_group_id) for the new articles that
    have copies (new or stored).

    New articles missing from the output have no copy: their group is
    dup_group_id(article_id).
    """

    def expand(self, pcolls):
        copy_groups, stored = pcolls if isinstance(pcolls, tuple) else (pcolls, None)
        if stored is None:  # a stream: no stored articles
            return (copy_groups
                    | "ByGroup" >> beam.MapTuple(lambda article_id, label: (
                        label, (article_id, None)))
                    | "Groups" >> beam.GroupByKey()
                    | "Label" >> beam.ParDo(_Label()))
        return (
            {"label": copy_groups,
             "stored": stored | "StoredGroups" >> beam.Map(
                 lambda s: (s.article_id, s.dup_group_id))}
            | "JoinStored" >> beam.CoGroupByKey()
            | "ByGroup" >> beam.FlatMap(_by_label)
            | "Groups" >> beam.GroupByKey()
            | "Label" >> beam.ParDo(_Label())
        )
