"""Stories: articles that report the same news event, one story_id each.

Simhash sees copies, not rewrites: two agencies' reports of one event share few word pairs
but many rare words (names, places, figures). So each article gets a TF-IDF vector of its
content words, and:

1. candidates: articles are keyed by their top terms; only articles sharing a key are
   compared, each with its nearest neighbours in time within the key's bucket, so the
   work per article is bounded whatever the corpus size;
2. links: a candidate pair whose cosine similarity reaches the threshold is linked, and so
   is every near-duplicate pair (a story is never narrower than a dup group);
3. stories: the connected components of the links.

Each story has exactly one canonical article, chosen by `canonical_order`: the earliest
published, then the longest text (the most complete version), then the smallest
article_id. The story_id is derived from the canonical article's id.

IDF comes from the language's word frequencies (the `wordfreq` tables), not from the run's
own documents: an article's vector is then the same whatever else is in the run, a batch
of five articles on one event weighs "Pyongyang" above "said" as a corpus of millions
would, and an incremental or streaming run can compare new articles with old ones.
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

DEFAULT_THRESHOLD = 0.3
DEFAULT_LANGUAGE = "en"
# Frequency assumed for words the language table lacks: names and rare words are
# informative; numbers less so (years, counts and prices recur across stories).
UNSEEN_WORD_FREQUENCY = 1e-8
UNSEEN_NUMBER_FREQUENCY = 1e-5
VECTOR_TERMS = 64   # terms kept per article vector
KEY_TERMS = 8       # of which the strongest are candidate keys
DEFAULT_WINDOW = 100  # neighbours in time compared per article within one key bucket

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


def linked_pairs(members: list[tuple[str, int | None, tuple]], threshold: float,
                 window: int = DEFAULT_WINDOW) -> tuple[list[tuple[str, str]], bool]:
    """Linked pairs in one key bucket of (article_id, published_at, vector).

    Members are put in time order (undated last) and each is compared with the next
    `window` members: all pairs in a small bucket, nearest neighbours in time in a large
    one. Returns the pairs and whether the bucket was larger than the window.
    """
    ordered = sorted(members, key=lambda m: (m[1] is None, m[1] or 0, m[0]))
    pairs = []
    for i, (id_a, _, vec_a) in enumerate(ordered):
        for id_b, _, vec_b in ordered[i + 1:i + 1 + window]:
            if cosine(vec_a, vec_b) >= threshold:
                pairs.append((min(id_a, id_b), max(id_a, id_b)))
    return pairs, len(ordered) > window + 1


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


class _LinkBucket(beam.DoFn):
    def __init__(self, threshold: float, window: int):
        self._threshold = threshold
        self._window = window
        self.windowed = Metrics.counter(NAMESPACE, "story_buckets_over_window")

    def process(self, keyed):
        _, members = keyed
        members = list(members)
        if len(members) < 2:
            return
        pairs, over = linked_pairs(members, self._threshold, self._window)
        if over:
            self.windowed.inc()
        yield from pairs


class LinkStories(beam.PTransform):
    """Articles and their near-duplicate pairs to (article_id, story label).

    Articles missing from the output are stories of their own.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, window: int = DEFAULT_WINDOW,
                 language: str = DEFAULT_LANGUAGE):
        super().__init__()
        self._threshold = threshold
        self._window = window
        self._language = language

    def expand(self, pcolls):
        articles, copy_pairs = pcolls
        similar = (
            articles
            | "Vectorise" >> beam.ParDo(_Vectorise(self._language))
            | "CandidateKeys" >> beam.FlatMap(
                lambda v: [(key, v) for key in candidate_keys(v[2])])
            | "Buckets" >> beam.GroupByKey()
            | "Link" >> beam.ParDo(_LinkBucket(self._threshold, self._window))
        )
        return (
            (similar, copy_pairs)
            | "AllLinks" >> beam.Flatten()
            | "Stories" >> ConnectedComponents("stories")
        )
