"""Shared nearest neighbours: which articles report the same event.

Reports of one event share rare words, but so do reports of two similar events (two
earthquakes in one region, one coach fired and later hired). What tells them apart is the
company an article keeps: reports of one event have the same nearest neighbours (Jarvis
and Patrick, 1973).

1. candidates: articles are keyed by their strongest terms and, when dated, by time bucket
   (`window_days` wide; an article also visits the next bucket, so pairs up to a window
   apart meet). Only articles sharing a key are compared, each with at most
   `max_compared` neighbours in time, so the work per article is bounded. The buckets hold
   ids and dates; the vectors of the pairs they propose are looked up by id;
2. neighbourhoods: each article's `neighbours` most similar candidates (cosine at least
   `min_similarity`), plus itself;
3. links: two articles are linked when either is in the other's neighbourhood and their
   neighbourhoods overlap enough (Jaccard at least `threshold`).

Undated articles are compared with every article sharing a key (in the timeless bucket),
dated ones only with those within the window.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

import apache_beam as beam

from storywire.transforms.metrics import STORY_BUCKETS_OVER_MAX_COMPARED, STORY_LINKS, counter
from storywire.transforms.stories.vectors import cosine, unpack

DEFAULT_THRESHOLD = 0.35      # Jaccard overlap of neighbourhoods that links two articles
DEFAULT_NEIGHBOURS = 6        # nearest candidates in a neighbourhood
DEFAULT_MIN_SIMILARITY = 0.1  # cosine below which a candidate is no neighbour
DEFAULT_WINDOW_DAYS = 3.0     # dated articles further apart are not compared
DEFAULT_MAX_COMPARED = 100    # neighbours in time compared per article within one key
_DAY_US = 86_400 * 1_000_000


def own_bucket(published_at: int, window_days: float) -> int:
    """The time bucket a dated article belongs to (it also visits the next one)."""
    return int(published_at // (window_days * _DAY_US))


def time_buckets(published_at: int | None, window_days: float) -> list[int | None]:
    """The time buckets an article is keyed into.

    A dated article goes to its own bucket and the next, so two dated articles at most a
    window apart share one, and to the timeless bucket (None), where undated articles meet
    everything. An undated article goes to the timeless bucket only.
    """
    if published_at is None:
        return [None]
    bucket = own_bucket(published_at, window_days)
    return [bucket, bucket + 1, None]


def bucket_keys(vector: tuple[str, int | None, bytes, list[int]], window_days: float,
                undated_keys: Container[int]
                ) -> Iterator[tuple[tuple[int, int | None], tuple[str, int | None, bytes]]]:
    """((key term, time bucket), (article_id, published_at, packed vector)) for every
    bucket the article is compared in.

    Only undated articles are compared in the timeless bucket, so a dated article visits
    a term's timeless bucket only when some undated article has that term (`undated_keys`):
    in a feed of dated articles that saves a third of what the buckets hold, and the
    pairs found are the same.
    """
    article_id, published_at, packed, keys = vector
    member = (article_id, published_at, packed)
    for term in keys:
        for bucket in time_buckets(published_at, window_days):
            if bucket is None and published_at is not None and term not in undated_keys:
                continue
            yield (term, bucket), member


class KnownSimilarities:
    """Similarities worked out, by pair of ids, so that a pair met in several buckets is
    worked out once: an article is keyed by its strongest terms in two time buckets, and
    reports of one event share several of them (the 4,963 articles that stand for their
    copies among 10,000 syndicated ones: 145,834 comparisons of 102,486 pairs). Holds at
    most `most` pairs, then forgets them all: what similar_pairs finds is the same
    whatever it holds."""

    def __init__(self, most: int = 100_000):  # 12.6 MiB (tracemalloc)
        self._most = most
        self._known: dict[tuple[str, str], float] = {}

    def get(self, pair: tuple[str, str]) -> float | None:
        return self._known.get(pair)

    def put(self, pair: tuple[str, str], similarity: float) -> None:
        if len(self._known) >= self._most:
            self._known.clear()
        self._known[pair] = similarity


def similar_pairs(members: Iterable[tuple[str, int | None, bytes]], timeless: bool,
                  min_similarity: float, window_days: float,
                  max_compared: int = DEFAULT_MAX_COMPARED, bucket: int | None = None,
                  known: KnownSimilarities | None = None
                  ) -> tuple[list[tuple[str, str, float]], bool]:
    """(a, b, cosine) for the pairs of one key bucket of (article_id, published_at, packed
    vector).

    Given the time `bucket`, the pairs of two articles that both belong to the bucket
    before it (and visit this one) are left out: they are compared in their own bucket,
    with the same articles between them in time, so with the same result.

    In a time bucket, members in time order are each compared with the next members within
    the time window, at most `max_compared` of them. In the timeless bucket, undated
    members are compared with each other (each with the next `max_compared` by id) and with
    the dated members, unless those number more than `max_compared`. Returns the pairs at
    or above min_similarity and whether a bound stopped any comparison. `known`: pairs
    worked out in other buckets, looked up and added to.
    """
    if timeless:
        undated, dated, over = [], [], False
        for member in members:
            if member[1] is None:
                undated.append(member)
            elif len(dated) < max_compared:
                dated.append(member)
            else:
                over = True
        if not undated:
            return [], False
        undated.sort(key=lambda m: m[0])
        candidates = [(a, undated[i + 1:i + 1 + max_compared]) for i, a in enumerate(undated)]
        over = over or len(undated) > max_compared + 1
        if not over:
            candidates = [(a, others + dated) for a, others in candidates]
    else:
        window = window_days * _DAY_US
        ordered = sorted(members, key=lambda m: (m[1], m[0]))
        candidates, over = [], False
        # Members from the bucket before, by place (an id could be there twice).
        visiting = [bucket is not None and own_bucket(m[1], window_days) == bucket - 1
                    for m in ordered]
        for i, a in enumerate(ordered):
            near = [j for j in range(i + 1, min(i + 2 + max_compared, len(ordered)))
                    if ordered[j][1] - a[1] <= window]
            over = over or len(near) > max_compared
            near = near[:max_compared]
            if visiting[i]:  # its pairs with other visitors were made in their own bucket
                near = [j for j in near if not visiting[j]]
            candidates.append((a, [ordered[j] for j in near]))
    vectors: dict[str, dict] = {}

    def vector(member):
        if member[0] not in vectors:
            vectors[member[0]] = unpack(member[2])
        return vectors[member[0]]

    pairs = []
    for a, others in candidates:
        id_a = a[0]
        for b in others:  # a vector is unpacked only if a pair needs it worked out
            id_b = b[0]
            if id_a == id_b:
                continue
            pair = (id_a, id_b) if id_a < id_b else (id_b, id_a)
            similarity = known.get(pair) if known is not None else None
            if similarity is None:
                similarity = cosine(vector(a), vector(b))
                if known is not None:
                    known.put(pair, similarity)
            if similarity >= min_similarity:
                pairs.append((id_a, id_b, similarity))
    return pairs, over


def neighbourhood(article_id: str, candidates: Iterable[tuple[str, float]],
                  neighbours: int = DEFAULT_NEIGHBOURS) -> frozenset[str]:
    """The article and its most similar candidates (ties broken by id)."""
    best: dict[str, float] = {}
    for other, similarity in candidates:
        if similarity > best.get(other, -1.0):
            best[other] = similarity
    nearest = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:neighbours]
    return frozenset([article_id, *(other for other, _ in nearest)])


def shared_neighbours(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two neighbourhoods."""
    return len(a & b) / len(a | b)


