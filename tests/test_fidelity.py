"""The stored text says what the article says: typography, spaces, emoji and direction
marks come through both cleaners as published; only fingerprints normalise."""

from html import escape

from conftest import seed_text
from hypothesis import given, settings
from hypothesis import strategies as st

from storywire.transforms.clean.cleaning import clean_record
from storywire.transforms.clean.pagetext import restore_dropped, visible
from storywire.transforms.clean.textclean import clean_page_text
from storywire.transforms.records import RawRecord
from storywire.transforms.stories.vectors import story_terms

NBSP = "\u00a0"
WORDS = ("the council voted to extend night bus service airport after long dispute with "
         "transport authority members approved plan nine four debate").split()
# Pieces of published prose that a normalising cleaner would change or lose.
PIECES = [
    "“quoted”", "‘single’", "council’s", "10–12", "—", "waited…", "（draft）", "，", "：",
    "他说，这是测试。", "「引号」", "🎉", "👍🏽", "👩‍👩‍👧‍👦", "🇺🇦", "🏴󠁧󠁢󠁷󠁬󠁳󠁿", "❤️",
    "\u200fשלום עולם\u200f", "\u200eمرحبا\u200e", "\u200fהמועצה", "بالعالم\u200f", "ﬁnal",
]


def page(paragraphs: list[str], title: str = "Night buses") -> str:
    body = "".join(f"<p>{escape(p, quote=False)}</p>\n" for p in paragraphs)
    return (f"<html><head><title>{escape(title)}</title></head>"
            f"<body><article>{body}</article></body></html>")


def cleaned(kind: str, body: str):
    return clean_record(RawRecord("id", f"in.{'html' if kind == 'html' else 'txt'}", None,
                                  kind, body))


@st.composite
def prose_paragraph(draw) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=12, max_size=30))
    words[0] = words[0].capitalize()
    for _ in range(draw(st.integers(1, 6))):
        words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(PIECES)))
    gaps = draw(st.lists(st.sampled_from([" ", " ", NBSP]), min_size=len(words) - 1,
                         max_size=len(words) - 1))
    text = words[0] + "".join(gap + word for gap, word in zip(gaps, words[1:]))
    return text + draw(st.sampled_from([".", "。", "…", "!”", "?"]))


# trafilatura drops a paragraph that repeats the one before it, an extraction decision;
# paragraphs here differ in more than their spaces.
@settings(max_examples=60, deadline=None)
@given(st.lists(prose_paragraph(), min_size=3, max_size=6,
                unique_by=lambda p: " ".join(p.split())))
def test_every_character_of_clean_prose_is_kept_by_both_cleaners(paragraphs):
    body = "\n\n".join(paragraphs)
    assert cleaned("text", body).text == body
    assert cleaned("html", page(paragraphs)).text == body


# Page text with what extraction drops: typographic spaces, joiners, marks, controls.
PAGE_CHARS = st.sampled_from(list("ab “”’—，。 \t\n\u00a0\u202f\u3000\u200b\u200d\u200f\u00ad"
                                  "\x07\ufeff🏴\U000e0067\U0001fae8שלום"))


@settings(max_examples=300, deadline=None)
@given(st.text(PAGE_CHARS, max_size=80), st.data())
def test_putting_characters_back_never_changes_what_a_line_shows(source, data):
    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, len(source)))
    extracted = visible(source[start:end])  # what trafilatura makes of that span
    other = data.draw(st.text(PAGE_CHARS, max_size=20))  # a line from elsewhere
    restored, unrelated = restore_dropped([extracted, other], source)
    assert visible(restored) == extracted
    assert visible(unrelated) == visible(other)


def test_seed_quotes_are_kept():
    t003 = clean_page_text(seed_text("003")).text
    assert "Singh said, “It’s additional bodies on the battlefield.\"" in t003
    assert "Russia’s defense ministry reported" in t003
    t004 = clean_page_text(seed_text("004")).text
    assert "Singh said, “It’s additional bodies on the battlefield.”" in t004
    assert "could happen “more quickly than anticipated,”" in t004


def test_chinese_text_keeps_its_full_width_punctuation():
    paragraphs = ["市长说，连续三天下雨之后，河水在星期日晚上决堤，淹没了下城区。",
                  "紧急救援人员将两百个家庭转移到学校体育馆（临时安置点）。",
                  "工程师检查之前，通往车站的桥梁将一直关闭：预计需要三天。"]
    body = "\n\n".join(paragraphs)
    assert cleaned("text", body).text == body
    assert cleaned("html", page(paragraphs, "洪水淹没下城区")).text == body


def test_titles_and_bylines_keep_their_typography():
    copied = "\n".join([
        "Mayor’s “night bus” plan approved — at last",
        "By José\u00a0Álvarez",
        "The council voted on Tuesday to extend the night bus service to the airport after a "
        "long dispute with the transport authority.",
        "Members approved the plan by nine votes to four after a debate that ran past midnight.",
    ])
    text = cleaned("text", copied)
    assert text.title == "Mayor’s “night bus” plan approved — at last"
    assert text.author == "José\u00a0Álvarez"
    title = "Mayor’s “night bus” plan approved for 10\u00a0000 riders"
    html = page(["The council voted on Tuesday to extend the night bus service to the airport "
                 "after a long dispute with the transport authority, the mayor’s office said.",
                 "Members approved the plan by nine votes to four after a debate that ran past "
                 "midnight, and the first buses will run in March.",
                 "Drivers will be diverted through the tunnel, where tolls will be suspended "
                 "for the duration of the works."], title)
    html = html.replace("</title>", '</title><meta name="author" content="José\u00a0Álvarez">')
    article = cleaned("html", html)
    assert article.title == title
    assert article.author == "José\u00a0Álvarez"


def test_mojibake_is_still_repaired_and_typography_kept():
    raw = ("NotÃ­cias da FÃ³rmula 1: a equipe anunciou o novo calendÃ¡rio, com “vinte e trÃªs” "
           "corridas e 10\u00a0000 bilhetes.")
    assert cleaned("text", raw).text == (
        "Notícias da Fórmula 1: a equipe anunciou o novo calendário, com “vinte e três” "
        "corridas e 10\u00a0000 bilhetes.")


def test_a_copy_without_typography_still_has_the_same_fingerprints():
    typographic = ("“It’s additional bodies on the battlefield,” Singh said — 10，000 troops "
                   "in Russia’s Kursk\u00a0region, a zero\u200bwidth space and a soft\u00adhyphen.")
    plain = ('"It\'s additional bodies on the battlefield," Singh said - 10,000 troops '
             "in Russia's Kursk region, a zerowidth space and a softhyphen.")
    a, b = cleaned("text", typographic), cleaned("text", plain)
    assert a.text == typographic
    assert (a.simhash, a.content_hash) == (b.simhash, b.content_hash)
    assert story_terms(a.text) == story_terms(b.text)
