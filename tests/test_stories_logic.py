"""Story vectors, candidate keys, links and the canonical rule, as plain functions."""

import json
import math
import zlib

import pyarrow as pa
import pytest
from conftest import seed_text
from hypothesis import given
from hypothesis import strategies as st

from storywire.transforms.clean.textclean import clean_page_text
from storywire.transforms.records import Article, ArticleSummary
from storywire.transforms.stories.continuation import canonical_order
from storywire.transforms.stories.frequencies import frequency_table
from storywire.transforms.stories.grouping import average_linkage
from storywire.transforms.stories.neighbours import (
    KnownSimilarities,
    bucket_keys,
    neighbourhood,
    shared_neighbours,
    similar_pairs,
    time_buckets,
)
from storywire.transforms.stories.vectors import (
    NO_KEY,
    LanguageWeights,
    candidate_keys,
    cosine,
    pack,
    story_terms,
    strongest_keys,
    tfidf_vector,
    unpack,
    vectorise,
)


@pytest.fixture(scope="module")
def frequencies():
    return frequency_table("en")


def test_story_terms_drop_stop_words_and_join_thousands():
    terms = story_terms("The Pentagon said 10,000 troops and 10000 more were sent.")
    assert terms["10000"] == 2
    assert "the" not in terms and "said" not in terms
    assert terms["pentagon"] == 1


def article(article_id: str, text: str, language: str | None) -> Article:
    return Article(article_id, "feed.jsonl", 1, None, None, None, None, None, text,
                   language=language)


MERKEL = {
    "en": "Chancellor Angela Merkel met President Emmanuel Macron in Paris to discuss the "
          "European Union and Brexit.",
    "de": "Bundeskanzlerin Angela Merkel traf Präsident Emmanuel Macron in Paris, um über die "
          "Europäische Union und den Brexit zu sprechen.",
    "de2": "Angela Merkel und Emmanuel Macron sprachen in Paris über die Europäische Union "
           "und den Brexit, teilte die Bundeskanzlerin mit.",
}


def test_articles_in_two_languages_share_no_term_not_even_names():
    weights = LanguageWeights("en")
    en, de, de2 = (vectorise(article(k, text, k[:2]), weights) for k, text in MERKEL.items())
    assert cosine(unpack(en.packed), unpack(de.packed)) == 0.0
    assert not set(en.keys) & set(de.keys)  # never even compared
    assert cosine(unpack(de.packed), unpack(de2.packed)) > 0.5
    # An article whose language is not known is weighed in the main language.
    assert vectorise(article("x", MERKEL["en"], None), weights).packed == en.packed


def test_each_language_its_words_and_stop_words():
    weights = LanguageWeights("en")
    chinese = story_terms("德国总理默克尔周一在巴黎会见法国总统马克龙", None, weights.of("zh"))
    assert {"巴黎", "法国", "总统"} <= set(chinese) and "在" not in chinese
    german = story_terms(MERKEL["de"], None, weights.of("de"))
    assert {"merkel", "brexit", "bundeskanzlerin"} <= set(german)
    assert not {"die", "und", "um", "zu"} & set(german)
    # A language wordfreq has no table for: every word alike, short ones dropped.
    swahili = weights.of("sw")
    assert (swahili.frequencies, swahili.min_chars) == ({}, 4)
    assert set(story_terms("Rais wa Kenya alisema leo", None, swahili)) == {
        "rais", "kenya", "alisema"}


def test_rare_words_weigh_more_than_common_ones(frequencies):
    vector = dict(tfidf_vector(story_terms("people people pyongyang"), frequencies))
    assert vector["pyongyang"] > vector["people"]
    assert math.isclose(sum(w * w for w in vector.values()), 1.0)


def test_seed_rewrites_are_similar_and_other_news_is_not(frequencies):
    def vec(text):
        cleaned = clean_page_text(text)
        return tfidf_vector(story_terms(cleaned.text, cleaned.title), frequencies)

    seeds = [vec(seed_text(p)) for p in ("000", "001", "002", "003", "004")]
    other = vec("The city council voted on Tuesday to extend the night bus service to the "
                "airport, ending a two-year dispute with the transport authority over fares.")
    for a in seeds:
        assert cosine(a, other) < 0.1
        for b in seeds:
            assert cosine(a, b) >= 0.3


