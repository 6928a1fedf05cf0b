"""Word frequencies read from storywire's copy of wordfreq's tables: every word's frequency
as wordfreq gives it, and a damaged copy made again."""

import os
import threading
import time

import numpy as np
import pytest
from wordfreq import get_frequency_dict

from storywire.transforms.cache import CACHE_ENV, read_arrays, write_arrays
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
    words = {"a": 0.5, "b\0": 0.25, "ccccccccccccccccccccccccccccccc": 0.125, "é": 0.0625,
             "\0": 0.03125}
    table = FrequencyTable.of(words, "xx")
    assert dict(table.items()) == words
    copied = FrequencyTable.from_arrays(table.arrays(), "xx")  # as its copy reads back
    assert dict(copied.items()) == words
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
    # Words met before and new ones together, as articles have them, when the table is full.
    for words in (["the", "of"], ["the", "news"], ["the", "bank"], ["of", "bank", "rates", "tax"],
                  ["zzkqx", "the", "the"]):
        assert table.frequencies_of(words) == [expected.get(w) for w in words]
        assert len(table._remembered) <= 3


def test_long_tokens_are_looked_up_but_not_remembered():
    table = frequency_table("en")
    token = "QmFzZTY0" * 20
    assert table.frequencies_of([token, "the"]) == [None, table["the"]]
    assert token not in table._remembered and "the" in table._remembered


def test_a_copy_cut_short_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = frequency_table("pt")
    copy = _copy_of("pt", tmp_path)
    copy.write_bytes(copy.read_bytes()[:1000])
    again = frequency_table("pt")
    assert again["de"] == first["de"] and copy.stat().st_size > 1000


def _copy_of(language, cache):
    (copy,) = cache.glob(f"wordfreq-*-{language}.v*.npz")
    return copy


@pytest.mark.parametrize("damage", ["other language", "unsorted", "two-dimensional",
                                    "no long words", "fewer words", "not frequencies"])
def test_a_copy_that_is_not_the_languages_table_is_made_again(tmp_path, monkeypatch, damage):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    expected = frequency_table("it")["della"]
    frequency_table("pt")
    copy, arrays = _copy_of("it", tmp_path), read_arrays(_copy_of("pt", tmp_path))
    if damage == "unsorted":
        arrays = {**read_arrays(copy), "words": read_arrays(copy)["words"][::-1].copy()}
    elif damage == "two-dimensional":
        arrays = {k: v.reshape(1, -1) if k in ("words", "frequencies") else v
                  for k, v in read_arrays(copy).items()}
    elif damage == "no long words":
        arrays = {k: v for k, v in read_arrays(copy).items() if k != "long_lengths"}
    elif damage == "fewer words":
        arrays = {k: v[::2] if k in ("words", "frequencies") else v
                  for k, v in read_arrays(copy).items()}
    elif damage == "not frequencies":
        arrays = {**read_arrays(copy), "frequencies": -read_arrays(copy)["frequencies"]}
    os.unlink(copy)
    write_arrays(copy, ".test-", **arrays)  # the Portuguese table under the Italian name
    assert frequency_table("it")["della"] == expected
    assert FrequencyTable.from_arrays(read_arrays(copy), "it")["della"] == expected  # remade


def test_a_pipe_in_place_of_a_copy_does_not_block(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    frequency_table("pt")
    copy = _copy_of("pt", tmp_path)
    os.unlink(copy)
    os.mkfifo(copy)
    answers = []
    reader = threading.Thread(target=lambda: answers.append(frequency_table("pt")["de"]),
                              daemon=True)
    reader.start()
    reader.join(60)
    assert answers and answers[0] > 0.01
    assert copy.is_file()  # the pipe replaced by a whole copy


def test_half_written_copies_go_once_old_though_every_copy_is_whole(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    frequency_table("pt")
    old, recent = tmp_path / ".wordfreq-old.npz", tmp_path / ".wordfreq-new.npz"
    for half in (old, recent):
        half.write_bytes(b"PK half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert frequency_table("pt")["de"] > 0.01  # read from its copy: nothing written
    assert not old.exists() and recent.exists()


def test_copies_are_readable_by_others_as_the_umask_allows(tmp_path, monkeypatch):
    # A shared cache folder: a copy only its writer could read would be made again, and
    # replaced, by every other user.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    before = os.umask(0o022)
    try:
        frequency_table("it")
        os.umask(0o077)
        write_arrays(tmp_path / "private.npz", ".test-", words=np.array([b"a"]))
    finally:
        os.umask(before)
    (copy,) = tmp_path.glob("wordfreq-*-it.*.npz")
    assert copy.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.npz").stat().st_mode & 0o777 == 0o600


def test_the_languages_with_frequencies_are_wordfreqs(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from wordfreq import available_languages

    from storywire.transforms import languages

    expected = frozenset(available_languages(wordlist="best"))
    assert languages.wordfreq_languages() == expected and "en" in expected
    # The files that are there count, as for wordfreq: a data file removed from an
    # install (its record still lists it) is a language without frequencies.
    data = tmp_path / "wordfreq" / "data"
    data.mkdir(parents=True)
    for name in ("large_en.msgpack.gz", "small_en.msgpack.gz", "small_zh-Hant.msgpack.gz",
                 "_chinese_mapping.msgpack.gz", "jieba_zh.txt", "small_vi.msgpack.gz.part"):
        (data / name).write_bytes(b"")
    found = SimpleNamespace(submodule_search_locations=[str(data.parent)])
    monkeypatch.setattr(languages.importlib.util, "find_spec", lambda name: found)
    languages.wordfreq_languages.cache_clear()
    try:
        assert languages.wordfreq_languages() == {"en", "zh-Hant"}
        # No wordfreq to be found without importing it: wordfreq itself is asked.
        monkeypatch.setattr(languages.importlib.util, "find_spec", lambda name: None)
        languages.wordfreq_languages.cache_clear()
        assert languages.wordfreq_languages() == expected
    finally:
        languages.wordfreq_languages.cache_clear()
