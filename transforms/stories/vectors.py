"""Story vectors: what an article is about, as weighted content words.

IDF comes from the language's word frequencies (the `wordfreq` tables), not from the run's
documents: an article's vector is then the same whatever else is in the run, a batch of
five articles on one event weighs "Pyongyang" above "said" as a corpus of millions would,
and incremental or streaming runs can compare new articles with old ones.

Each article is weighed in its own language (its `language` column; the feed's main
language, `--language`, when it has none): that language's words, stop words and
frequencies. The terms of a language other than the main one carry it in their ids, so
vectors of two languages share no term: articles in different languages never link, not
even through the names they share (a story is of one language). The main language's
terms keep plain ids, as vectors of earlier versions had them.
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
import numpy as np
import pyarrow as pa

from storywire.transforms.copies.fingerprint import normalise, words_of_normalised
from storywire.transforms.languages import wordfreq_code, wordfreq_languages
from storywire.transforms.records import Article
from storywire.transforms.stories.frequencies import frequencies_of, frequency_table

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


# Another language's stop words are its most frequent words: Zipf 5.5 and above in its
# wordfreq table (250 to 400 words: the function words, and the likes of "said").
STOPWORD_MIN_FREQUENCY = 10 ** (5.5 - 9)
# Without a frequency table, words this short are taken for function words.
NEUTRAL_MIN_CHARS = 4


# Scripts written without spaces between words: where no word splitter is at hand, their
# runs of letters are cut into overlapping pairs of characters (Han, kana, Hangul, Thai,
# Lao, Khmer, Myanmar).
_UNSPACED = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]{2,}")


class Weighting(NamedTuple):
    """How the words of one language are weighed in story vectors."""

    language: str                      # its code ("" when it is not known)
    frequencies: Mapping[str, float]   # wordfreq's table; empty: every word alike
    stopwords: frozenset[str]
    min_chars: int                     # shorter words are dropped (numbers are kept)
    scope: str                         # prefix of its term ids: "" for the main language
    wordfreq_tokens: bool              # words split as wordfreq splits them (Chinese...)


ENGLISH = Weighting("en", {}, _STOPWORDS, 3, "", False)


def weighting(language: str | None, main: str = DEFAULT_LANGUAGE) -> Weighting:
    """The weighting of an article in `language` (None: the main language): English with
    its curated stop words, another language of wordfreq with its table and most frequent
    words, any other language-neutral (every word alike, short ones dropped)."""
    language = wordfreq_code(language or main)
    scope = "" if language == wordfreq_code(main) else f"{language}:"
    if language not in wordfreq_languages() or not _wordfreq_splits(language):
        # No table, or no word splitter here (Japanese and Korean need MeCab): every word
        # alike, as a table of words would not match the pairs of characters used instead.
        return Weighting(language, {}, frozenset(), NEUTRAL_MIN_CHARS, scope, False)
    frequencies = frequency_table(language)
    if language == "en":
        return ENGLISH._replace(frequencies=frequencies, scope=scope)
    return Weighting(language, frequencies, frequencies.at_least(STOPWORD_MIN_FREQUENCY), 2,
                     scope, True)


# Languages whose text wordfreq splits with a library of its extras; any other it splits
# with regular expressions.
_SPLIT_BY_EXTRAS = frozenset({"zh", "ja", "ko"})


def _wordfreq_splits(language: str) -> bool:
    """Whether wordfreq can split this language's text here (Chinese needs jieba, Japanese
    and Korean MeCab; without them, words are runs of letters)."""
    if language not in _SPLIT_BY_EXTRAS:
        return True
    import logging
    import warnings

    import wordfreq

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jieba imports the deprecated pkg_resources
        try:
            if language == "zh":
                import jieba  # noqa: F401 - imported first, to quieten it before it loads
                # It logs loading its dictionary, and failing to cache it (harmless).
                logging.getLogger("jieba").setLevel(logging.CRITICAL)
            wordfreq.tokenize("a", language)
        except ImportError:
            return False
    return True


def _tokens(text: str, weighting: Weighting) -> list[str]:
    if weighting.wordfreq_tokens:
        import wordfreq

        return wordfreq.tokenize(text, weighting.language)
    normalised = normalise(text)  # as `words` reads it (a second pass may join letters)
    tokens = words_of_normalised(normalised)
    if not _UNSPACED.search(normalised):  # most texts: no word to cut (one search, not one a word)
        return tokens
    return [token for word in tokens for token in _split_unspaced(word)]


def _split_unspaced(word: str) -> list[str]:
    """A word, with each run of letters of a script written without spaces cut into
    overlapping pairs of characters: the words of such a text cannot be told apart without
    a dictionary, and pairs of characters match where words would."""
    pieces, start = [], 0
    for run in _UNSPACED.finditer(word):
        if run.start() > start:
            pieces.append(word[start:run.start()])
        pieces += [run.group()[i:i + 2] for i in range(len(run.group()) - 1)]
        start = run.end()
    if start < len(word):
        pieces.append(word[start:])
    return pieces


def story_terms(text: str, title: str | None = None, weighting: Weighting = ENGLISH) -> Counter:
    """Content words with their counts: no stop words, no words shorter than the
    language's minimum (but numbers).

    Thousands separators are dropped first, so "10,000", "10，000" and "10000" are one term.
    """
    joined = _THOUSANDS.sub("", normalise(f"{title or ''}\n{text}"))
    stopwords, min_chars = weighting.stopwords, weighting.min_chars
    return Counter(w for w in _tokens(joined, weighting) if w not in stopwords and (
        len(w) >= min_chars or w.isdigit() or _UNSPACED.fullmatch(w)))


class LanguageWeights:
    """The Weighting of each language a worker meets, made on first use: a frequency table
    is tens of megabytes, loaded once per worker and language."""

    def __init__(self, main: str = DEFAULT_LANGUAGE):
        self._main = main
        self._known: dict[str, Weighting] = {}

    def of(self, language: str | None) -> Weighting:
        language = wordfreq_code(language or self._main)
        if language not in self._known:
            self._known[language] = weighting(language, self._main)
        return self._known[language]


def idf(term: str, frequency: float | None) -> float:
    """-log of the term's frequency in the language (None: not in its table): high for
    rare, informative words."""
    default = UNSEEN_NUMBER_FREQUENCY if term.isdigit() else UNSEEN_WORD_FREQUENCY
    return -math.log(frequency or default)


def tfidf_vector(terms: Mapping[str, int], frequencies: Mapping[str, float],
                 size: int = VECTOR_TERMS) -> tuple[tuple[str, float], ...]:
    """The article's strongest `size` terms, sublinear TF x IDF, L2-normalised.

    Ties break by term, so the vector is the same on every worker.
    """
    weights = {t: (1.0 + math.log(c)) * idf(t, f)
               for (t, c), f in zip(terms.items(), frequencies_of(frequencies, terms))}
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return tuple(sorted((t, w / norm) for t, w in top))


def pack(vector: Vector, scope: str = "") -> bytes:
    """A vector as it travels between workers: CRC-32 term ids (uint32) then weights
    (float32), a quarter of the size of the pickled tuple. Terms whose ids collide add up.
    `scope` (a language's, see Weighting) goes into every id."""
    weights: dict[int, float] = {}
    for term, weight in vector:
        term_id = zlib.crc32(f"{scope}{term}".encode("utf-8"))
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
    # Only the shared terms, found in C; added in ascending term order, the order both
    # kinds of vector keep their terms in, so the sum is the same float a walk over every
    # term of `small` gives.
    return sum((small[t] * large[t] for t in sorted(small.keys() & large.keys())), 0.0)


def candidate_keys(packed: bytes, n: int = KEY_TERMS) -> list[int]:
    """The ids of a packed vector's strongest terms: articles sharing one are compared.

    Taken from the packed vector, so an article read back from the story index gets the
    same keys it had when it was new.
    """
    weights = unpack(packed)
    return [t for t, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


# Where a vector has fewer than KEY_TERMS terms, in `strongest_keys`: no uint32 id is it.
NO_KEY = 1 << 32


def strongest_keys(packed: pa.Array, n: int = KEY_TERMS) -> np.ndarray:
    """The candidate keys of many packed vectors (an Arrow binary array), one row of `n`
    each (uint64; NO_KEY fills the row of a vector with fewer terms): `candidate_keys` of
    each, in no particular order, worked out in NumPy (a Python loop over a million stored
    vectors takes a minute), vectors of one length at a time."""
    packed = packed.combine_chunks() if isinstance(packed, pa.ChunkedArray) else packed
    keys = np.full((len(packed), n), NO_KEY, dtype=np.uint64)
    if not len(packed):
        return keys
    offsets = np.frombuffer(packed.buffers()[1], dtype=np.int32)[
        packed.offset:packed.offset + len(packed) + 1].astype(np.int64)
    data = np.frombuffer(packed.buffers()[2] or b"", dtype=np.uint8)
    lengths = np.diff(offsets)
    for length in np.unique(lengths):
        terms = int(length) // 8
        if terms == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        for start in range(0, len(rows), _ROWS_AT_ONCE):
            some = rows[start:start + _ROWS_AT_ONCE]
            top = _strongest(data, offsets[some], terms, n)
            keys[some, :top.shape[1]] = top
    return keys


_ROWS_AT_ONCE = 4096  # vectors unpacked together: a few megabytes of NumPy arrays


def _strongest(data: np.ndarray, starts: np.ndarray, terms: int, n: int) -> np.ndarray:
    """The `n` strongest term ids (ties: the smaller id) of packed vectors of `terms` terms
    each, starting at `starts` in `data`: one row each (fewer columns if `terms` < n), in
    no particular order."""
    block = data[starts[:, None] + np.arange(8 * terms)]
    ids = np.ascontiguousarray(block[:, :4 * terms]).view(np.uint32)
    bits = np.ascontiguousarray(block[:, 4 * terms:]).view(np.uint32)
    # Float bits made to sort as the floats do, then flipped: strongest first, and one
    # uint64 holding (weight, id) sorts as candidate_keys sorts its pairs.
    ordered = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))
    order = (~ordered).astype(np.uint64) << np.uint64(32) | ids
    if terms > n:
        order = np.partition(order, n - 1, axis=1)[:, :n]
    return order & np.uint64(0xFFFFFFFF)


def vectorise(article: Article, weights: LanguageWeights) -> StoryVector:
    """An article's story vector, weighed in its language."""
    weighting = weights.of(article.language)
    title = article.title if article.weighed_title is None else article.weighed_title
    terms = story_terms(article.text, title, weighting)
    packed = pack(tfidf_vector(terms, weighting.frequencies), weighting.scope)
    return StoryVector(article.article_id, article.published_at, packed, candidate_keys(packed))


class _Vectorise(beam.DoFn):
    def __init__(self, language: str, with_article: bool):
        self._language = language
        self._with_article = with_article
        self._weights = None

    def setup(self):
        self._weights = LanguageWeights(self._language)

    def process(self, article: Article):
        vector = vectorise(article, self._weights)
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
