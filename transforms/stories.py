"""Stories: articles that report the same news event, one story_id each.

Simhash sees copies, not rewrites: two agencies' reports of one event share few word pairs
but many rare words (names, places, figures). Two reports of two similar events (two
earthquakes in one region, one coach fired and later hired) share many rare words too, so
raw similarity alone either splits stories or lumps events. What tells them apart is the
company an article keeps: reports of one event have the same nearest neighbours. So:

1. vectors: each article gets a TF-IDF vector of its content words. IDF comes from the
   language's word frequencies (the `wordfreq` tables), not from the run's documents, so an
   article's vector is the same whatever else is in the run, and a batch of five articles
   on one event weighs "Pyongyang" above "said" as a corpus of millions would;
2. candidates: articles are keyed by their strongest terms and, when dated, by time bucket
   (`window_days` wide; an article also visits the next bucket, so pairs up to a window
   apart meet). Only articles sharing a key are compared, each with at most
   `max_compared` neighbours in time, so the work per article is bounded;
3. neighbourhoods: each article's `neighbours` most similar candidates (cosine at least
   `min_similarity`), plus itself;
4. links: two articles are linked when either is in the other's neighbourhood and their
   neighbourhoods overlap enough (Jaccard at least `threshold`): shared nearest neighbours
   (Jarvis and Patrick, 1973), which keeps apart events that merely share a name;
5. stories: the connected components of the links and the near-duplicate groups.

Stories are made between dup-group representatives (each group's smallest article id):
a story's many copies would otherwise fill every neighbourhood with themselves. Articles
without a date are compared with other undated articles only; their copies and the dated
articles they link to connect them further.

Each story has exactly one canonical article, chosen by `canonical_order`: the earliest
published, then the longest text (the most complete version), then the smallest
article_id. The story_id is derived from the canonical article's id.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from storywire.transforms.components import ConnectedComponents
from storywire.transforms.fingerprint import words
from storywire.transforms.records import NAMESPACE, Article, stable_id

DEFAULT_THRESHOLD = 0.35      # Jaccard overlap of neighbourhoods that links two articles
DEFAULT_NEIGHBOURS = 6        # nearest candidates in a neighbourhood
DEFAULT_MIN_SIMILARITY = 0.1  # cosine below which a candidate is no neighbour
DEFAULT_WINDOW_DAYS = 3.0     # dated articles further apart are not compared
DEFAULT_MAX_COMPARED = 100    # neighbours in time compared per article within one key
DEFAULT_LANGUAGE = "en"
# Frequency assumed for words the language table lacks: names and rare words are
# informative; numbers less so (years, counts and prices recur across stories).
UNSEEN_WORD_FREQUENCY = 1e-8
UNSEEN_NUMBER_FREQUENCY = 1e-5
VECTOR_TERMS = 128  # terms kept per article vector
KEY_TERMS = 8       # of which the strongest are candidate keys
_DAY_US = 86_400 * 1_000_000

_THOUSANDS = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how i
    if in into is it its itself just me more most my myself no nor not now of off on once
    only or other our ours ourselves out over own said same says say she should so some such
    than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves told one two also new would could may might
    must shall us mr mrs ms year years day days time week weeks monday tuesday wednesday
    thursday friday saturday sunday today yesterday tomorrow according since around per
    last first many much even still back well get got made make like including via""".split()
)


def story_terms(text: str, title: str | None = None) -> Counter:
    """Content words with their counts: no stop words, no one-letter tokens.

    Thousands separators are dropped first, so "10,000" and "10000" are one term.
    """
    joined = _THOUSANDS.sub("", f"{title or ''}\n{text}")
    return Counter(
        w for w in words(joined) if w not in _STOPWORDS and (len(w) > 2 or w.isdigit())
    )


def load_word_frequencies(language: str = DEFAULT_LANGUAGE) -> Mapping[str, float]:
    """The language's word frequencies (a few hundred thousand words; load once per worker)."""
    from wordfreq import get_frequency_dict

    return get_frequency_dict(language, wordlist="best")


def idf(term: str, frequencies: Mapping[str, float]) -> float:
    """-log of the term's frequency in the language: high for rare, informative words."""
    default = UNSEEN_NUMBER_FREQUENCY if term.isdigit() else UNSEEN_WORD_FREQUENCY
    return -math.log(frequencies.get(term) or default)


def tfidf_vector(terms: Mapping[str, int], frequencies: Mapping[str, float],
                 size: int = VECTOR_TERMS) -> tuple[tuple[str, float], ...]:
    """The article's strongest `size` terms, sublinear TF x IDF, L2-normalised.

    Ties break by term, so the vector is the same on every worker.
    """
    weights = {t: (1.0 + math.log(c)) * idf(t, frequencies) for t, c in terms.items()}
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return tuple(sorted((t, w / norm) for t, w in top))


def cosine(a: Iterable[tuple[str, float]], b: Iterable[tuple[str, float]]) -> float:
    small, large = sorted((dict(a), dict(b)), key=len)
    return sum(w * large.get(t, 0.0) for t, w in small.items())


def candidate_keys(vector: tuple[tuple[str, float], ...], n: int = KEY_TERMS) -> list[str]:
    """The vector's strongest terms: articles sharing one are compared."""
    return [t for t, _ in sorted(vector, key=lambda kv: (-kv[1], kv[0]))[:n]]