def test_candidate_keys_are_the_strongest_terms():
    vector = (("alpha", 0.1), ("beta", 0.7), ("gamma", 0.7), ("delta", 0.3))
    term_id = {t: zlib.crc32(t.encode()) for t, _ in vector}
    keys = candidate_keys(pack(vector), 3)
    assert sorted(keys[:2]) == sorted([term_id["beta"], term_id["gamma"]])
    assert keys[2] == term_id["delta"]


# Packed vectors as the story index holds them: any number of terms, ties in weight.
packed_vectors = st.lists(
    st.dictionaries(st.sampled_from([f"t{i}" for i in range(40)]),
                    st.sampled_from([0.05, 0.1, 0.3, 0.3, 0.7]) | st.floats(0.01, 1.0),
                    max_size=30).map(lambda terms: pack(tuple(terms.items()))),
    max_size=40)


@given(vectors=packed_vectors, offset=st.integers(0, 3))
def test_candidate_keys_of_many_vectors_at_once_are_each_ones_candidate_keys(
        vectors, offset):
    array = pa.array(vectors, pa.binary()).slice(min(offset, len(vectors)))
    keys = [set(candidate_keys(v)) for v in array.to_pylist()]
    assert [set(row.tolist()) - {NO_KEY} for row in strongest_keys(array)] == keys


DAY = 86_400 * 1_000_000
VEC = pack((("x", 1.0),))


def test_dated_articles_meet_in_a_shared_time_bucket_and_the_timeless_one():
    for a, b in ((0, 3 * DAY), (2 * DAY, 4 * DAY), (5 * DAY, 5 * DAY + 1)):
        shared = set(time_buckets(a, 3.0)) & set(time_buckets(b, 3.0))
        assert shared - {None}, (a, b)
    assert None in time_buckets(DAY, 3.0)
    assert time_buckets(None, 3.0) == [None]
    far = set(time_buckets(0, 3.0)) & set(time_buckets(7 * DAY, 3.0))
    assert far == {None}


def test_time_bucket_compares_within_the_window_only():
    members = [("a", 0, VEC), ("b", 2 * DAY, VEC), ("c", 4 * DAY, VEC)]
    pairs, over = similar_pairs(members, False, 0.5, window_days=3.0)
    assert sorted(p[:2] for p in pairs) == [("a", "b"), ("b", "c")]
    assert not over


def test_time_bucket_bounds_comparisons_per_article():
    members = [(f"a{i:03d}", i, VEC) for i in range(20)]
    pairs, over = similar_pairs(members, False, 0.5, window_days=3.0, max_compared=2)
    assert over
    assert len(pairs) == 19 + 18
    assert ("a000", "a003", 1.0) not in pairs


def test_a_bucket_leaves_to_the_one_before_only_pairs_both_of_it():
    # Bucket 1 holds V and one X from bucket 0, and another X of its own: V meets that X.
    members = [("X", 2 * DAY, VEC), ("V", 1 * DAY, VEC), ("X", 4 * DAY, VEC)]
    assert [p[:2] for p in similar_pairs(members, False, 0.5, 3.0, bucket=1)[0]] == [
        ("V", "X")]
    assert similar_pairs(members[:2], False, 0.5, 3.0, bucket=1)[0] == []  # met in bucket 0


def test_timeless_bucket_pairs_undated_with_everything_but_not_dated_with_dated():
    members = [("d1", 0, VEC), ("d2", 100 * DAY, VEC), ("u1", None, VEC), ("u2", None, VEC)]
    pairs, over = similar_pairs(members, True, 0.5, window_days=3.0)
    assert sorted(p[:2] for p in pairs) == [("u1", "d1"), ("u1", "d2"), ("u1", "u2"),
                                            ("u2", "d1"), ("u2", "d2")]
    assert not over
    only_dated, _ = similar_pairs(members[:2], True, 0.5, window_days=3.0)
    assert only_dated == []


