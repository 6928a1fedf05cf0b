"""Fingerprints: normalisation, simhash range and robustness, content hash."""

from conftest import SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st
from simhash import Simhash

from storywire.transforms.copies.fingerprint import (
    MAX_FEATURE_WEIGHT,
    SIMHASH_BITS,
    content_hash,
    hamming,
    normalise,
    simhash64,
    simhash_features,
    simhash_of_features,
    to_signed64,
    to_unsigned64,
    words,
)
from storywire.transforms.stories.vectors import story_terms


def test_normalise_unifies_quotes_dashes_width_and_case():
    assert normalise("“Putin’s” — ＡＢＣ") == "\"putin's\" - abc"


def test_typographic_copies_hash_the_same():
    a = "“We believe,” Singh said — it’s 10,000 troops."
    b = '"We believe," Singh said - it\'s 10,000 troops.'
    assert content_hash(a) == content_hash(b)
    assert simhash64(a) == simhash64(b)


def test_invisible_marks_and_odd_spaces_do_not_change_fingerprints():
    # Stored text keeps them as published; two copies differ in them all the time.
    a = ("The Donau\u00addampf\u00adschiff sailed at 10\u00a0a.m.\u200b with 10，000 on board, "
         "\u200fשלום\u200f, donʼt.")
    b = "The Donaudampfschiff sailed at 10 a.m. with 10,000 on board, שלום, don't."
    assert words(a) == words(b)
    assert (content_hash(a), simhash64(a)) == (content_hash(b), simhash64(b))
    assert story_terms(a) == story_terms(b)


def test_different_texts_differ():
    assert content_hash("troops sent to Russia") != content_hash("troops sent to Ukraine")


def test_simhash_is_a_signed_64_bit_integer():
    values = [simhash64(f"article number {i} about something else entirely") for i in range(200)]
    assert all(-(1 << 63) <= v < (1 << 63) for v in values)
    assert any(v < 0 for v in values)  # the top bit is used


def test_a_word_repeated_thousands_of_times_does_not_overflow():
    # simhash 2.1.2 overflows a uint8 when one feature weighs over 255.
    assert isinstance(simhash64("spam " * 50_000), int)
    assert isinstance(simhash64("spam eggs " * 50_000), int)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1), st.integers(1, MAX_FEATURE_WEIGHT), min_size=1,
                       max_size=400))
def test_simhash_equals_the_simhash_package(features):
    # Fingerprints stored by any version must keep matching new ones: storywire's simhash is
    # the package's value, weights heavy and light, ties included.
    assert simhash_of_features(features) == Simhash(features, f=SIMHASH_BITS).value


def test_simhash_of_an_article_equals_the_simhash_package():
    text = sorted(SEEDS.iterdir())[0].read_text(encoding="utf-8")
    features = simhash_features(words(text))
    assert len(features) > 100
    assert to_unsigned64(simhash64(text)) == Simhash(features, f=SIMHASH_BITS).value


def test_empty_text():
    assert simhash64("") == 0
    assert words("") == []


def test_hamming():
    assert hamming(0, 0) == 0
    assert hamming(to_signed64((1 << 64) - 1), 0) == 64
    assert hamming(0b1011, 0b0001) == 2


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_string_fingerprints(text):
    value = simhash64(text)
    assert -(1 << 63) <= value < (1 << 63)
    assert len(content_hash(text)) == 32
