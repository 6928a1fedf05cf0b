"""Story vectors: what an article is about, as weighted content words.

IDF comes from the language's word frequencies (the `wordfreq` tables), not from the run's
documents: an article's vector is then the same whatever else is in the run, a batch of
five articles on one event weighs "Pyongyang" above "said" as a corpus of millions would,
and incremental or streaming runs can compare new articles with old ones.
"""

from __future__ import annotations

import math
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

import apache_beam as beam

from storywire.transforms.copies.fingerprint import normalise, words
from storywire.transforms.records import Article

DEFAULT_LANGUAGE = "en"
# Frequency assumed for words the language table lacks: names and rare words are
# informative; numbers less so (years, counts and prices recur across stories).
UNSEEN_WORD_FREQUENCY = 1e-8
UNSEEN_NUMBER_FREQUENCY = 1e-5
VECTOR_TERMS = 128  # terms kept per article vector
KEY_TERMS = 8       # of which the strongest are candidate keys

Vector = tuple[tuple[str, float], ...]


class StoryVector(NamedTuple):
    """What the story steps compare of an article: its packed TF-IDF vector, its date,
    and the candidate keys (strongest terms) under which it meets others."""

    article_id: str
    published_at: int | None
    packed: bytes
    keys: list[int]

# Packed vectors hold 4-byte ids and 4-byte weights.
assert array("I").itemsize == 4 and array("f").itemsize == 4, "unexpected C type sizes"

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

    Thousands separators are dropped first, so "10,000", "10，000" and "10000" are one term.
    """
    joined = _THOUSANDS.sub("", normalise(f"{title or ''}\n{text}"))
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


def pack(vector: Vector) -> bytes:
    """A vector as it travels between workers: CRC-32 term ids (uint32) then weights
    (float32), a quarter of the size of the pickled tuple. Terms whose ids collide add up."""
    weights: dict[int, float] = {}
    for term, weight in vector:
        term_id = zlib.crc32(term.encode("utf-8"))
        weights[term_id] = weights.get(term_id, 0.0) + weight
    ids = sorted(weights)
    return array("I", ids).tobytes() + array("f", [weights[i] for i in ids]).tobytes()


def unpack(packed: bytes) -> dict[int, float]:
    """A packed vector as {term id: weight}, ready for `cosine`."""
    half = len(packed) // 2
    ids, weights = array("I"), array("f")
    ids.frombytes(packed[:half])
    weights.frombytes(packed[half:])
    return dict(zip(ids, weights))


def cosine(a: Vector | Mapping, b: Vector | Mapping) -> float:
    """Cosine similarity of two L2-normalised vectors (tuples, or dicts from `unpack`)."""
    a = a if isinstance(a, Mapping) else dict(a)
    b = b if isinstance(b, Mapping) else dict(b)
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(w * large.get(t, 0.0) for t, w in small.items())


def candidate_keys(packed: bytes, n: int = KEY_TERMS) -> list[int]:
    """The ids of a packed vector's strongest terms: articles sharing one are compared.

    Taken from the packed vector, so an article read back from the story index gets the
    same keys it had when it was new.
    """
    weights = unpack(packed)
    return [t for t, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def vectorise(article: Article, frequencies: Mapping[str, float]) -> StoryVector:
    """An article's story vector, weighed with a language's word `frequencies`."""
    packed = pack(tfidf_vector(story_terms(article.text, article.title), frequencies))
    return StoryVector(article.article_id, article.published_at, packed, candidate_keys(packed))


class _Vectorise(beam.DoFn):
    def __init__(self, language: str, with_article: bool):
        self._language = language
        self._with_article = with_article
        self._frequencies = None

    def setup(self):
        self._frequencies = load_word_frequencies(self._language)

    def process(self, article: Article):
        vector = vectorise(article, self._frequencies)
        yield (article, vector) if self._with_article else vector


class Vectorise(beam.PTransform):
    """Articles to (article_id, published_at, packed vector, candidate keys), or with
    `with_article` to (article, that vector): a stream keeps the two in one element, as
    a late pane may split collections that would have to be joined again."""

    def __init__(self, language: str = DEFAULT_LANGUAGE, with_article: bool = False):
        super().__init__()
        self._language = language
        self._with_article = with_article

    def expand(self, articles):
        return articles | beam.ParDo(_Vectorise(self._language, self._with_article))