def test_timeless_bucket_with_too_many_dated_members_is_flagged():
    members = [(f"d{i}", i, VEC) for i in range(10)] + [("u", None, VEC)]
    pairs, over = similar_pairs(members, True, 0.5, window_days=3.0, max_compared=5)
    assert over and pairs == []


def test_similarity_floor():
    members = [("a", 0, pack((("x", 1.0),))), ("b", 0, pack((("y", 1.0),)))]
    assert similar_pairs(members, False, 0.1, window_days=3.0)[0] == []


def test_neighbourhood_keeps_the_best_k_and_the_article_itself():
    candidates = [("b", 0.9), ("c", 0.5), ("b", 0.2), ("d", 0.5), ("e", 0.1)]
    assert neighbourhood("a", candidates, 2) == frozenset({"a", "b", "c"})
    assert neighbourhood("a", [], 2) == frozenset({"a"})


def test_shared_neighbours_is_jaccard():
    assert shared_neighbours(frozenset("abc"), frozenset("abc")) == 1.0
    assert shared_neighbours(frozenset("abcd"), frozenset("abef")) == pytest.approx(2 / 6)


def _article(article_id, published_at, text):
    return ArticleSummary(article_id, published_at, len(text), None, None)


def test_canonical_is_earliest_then_longest_then_smallest_id():
    early = _article("z", 100, "short")
    late_long = _article("a", 200, "much longer text")
    undated = _article("b", None, "the longest text of them all")
    assert sorted([undated, late_long, early], key=canonical_order)[0] is early
    same_time = [_article("b", 100, "long text here"), _article("a", 100, "short")]
    assert sorted(same_time, key=canonical_order)[0].article_id == "b"
    tie = [_article("b", 100, "same"), _article("a", 100, "same")]
    assert sorted(tie, key=canonical_order)[0].article_id == "a"


def test_story_row_summarises_its_current_members():
    from storywire.transforms.stories.continuation import story_id_for
    from storywire.transforms.write.assemble import story_row

    a = ArticleSummary("a", 200, 21, None, "Wire")
    b = ArticleSummary("b", 100, 5, "Headline", "Daily")
    c = ArticleSummary("c", None, 7, None, "Wire")
    assert story_row(story_id_for("b"), sorted([a, b, c], key=canonical_order)) == {
        "story_id": story_id_for("b"),
        "canonical_article_id": "b",
        "title": "Headline",
        "first_published_at": 100,
        "last_published_at": 200,
        "article_count": 3,
        "source_count": 2,
        "sources": ["Daily", "Wire"],
    }


def _unit(**weights):
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return pack(tuple(sorted((t, w / norm) for t, w in weights.items())))


def test_average_linkage_splits_a_chain_but_keeps_a_tight_group():
    # a-b-c are one event; d shares a little with c, e a little with d: a chain.
    members = [
        ("a", _unit(x=1, y=1, z=1)), ("b", _unit(x=1, y=1, z=0.8)), ("c", _unit(x=1, y=0.8, w=0.5)),
        ("d", _unit(w=1, v=1)), ("e", _unit(v=1, u=1)),
    ]
    labels = average_linkage(members, threshold=0.3)
    assert labels["a"] == labels["b"] == labels["c"] == "a"
    assert labels["d"] != "a" and labels["e"] != "a"
    # Shuffled input, same clusters.
    assert average_linkage(list(reversed(members)), threshold=0.3) == labels


def test_average_linkage_uses_the_average_not_the_best_pair():
    # a-c (0.71) merge first; b is at the threshold from a (0.5) but unrelated to c (0), so
    # its average similarity to the group (0.25) keeps it out.
    members = [("a", _unit(x=1, y=1)), ("b", _unit(x=1, z=1)), ("c", _unit(y=1))]
    labels = average_linkage(members, threshold=0.5)
    assert labels["a"] == labels["c"] == "a"
    assert labels["b"] == "b"


def test_packed_vectors_keep_the_similarity(frequencies):
    a = tfidf_vector(story_terms(seed_text("002")), frequencies)
    b = tfidf_vector(story_terms(seed_text("003")), frequencies)
    assert cosine(unpack(pack(a)), unpack(pack(b))) == pytest.approx(cosine(a, b), abs=1e-5)
    assert len(pack(a)) == 8 * len(a)