def time_buckets(published_at: int | None, window_days: float) -> list[int | None]:
    """The time buckets an article is keyed into.

    A dated article goes to its own bucket and the next, so two dated articles at most a
    window apart share one, and to the timeless bucket (None), where undated articles meet
    everything. An undated article goes to the timeless bucket only.
    """
    if published_at is None:
        return [None]
    bucket = int(published_at // (window_days * _DAY_US))
    return [bucket, bucket + 1, None]


def similar_pairs(members: Iterable[tuple[str, int | None, tuple]], timeless: bool,
                  min_similarity: float, window_days: float,
                  max_compared: int = DEFAULT_MAX_COMPARED
                  ) -> tuple[list[tuple[str, str, float]], bool]:
    """(a, b, cosine) for the pairs of one key bucket of (article_id, published_at, vector).

    In a time bucket, members in time order are each compared with the next members within
    the time window, at most `max_compared` of them. In the timeless bucket, undated
    members are compared with each other (each with the next `max_compared` by id) and with
    the dated members, unless those number more than `max_compared`. Returns the pairs at
    or above min_similarity and whether a bound stopped any comparison.
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
        for i, a in enumerate(ordered):
            near = [b for b in ordered[i + 1:i + 2 + max_compared] if b[1] - a[1] <= window]
            over = over or len(near) > max_compared
            candidates.append((a, near[:max_compared]))
    pairs = []
    for (id_a, _, vec_a), others in candidates:
        for id_b, _, vec_b in others:
            similarity = cosine(vec_a, vec_b)
            if similarity >= min_similarity and id_a != id_b:
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


def canonical_order(article: Article) -> tuple:
    """Sort key of the canonical rule: earliest published, longest text, smallest id."""
    return (
        article.published_at is None,
        article.published_at or 0,
        -len(article.text),
        article.article_id,
    )


def story_id_for(canonical_article_id: str) -> str:
    return "st-" + stable_id("story", canonical_article_id)


class _Vectorise(beam.DoFn):
    def __init__(self, language: str):
        self._language = language
        self._frequencies = None

    def setup(self):
        self._frequencies = load_word_frequencies(self._language)

    def process(self, article: Article):
        terms = story_terms(article.text, article.title)
        yield article.article_id, article.published_at, tfidf_vector(terms, self._frequencies)


class _SimilarInBucket(beam.DoFn):
    def __init__(self, min_similarity: float, window_days: float, max_compared: int):
        self._min_similarity = min_similarity
        self._window_days = window_days
        self._max_compared = max_compared
        self.over = Metrics.counter(NAMESPACE, "story_buckets_over_max_compared")

    def process(self, keyed):
        (_, bucket), members = keyed
        pairs, over = similar_pairs(members, bucket is None, self._min_similarity,
                                    self._window_days, self._max_compared)
        if over:
            self.over.inc()
        for a, b, similarity in pairs:
            yield a, (b, similarity)
            yield b, (a, similarity)


def _representatives(joined):
    """Articles that stand for their dup group: those without copies, and each group's
    smallest article id."""
    article_id, grouped = joined
    for article in grouped["article"]:
        if not grouped["group"] or grouped["group"][0] == article_id:
            yield article


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
        self.links = Metrics.counter(NAMESPACE, "story_links")

    def process(self, joined):
        higher, grouped = joined
        (members,) = grouped["neighbourhood"]
        for lower, lower_members in grouped["lower"]:
            if shared_neighbours(members, lower_members) >= self._threshold:
                self.links.inc()
                yield lower, higher


class LinkStories(beam.PTransform):
    """Articles and their dup-group labels to (article_id, story label).

    `copy_groups` holds (article_id, smallest article id of its dup group) for articles
    with copies. Articles missing from the output are stories of their own.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD,
                 neighbours: int = DEFAULT_NEIGHBOURS,
                 min_similarity: float = DEFAULT_MIN_SIMILARITY,
                 window_days: float = DEFAULT_WINDOW_DAYS,
                 max_compared: int = DEFAULT_MAX_COMPARED,
                 language: str = DEFAULT_LANGUAGE):
        super().__init__()
        self._threshold = threshold
        self._neighbours = neighbours
        self._min_similarity = min_similarity
        self._window_days = window_days
        self._max_compared = max_compared
        self._language = language

    def expand(self, pcolls):
        articles, copy_groups = pcolls
        window_days, k = self._window_days, self._neighbours
        representatives = (
            {"article": articles | "ById" >> beam.Map(lambda a: (a.article_id, a)),
             "group": copy_groups}
            | "JoinGroups" >> beam.CoGroupByKey()
            | "Representatives" >> beam.FlatMap(_representatives)
        )
        neighbourhoods = (
            representatives
            | "Vectorise" >> beam.ParDo(_Vectorise(self._language))
            | "CandidateKeys" >> beam.FlatMap(lambda v: [
                ((term, bucket), v)
                for term in candidate_keys(v[2])
                for bucket in time_buckets(v[1], window_days)])
            | "Buckets" >> beam.GroupByKey()
            | "Similar" >> beam.ParDo(_SimilarInBucket(
                self._min_similarity, window_days, self._max_compared))
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
        similar = (
            {"lower": lower, "neighbourhood": neighbourhoods}
            | "JoinHigher" >> beam.CoGroupByKey()
            | "SharedNeighbours" >> beam.ParDo(_LinkShared(self._threshold))
        )
        copies = copy_groups | "CopyLinks" >> beam.Filter(lambda kv: kv[0] != kv[1])
        return (
            (similar, copies)
            | "AllLinks" >> beam.Flatten()
            | "Stories" >> ConnectedComponents("stories")
        )
