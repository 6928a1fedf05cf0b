"""A language's word frequencies (wordfreq's table), as story vectors read them.

wordfreq makes a dictionary of 270,000 to 710,000 words from its packed lists in every
process that weighs a language: 0.1 to 0.4 s of CPU and tens of megabytes a language, in
each worker, for each language its articles are in. storywire keeps each table in the
cache folder (transforms/cache.py) as sorted arrays, the words' UTF-8 bytes and their
frequencies, reads it in milliseconds, and looks up only the words its articles have, many
at a time, remembering those it has looked up. The frequencies are wordfreq's, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import version

import numpy as np

from storywire.transforms.cache import from_copy

# The share of a table's words held in its array (the rest, longer, in a dictionary): the
# array's items are all as wide as its longest word.
_ARRAY_SHARE = 99.5
# Words looked up that a table remembers (with their frequency, or that it has none),
# before it forgets them all: a bound on a long-running worker's memory (tens of MB).
MAX_REMEMBERED = 200_000
# Longer words are looked up each time they come, not remembered: no language's table has
# many, and a feed's odd long tokens (codes, base64) would fill the memory.
MAX_REMEMBERED_CHARS = 40
# Temporary files of copies being written (cache.py removes those left by killed writers).
_WRITING = ".wordfreq-"
# The layout of a copy's arrays, in its name: versions of storywire that lay them out
# differently keep copies of their own instead of each remaking the other's.
_LAYOUT = 3


class FrequencyTable(Mapping):
    """Word -> frequency in the language, for the words of a sorted array of UTF-8 bytes
    (fixed width) and a dictionary of the longer ones."""

    def __init__(self, language: str, words: np.ndarray, frequencies: np.ndarray,
                 long: Mapping[str, float]):
        self.language = language
        self._words = words
        self._frequencies = frequencies
        self._long = dict(long)
        self._width = words.dtype.itemsize
        self._remembered: dict[str, float | None] = {}

    @classmethod
    def of(cls, frequencies: Mapping[str, float], language: str = "") -> FrequencyTable:
        """The table of a dictionary of frequencies."""
        encoded = {word: word.encode("utf-8") for word in frequencies}
        lengths = [len(b) for b in encoded.values()]
        width = max(1, int(np.percentile(lengths, _ARRAY_SHARE))) if lengths else 1
        short = [w for w, b in encoded.items() if _fits(b, width)]
        words = np.array([encoded[w] for w in short], dtype=f"S{width}")
        values = np.array([frequencies[w] for w in short], dtype=np.float64)
        order = np.argsort(words, kind="stable")
        long = {w: frequencies[w] for w, b in encoded.items() if not _fits(b, width)}
        return cls(language, words[order], values[order], long)

    def frequencies_of(self, words: Iterable[str]) -> list[float | None]:
        """The frequency of each word (None: not in the language's table), in order."""
        words = words if isinstance(words, (list, tuple, Mapping)) else list(words)
        remembered = self._remembered
        unknown = [word for word in words if word not in remembered]
        if not unknown:
            return [remembered[word] for word in words]
        found = dict(zip(unknown, self._look_up(unknown)))
        answers = [found[word] if word in found else remembered[word] for word in words]
        kept = {w: f for w, f in found.items() if len(w) <= MAX_REMEMBERED_CHARS}
        if len(remembered) + len(kept) > MAX_REMEMBERED:
            remembered.clear()
        if len(kept) <= MAX_REMEMBERED:
            remembered.update(kept)
        return answers

    def _look_up(self, words: list[str]) -> list[float | None]:
        found: list[float | None] = [None] * len(words)
        encoded = [word.encode("utf-8", "surrogatepass") for word in words]
        in_array = [i for i, b in enumerate(encoded) if _fits(b, self._width)]
        for i, b in enumerate(encoded):
            if not _fits(b, self._width):
                found[i] = self._long.get(words[i])
        if in_array and len(self._words):
            keys = np.array([encoded[i] for i in in_array], dtype=self._words.dtype)
            at = np.minimum(np.searchsorted(self._words, keys), len(self._words) - 1)
            hits = self._words[at] == keys
            values = self._frequencies[at].tolist()
            for n, i in enumerate(in_array):
                if hits[n]:
                    found[i] = values[n]
        return found

    def at_least(self, frequency: float) -> frozenset[str]:
        """The words at least this frequent (a language's most common words)."""
        common = self._words[self._frequencies >= frequency]
        return frozenset([w.decode("utf-8") for w in common.tolist()]
                         + [w for w, f in self._long.items() if f >= frequency])

    def __getitem__(self, word: str) -> float:
        frequency = self.frequencies_of([word])[0]
        if frequency is None:
            raise KeyError(word)
        return frequency

    def __iter__(self) -> Iterator[str]:
        yield from (word.decode("utf-8") for word in self._words.tolist())
        yield from self._long

    def __len__(self) -> int:
        return len(self._words) + len(self._long)

    def arrays(self) -> dict:
        """The table as the arrays of its cached copy. The long words are one run of UTF-8
        bytes and their lengths: NumPy's fixed-width strings would drop trailing NULs."""
        encoded = [word.encode("utf-8", "surrogatepass") for word in self._long]
        return {"language": np.array(self.language), "count": np.array(len(self)),
                "words": self._words,
                "frequencies": self._frequencies,
                "long_words": np.frombuffer(b"".join(encoded), dtype=np.uint8),
                "long_lengths": np.array([len(b) for b in encoded], dtype=np.int64),
                "long_frequencies": np.array(list(self._long.values()), dtype=np.float64)}

    @classmethod
    def from_arrays(cls, arrays: dict, language: str) -> FrequencyTable:
        """The table of a cached copy's arrays; raises ValueError for a copy that is not
        a whole table of this language (another language's, fewer words than it was
        written with, words out of order, frequencies that are none)."""
        words, frequencies = arrays["words"], arrays["frequencies"]
        blob, lengths = arrays["long_words"], arrays["long_lengths"]
        long_frequencies = arrays["long_frequencies"]
        if (arrays["language"].tolist() != language or words.dtype.kind != "S"
                or frequencies.dtype != np.float64 or blob.dtype != np.uint8
                or lengths.dtype != np.int64 or long_frequencies.dtype != np.float64
                or any(a.ndim != 1 for a in (words, frequencies, blob, lengths, long_frequencies))
                or len(words) != len(frequencies) or len(lengths) != len(long_frequencies)
                or not len(words) or lengths.min(initial=0) < 0
                or lengths.sum() != len(blob) or not bool(np.all(words[:-1] < words[1:]))
                or arrays["count"].tolist() != len(words) + len(lengths)
                or not _frequencies(frequencies) or not _frequencies(long_frequencies)):
            raise ValueError("not this language's table of word frequencies")
        data, ends = blob.tobytes(), np.cumsum(lengths).tolist()
        long = [data[start:end].decode("utf-8", "surrogatepass")
                for start, end in zip([0, *ends], ends)]
        return cls(language, words, frequencies, dict(zip(long, long_frequencies.tolist())))


def _frequencies(values: np.ndarray) -> bool:
    """Whether these are frequencies: above 0 and at most 1 (NaN is not)."""
    return bool(np.all((values > 0) & (values <= 1)))


def _fits(encoded: bytes, width: int) -> bool:
    """Whether a word goes in an array of this width: NumPy's fixed-width bytes drop
    trailing NULs, so a word holding one is kept in the dictionary."""
    return len(encoded) <= width and b"\0" not in encoded


def frequencies_of(frequencies: Mapping[str, float], words: Iterable[str]) -> list[float | None]:
    """The frequency of each word in a table or a plain dictionary (None: not in it)."""
    if isinstance(frequencies, FrequencyTable):
        return frequencies.frequencies_of(words)
    return [frequencies.get(word) for word in words]


def frequency_table(language: str) -> FrequencyTable:
    """wordfreq's table of the language (its "best" word list), from the cached copy, or
    made from wordfreq (and the copy written)."""
    def make() -> FrequencyTable:
        from wordfreq import get_frequency_dict

        return FrequencyTable.of(get_frequency_dict(language, wordlist="best"), language)

    return from_copy(f"wordfreq-{version('wordfreq')}-{language}.v{_LAYOUT}.npz", _WRITING,
                     lambda arrays: FrequencyTable.from_arrays(arrays, language), make,
                     FrequencyTable.arrays)
