"""Grouping one window's articles into stories in one process: the phases of a batch run's
LinkStories (links.py), called in the same order on the same pure functions, for a
stream, whose story window lives in the state of one step.

1. copies: simhashes within `dup_max_distance` bits (neardup.py's buckets and pairs);
2. representatives: an article without copies, or its copy group's smallest id;
3. links: shared nearest neighbours among candidates (neighbours.py);
4. components of the links, refined by average linkage (links.py);
5. copies take their representative's group.

`tests/test_grouping.py` checks that this gives the labels LinkStories gives.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from storywire.transforms.copies.components import components
from storywire.transforms.copies.neardup import DEFAULT_MAX_DISTANCE, block_keys, pairs_in_bucket
from storywire.transforms.stories.neighbours import (
    DEFAULT_MAX_COMPARED,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_NEIGHBOURS,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_DAYS,
    KnownSimilarities,
    bucket_keys,
    neighbourhood,
    shared_neighbours,
    similar_pairs,
)
from storywire.transforms.stories.vectors import StoryVector, cosine, unpack

DEFAULT_REFINE_SIMILARITY = 0.15  # average cosine a story's parts must keep
# Components larger than this are left as they are (counted as story_components_unrefined):
# average linkage costs the square of the size in memory and time.
MAX_REFINED_COMPONENT = 2000


@dataclass(frozen=True)
class StorySettings:
    """How articles are grouped into stories: one object, built once from the options and
    passed to every step that groups (batch and stream alike)."""

    threshold: float = DEFAULT_THRESHOLD
    neighbours: int = DEFAULT_NEIGHBOURS
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    window_days: float = DEFAULT_WINDOW_DAYS
    refine_similarity: float = DEFAULT_REFINE_SIMILARITY
    max_compared: int = DEFAULT_MAX_COMPARED
    dup_max_distance: int = DEFAULT_MAX_DISTANCE

    @classmethod
    def of(cls, opts) -> StorySettings:
        """The settings of a StorywireOptions view."""
        return cls(threshold=opts.story_threshold, neighbours=opts.story_neighbours,
                   min_similarity=opts.story_min_similarity,
                   window_days=opts.story_window_days,
                   refine_similarity=opts.story_refine_similarity,
                   dup_max_distance=opts.dup_max_distance)


def average_linkage(members: list[tuple[str, bytes]], threshold: float) -> dict[str, str]:
    """Average-linkage clusters of (id, packed vector), merged while the average cosine
    between two clusters is at least `threshold`; each id maps to its cluster's smallest id.

    Ties are broken by cluster id, so the result does not depend on the order of members.
    """
    members = sorted(members)
    vectors = {i: unpack(v) for i, v in members}
    ids = [i for i, _ in members]
    # total[a][b]: sum of the pairwise similarities between clusters a and b (keyed by min id)
    total: dict[str, dict[str, float]] = {i: {} for i in ids}
    size = {i: 1 for i in ids}
    heap = []
    for a, b in itertools.combinations(ids, 2):
        s = cosine(vectors[a], vectors[b])
        total[a][b] = total[b][a] = s
        if s >= threshold:
            heap.append((-s, a, b))
    heapq.heapify(heap)
    label = {i: i for i in ids}
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in size or b not in size:
            continue  # a cluster that has since been merged
        if -negative != total[a][b] / (size[a] * size[b]):
            continue  # a stale average
        keep, gone = min(a, b), max(a, b)
        for other, s in total.pop(gone).items():
            if other == keep:
                continue
            del total[other][gone]
            total[keep][other] = total[other][keep] = total[keep].get(other, 0.0) + s
        del total[keep][gone]
        size[keep] += size.pop(gone)
        for i, lab in label.items():
            if lab == gone:
                label[i] = keep
        for other, s in total[keep].items():
            average = s / (size[keep] * size[other])
            if average >= threshold:
                heapq.heappush(heap, (-average, min(keep, other), max(keep, other)))
    return label


def copy_groups(fingerprints: Iterable[tuple[str, int]], max_distance: int
                ) -> dict[str, str]:
    """{article_id: smallest id of its copy group} for the articles that have copies."""
    buckets: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for article_id, simhash in fingerprints:
        for key in block_keys(simhash, max_distance):
            buckets[key].append((article_id, simhash))
    edges = []
    for members in buckets.values():
        edges.extend(pairs_in_bucket(members, max_distance)[0])
    return components(edges)


def story_links(vectors: list[StoryVector], settings: StorySettings
                ) -> list[tuple[str, str]]:
    """The shared-nearest-neighbour links between the vectors (SharedNeighbourLinks)."""
    undated_keys = {term for v in vectors if v.published_at is None for term in v.keys}
    buckets: dict[tuple, list] = defaultdict(list)
    for vector in vectors:
        for key, member in bucket_keys(vector, settings.window_days, undated_keys):
            buckets[key].append(member)
    candidates: dict[str, list[tuple[str, float]]] = defaultdict(list)
    known = KnownSimilarities()
    for (_, bucket), members in buckets.items():
        pairs, _ = similar_pairs(members, bucket is None, settings.min_similarity,
                                 settings.window_days, settings.max_compared, bucket, known)
        for a, b, similarity in pairs:
            candidates[a].append((b, similarity))
            candidates[b].append((a, similarity))
    near = {a: neighbourhood(a, found, settings.neighbours)
            for a, found in candidates.items()}
    pairs = {(min(a, b), max(a, b)) for a, members in near.items() for b in members if b != a}
    return sorted((a, b) for a, b in pairs
                  if shared_neighbours(near[a], near[b]) >= settings.threshold)


def story_groups(vectors: list[StoryVector], copies: dict[str, str],
                 settings: StorySettings) -> dict[str, str]:
    """{article_id: group label} for every article of the window, given its `copy_groups`:
    the articles of one story share a label (the groups LinkStories makes; an unlinked
    article is its own)."""
    representatives = [v for v in vectors if copies.get(v.article_id, v.article_id)
                       == v.article_id]
    linked = components(story_links(representatives, settings))
    packed = {v.article_id: v.packed for v in representatives}
    members: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for article_id, component in linked.items():
        members[component].append((article_id, packed[article_id]))
    labels = {v.article_id: v.article_id for v in representatives}
    for group in members.values():
        if len(group) > MAX_REFINED_COMPONENT:
            labels.update((article_id, min(group)[0]) for article_id, _ in group)
        else:
            labels.update(average_linkage(group, settings.refine_similarity))
    for v in vectors:
        if v.article_id not in labels:
            labels[v.article_id] = labels.get(copies[v.article_id], copies[v.article_id])
    return labels