def test_hangul_in_separate_letters_with_invisible_marks_is_cut_like_syllables():
    # The marks go, the letters join into syllables ("\u1100\u1161" is "가"), and a run of
    # syllables is cut into pairs, as the same text typed as syllables is.
    joined = "\u1100\u200b\u1161" * 3 + " council"
    assert story_terms(joined) == story_terms("가가가 council") == {"가가": 2, "council": 1}


_WEIGHTS = st.dictionaries(st.text(min_size=1, max_size=3),
                           st.floats(0.001, 1.0, allow_nan=False), max_size=40)


@given(_WEIGHTS, _WEIGHTS)
def test_cosine_is_the_dot_product_over_every_term_in_term_order(a, b):
    # The similarity thresholds compare against this float: it must not depend on how the
    # shared terms are found. Both kinds of vector keep their terms in ascending order.
    a, b = tuple(sorted(a.items())), tuple(sorted(b.items()))
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    every_term = sum(w * dict(large).get(t, 0.0) for t, w in small)
    assert cosine(a, b) == every_term
    packed_a, packed_b = unpack(pack(a)), unpack(pack(b))
    small, large = (packed_a, packed_b) if len(packed_a) <= len(packed_b) else (packed_b, packed_a)
    assert cosine(packed_a, packed_b) == sum(w * large.get(t, 0.0) for t, w in small.items())


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 10 * DAY)),
                          st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True)),
                min_size=1, max_size=12))
def test_skipping_timeless_buckets_without_undated_articles_finds_the_same_pairs(articles):
    def pairs(buckets):
        found = set()
        for (_, bucket), members in buckets.items():
            for a, b, _ in similar_pairs(members, bucket is None, 0.5, window_days=3.0)[0]:
                found.add((min(a, b), max(a, b)))
        return found

    vectors = [(f"a{n}", published, VEC, keys) for n, (published, keys) in enumerate(articles)]
    every, pruned = {}, {}
    for v in vectors:  # each article in every bucket of every key term
        for term in v[3]:
            for bucket in time_buckets(v[1], 3.0):
                every.setdefault((term, bucket), []).append(v[:3])
    undated_keys = {term for v in vectors if v[1] is None for term in v[3]}
    for v in vectors:
        for key, member in bucket_keys(v, 3.0, undated_keys):
            pruned.setdefault(key, []).append(member)
    assert sum(map(len, pruned.values())) <= sum(map(len, every.values()))
    assert pairs(pruned) == pairs(every)


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 240).map(lambda h: h * DAY // 24)),
                          st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),
                          st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True)),
                min_size=1, max_size=14),
       st.integers(1, 4))
def test_pairs_left_to_the_bucket_before_are_the_same_pairs(articles, max_compared):
    """Two articles of one time bucket meet again in the next; comparing them only in
    theirs finds the same pairs and similarities, bound on comparisons included."""
    def found(skip):
        pairs = set()
        for (_, bucket), members in buckets.items():
            for a, b, similarity in similar_pairs(
                    members, bucket is None, 0.1, 3.0, max_compared,
                    bucket if skip else None)[0]:
                pairs.add((min(a, b), max(a, b), similarity))
        return pairs

    buckets: dict = {}
    vectors = [(f"a{n}", published, pack(tuple((f"t{t}", 0.5) for t in terms)), keys)
               for n, (published, keys, terms) in enumerate(articles)]
    undated_keys = {term for v in vectors if v[1] is None for term in v[3]}
    for v in vectors:
        for key, member in bucket_keys(v, 3.0, undated_keys):
            buckets.setdefault(key, []).append(member)
    assert found(skip=True) == found(skip=False)


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 240).map(lambda h: h * DAY // 24)),
                          st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),
                          st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True)),
                min_size=1, max_size=14),
       st.integers(1, 4), st.integers(1, 50))