class _SimilarInBucket(beam.DoFn):
    """The similar pairs of one bucket of (article_id, published_at): the vectors are
    looked up by id (`packed`, a side input), so that each is held once, not once per
    bucket it is in."""

    def __init__(self, min_similarity: float, window_days: float, max_compared: int):
        self._min_similarity = min_similarity
        self._window_days = window_days
        self._max_compared = max_compared
        self.over = counter(STORY_BUCKETS_OVER_MAX_COMPARED)

    def start_bundle(self):
        self._known = KnownSimilarities()

    def finish_bundle(self):
        self._known = None  # its memory goes back between bundles

    def process(self, keyed, packed):
        (_, bucket), members = keyed
        members = [(article_id, published_at, packed[article_id])
                   for article_id, published_at in members]
        pairs, over = similar_pairs(members, bucket is None, self._min_similarity,
                                    self._window_days, self._max_compared, bucket,
                                    self._known)
        if over:
            self.over.inc()
        for a, b, similarity in pairs:
            yield a, (b, similarity)
            yield b, (a, similarity)


def _pairs_to_check(item):
    article_id, members = item
    for other in members:
        if other != article_id:
            yield (min(article_id, other), max(article_id, other))


def _send_lower_neighbourhood(joined):
    """Key each pair by its higher id, carrying the lower id's neighbourhood."""
    lower, grouped = joined
    (members,) = grouped["neighbourhood"]
    for higher in grouped["pairs"]:
        yield higher, (lower, members)


