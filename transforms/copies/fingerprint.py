"""Fingerprints of a clean body: a 64-bit simhash for near-duplicates and an exact content hash.

Both are computed over the same normalised text (NFKC, one kind of quote and dash, no
invisible marks, lower case, words only), so a syndicated copy that differs only in
typography hashes the same. The stored text keeps its typography; only these normalise.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

import numpy as np

SIMHASH_BITS = 64
# The simhash package (2.1.2) multiplies uint8 bit arrays by the feature weight: a weight
# over 255 overflows there. Weights are capped, so fingerprints equal the package's (the
# tests compare), which also keeps one repeated word from dominating.
MAX_FEATURE_WEIGHT = 255
# Word bigrams are the features: word order matters, as it does between a
# copy and a rewrite, while boilerplate differences move only a few bits.
SHINGLE_WORDS = 2

_QUOTES_AND_DASHES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u02bc": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",
        # Invisible marks that one copy of a text has and another not: soft hyphens,
        # zero-width spaces and joiners, direction marks, the BOM. Inside a word they
        # would split it in two.
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u200e": None,
        "\u200f": None, "\u2060": None, "\ufeff": None,
        **dict.fromkeys(map(chr, [*range(0x202a, 0x202f), *range(0x2066, 0x206a)])),
    }
)
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """NFKC, unified quotes and dashes, no invisible marks, lower case."""
    return unicodedata.normalize("NFKC", text).translate(_QUOTES_AND_DASHES).lower()


def words(text: str) -> list[str]:
    """The normalised words of a text, in order."""
    return words_of_normalised(normalise(text))


def words_of_normalised(normalised: str) -> list[str]:
    """The words of a text `normalise` returned, in order."""
    return _WORD.findall(normalised)


def simhash_features(tokens: list[str], shingle: int = SHINGLE_WORDS) -> dict[str, int]:
    """Word shingles with their counts, each count capped at MAX_FEATURE_WEIGHT."""
    if len(tokens) < shingle:
        grams = [" ".join(tokens)] if tokens else []
    else:
        grams = [" ".join(tokens[i:i + shingle]) for i in range(len(tokens) - shingle + 1)]
    return {g: min(n, MAX_FEATURE_WEIGHT) for g, n in Counter(grams).items()}


def to_signed64(value: int) -> int:
    """The 64 bits as a signed integer, the type every Parquet reader has."""
    return value - (1 << 64) if value >= (1 << 63) else value


def to_unsigned64(value: int) -> int:
    return value & ((1 << 64) - 1)


def simhash_of_features(features: dict[str, int]) -> int:
    """Charikar's simhash of weighted features, as the simhash package computes it (the
    last 8 bytes of each feature's MD5 are its bits; a bit is set where the features that
    set it outweigh half the total), unsigned. The package walks the features in Python
    one by one; here their bits are summed in one matrix product, twice as fast, same value."""
    md5 = hashlib.md5
    digests = b"".join([md5(f.encode("utf-8")).digest()[-SIMHASH_BITS // 8:] for f in features])
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(-1, SIMHASH_BITS)
    weights = np.fromiter(features.values(), dtype=np.int64, count=len(features))
    set_bits = weights @ bits > weights.sum() / 2
    return int.from_bytes(np.packbits(set_bits).tobytes(), "big")


def simhash64(text: str, tokens: list[str] | None = None) -> int:
    """The 64-bit simhash of a text, as a signed int64 (0 for a text without words).
    `tokens`: the text's `words`, when the caller has them already."""
    features = simhash_features(words(text) if tokens is None else tokens)
    if not features:
        return 0
    return to_signed64(simhash_of_features(features))


def content_hash(text: str, tokens: list[str] | None = None) -> str:
    """Hex digest of the normalised words: equal for copies that differ only in typography."""
    tokens = words(text) if tokens is None else tokens
    return hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=16).hexdigest()


def hamming(a: int, b: int) -> int:
    """Bits that differ between two simhashes (signed or unsigned)."""
    return (to_unsigned64(a) ^ to_unsigned64(b)).bit_count()