def test_similarities_known_from_other_buckets_find_the_same_pairs(articles, max_compared,
                                                                  most):
    """A pair met in several key buckets is worked out once; the pairs and similarities
    found are the same, however few pairs the memory of them holds."""
    def found(known):
        return [similar_pairs(members, bucket is None, 0.1, 3.0, max_compared, bucket, known)
                for (_, bucket), members in sorted(buckets.items(), key=str)]

    buckets: dict = {}
    vectors = [(f"a{n}", published, pack(tuple((f"t{t}", 0.5 + t / 10) for t in terms)),
                keys) for n, (published, keys, terms) in enumerate(articles)]
    undated_keys = {term for v in vectors if v[1] is None for term in v[3]}
    for v in vectors:
        for key, member in bucket_keys(v, 3.0, undated_keys):
            buckets.setdefault(key, []).append(member)
    assert found(KnownSimilarities(most)) == found(None)


def test_close_codes_are_one_language_and_unspaced_scripts_meet_in_pairs():
    weights = LanguageWeights("en")
    assert weights.of("wuu") is weights.of("zh")  # Chinese with Latin words, as detected
    assert weights.of("no").language == "nb" and weights.of("hr") is weights.of("bs")
    # Japanese has no word splitter here: pairs of characters match across two reports.
    a = vectorise(article("a", "バレンシアで鉄砲水が発生し、三人が死亡した。", "ja"), weights)
    b = vectorise(article("b", "鉄砲水でバレンシアの三人が死亡、住民が避難。", "ja"), weights)
    assert cosine(unpack(a.packed), unpack(b.packed)) > 0.3


def test_a_language_is_told_only_in_the_scripts_of_the_weighed_languages():
    # The detector chooses among the languages wordfreq weighs: Thai came out as Chinese
    # ("wuu") at 0.97, and its story terms would be weighed as Chinese.
    from storywire.transforms.clean.cleaning import detect_language

    for text in ("นายกรัฐมนตรีกล่าวว่าแม่น้ำเอ่อล้นตลิ่งในคืนวันอาทิตย์หลังจากฝนตกหนักสามวัน",
                 "მერმა განაცხადა, რომ მდინარე კვირა ღამით ადიდდა სამდღიანი წვიმის შემდეგ.",
                 "Քաղաքապետը հայտնել է, որ գետը վարարել է կիրակի գիշերը՝ երեք օր անձրևից հետո։"):
        assert detect_language(text) is None, text
    for code, text in (
            ("hi", "महापौर ने कहा कि तीन दिनों की बारिश के बाद रविवार रात नदी उफान पर आ गई।"),
            ("bn", "মেয়র বলেছেন, তিন দিনের বৃষ্টির পর রবিবার রাতে নদী উপচে পড়ে।"),
            ("ta", "மூன்று நாட்கள் மழைக்குப் பிறகு ஞாயிற்றுக்கிழமை இரவு ஆறு கரைபுரண்டு ஓடியது."),
            ("he", "ראש העיר אמר כי הנהר עלה על גדותיו בליל יום ראשון לאחר שלושה ימי גשם."),
            ("fa", "شهردار گفت رودخانه پس از سه روز باران در شب یکشنبه طغیان کرد."),
            ("el", "Ο δήμαρχος είπε ότι ο ποταμός υπερχείλισε την Κυριακή το βράδυ."),
            ("ko", "시장은 사흘간 비가 내린 뒤 일요일 밤 강이 범람했다고 말했다."),
            ("vi", "Thị trưởng cho biết con sông đã tràn bờ vào đêm Chủ nhật sau ba ngày mưa.")):
        assert detect_language(text) == code, code


def test_a_record_may_say_its_language():
    from storywire.transforms.clean.cleaning import clean_record
    from storywire.transforms.read.inputs import parse_jsonl_line

    text = ("Die Bundeskanzlerin traf am Montag in Paris den Präsidenten, um über die "
            "Europäische Union und den Brexit zu sprechen.")
    for said, stored in (("de-DE", "de"), ("DE", "de"), ("", "de"), (None, "de"),
                          ("fr", "fr")):
        line = json.dumps({"id": "x", "text": text, "language": said})
        assert clean_record(parse_jsonl_line(line, "feed.jsonl", 1)).language == stored
