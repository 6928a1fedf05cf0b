"""Word frequencies read from storywire's copy of wordfreq's tables: every word's frequency
as wordfreq gives it, and a damaged copy made again."""

import pytest
from wordfreq import get_frequency_dict

from storywire.transforms.cache import CACHE_ENV
from storywire.transforms.stories import frequencies as module
from storywire.transforms.stories.frequencies import FrequencyTable, frequency_table
from storywire.transforms.stories.vectors import STOPWORD_MIN_FREQUENCY, weighting


@pytest.mark.parametrize("language", ["en", "de", "ru"])
def test_every_word_has_wordfreqs_frequency(language):
    expected = get_frequency_dict(language, wordlist="best")
    table = frequency_table(language)
    words = list(expected)
    assert table.frequencies_of(words) == [expected[w] for w in words]
    assert len(table) == len(expected) and set(table) == set(expected)
    # German and Russian have words longer than the table's array holds.
    longest = max(words, key=lambda w: len(w.encode()))
    assert table[longest] == expected[longest]


def test_words_not_in_the_language_have_no_frequency():
    table = frequency_table("en")
    odd = ["pyongyangx", "the" * 30, "th\0e", "\udcff", "", "the\0"]
    assert table.frequencies_of(odd) == [None] * len(odd)
    assert table.get("zzkqx") is None and "zzkqx" not in table
    assert table.frequencies_of(["the", "zzkqx", "the"])[0] == table["the"] > 0.01


def test_a_table_of_a_few_words_and_one_of_none():
    words = {"a": 0.5, "b\0": 0.25, "ccccccccccccccccccccccccccccccc": 0.125, "é": 0.0625}
    table = FrequencyTable.of(words)
    assert dict(table.items()) == words
    assert table.at_least(0.2) == {"a", "b\0"}
    assert FrequencyTable.of({}).frequencies_of(["a"]) == [None]


def test_the_most_common_words_are_wordfreqs(monkeypatch):
    expected = get_frequency_dict("de", wordlist="best")
    assert weighting("de").stopwords == {
        w for w, f in expected.items() if f >= STOPWORD_MIN_FREQUENCY}


def test_a_table_forgets_what_it_looked_up_and_still_answers(monkeypatch):
    monkeypatch.setattr(module, "MAX_REMEMBERED", 3)
    table = frequency_table("en")
    expected = get_frequency_dict("en", wordlist="best")
    for words in (["the", "of", "and"], ["news", "zzkqx"], ["of", "bank", "rates", "tax"]):
        assert table.frequencies_of(words) == [expected.get(w) for w in words]
        assert len(table._remembered) <= max(3, len(words))


def test_a_copy_cut_short_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = frequency_table("pt")
    (copy,) = tmp_path.glob("wordfreq-*-pt.npz")
    copy.write_bytes(copy.read_bytes()[:1000])
    again = frequency_table("pt")
    assert again["de"] == first["de"] and copy.stat().st_size > 1000