class _LinkShared(beam.DoFn):
    def __init__(self, threshold: float):
        self._threshold = threshold
        self.links = counter(STORY_LINKS)

    def process(self, joined):
        higher, grouped = joined
        (members,) = grouped["neighbourhood"]
        for lower, lower_members in grouped["lower"]:
            if shared_neighbours(members, lower_members) >= self._threshold:
                self.links.inc()
                yield lower, higher


class SharedNeighbourLinks(beam.PTransform):
    """(article_id, published_at, packed vector, candidate keys) to (id, id) links between
    reports of one event."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD,
                 neighbours: int = DEFAULT_NEIGHBOURS,
                 min_similarity: float = DEFAULT_MIN_SIMILARITY,
                 window_days: float = DEFAULT_WINDOW_DAYS,
                 max_compared: int = DEFAULT_MAX_COMPARED):
        super().__init__()
        self._threshold = threshold
        self._neighbours = neighbours
        self._min_similarity = min_similarity
        self._window_days = window_days
        self._max_compared = max_compared

    def expand(self, vectors):
        window_days, k = self._window_days, self._neighbours
        undated_keys = (
            vectors
            | "UndatedKeys" >> beam.FlatMap(lambda v: v[3] if v[1] is None else [])
            | "DistinctUndatedKeys" >> beam.Distinct()
            | "AsLookup" >> beam.Map(lambda term: (term, True)))
        packed = vectors | "PackedById" >> beam.Map(lambda v: (v[0], v[2]))
        neighbourhoods = (
            vectors
            | "CandidateKeys" >> beam.FlatMap(bucket_keys, window_days,
                                              beam.pvalue.AsDict(undated_keys))
            | "IdsOnly" >> beam.MapTuple(lambda key, member: (key, member[:2]))
            | "Buckets" >> beam.GroupByKey()
            | "Similar" >> beam.ParDo(_SimilarInBucket(
                self._min_similarity, window_days, self._max_compared),
                beam.pvalue.AsDict(packed))
            | "ByArticle" >> beam.GroupByKey()
            | "Neighbourhoods" >> beam.Map(lambda kv: (kv[0], neighbourhood(kv[0], kv[1], k)))
        )
        pairs = (
            neighbourhoods
            | "PairsToCheck" >> beam.FlatMap(_pairs_to_check)
            | "DistinctPairs" >> beam.Distinct()
        )
        # Each pair meets the neighbourhood of its lower id, then that of its higher id.
        lower = (
            {"pairs": pairs, "neighbourhood": neighbourhoods}
            | "JoinLower" >> beam.CoGroupByKey()
            | "SendLower" >> beam.FlatMap(_send_lower_neighbourhood)
        )
        return (
            {"lower": lower, "neighbourhood": neighbourhoods}
            | "JoinHigher" >> beam.CoGroupByKey()
            | "SharedNeighbours" >> beam.ParDo(_LinkShared(self._threshold))
        )
