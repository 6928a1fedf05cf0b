"""The rule by which stories continue across runs and windows (continuation.py)."""

from hypothesis import given
from hypothesis import strategies as st

from storywire.transforms.continuation import (
    Member,
    continue_stories,
    story_id_for,
)


def new(article_id, order=None):
    return Member(article_id, None, order or (article_id,))


def stored(article_id, story_id):
    return Member(article_id, story_id, (article_id,))


def test_a_group_of_new_articles_is_named_after_its_canonical_article():
    result = continue_stories({"g": [new("b", (2,)), new("a", (1,))]})
    assert result.stories == {"a": story_id_for("a"), "b": story_id_for("a")}
    assert result.merged == {}


def test_new_articles_join_the_stored_story_their_group_holds():
    result = continue_stories({"g": [stored("x", "st-old"), new("a")]})
    assert result.stories == {"x": "st-old", "a": "st-old"}


def test_a_group_holding_two_stored_stories_merges_the_smaller_into_the_larger():
    groups = {"g": [stored("x", "st-b"), stored("y", "st-b"), stored("z", "st-a"), new("n")]}
    result = continue_stories(groups)
    assert set(result.stories.values()) == {"st-b"}
    assert result.merged == {"st-a": "st-b"}
    # Equal shares: the smallest story_id stays.
    tie = continue_stories({"g": [stored("x", "st-b"), stored("z", "st-a")]})
    assert set(tie.stories.values()) == {"st-a"} and tie.merged == {"st-b": "st-a"}


def test_a_split_story_keeps_its_id_on_its_larger_part():
    groups = {"big": [stored("a", "st-s"), stored("b", "st-s"), new("n")],
              "small": [stored("c", "st-s"), new("m")]}
    result = continue_stories(groups)
    assert result.stories["a"] == result.stories["b"] == result.stories["n"] == "st-s"
    split = result.stories["c"]
    assert split == result.stories["m"] and split not in {"st-s", story_id_for("c"),
                                                          story_id_for("m")}


def test_a_split_part_can_continue_another_story_it_holds():
    groups = {"one": [stored("a", "st-s"), stored("b", "st-s")],
              "two": [stored("c", "st-s"), stored("d", "st-t")]}
    result = continue_stories(groups)
    assert result.stories == {"a": "st-s", "b": "st-s", "c": "st-t", "d": "st-t"}


@st.composite
def windows(draw):
    """Groups of a window: articles with or without a stored story, cut into groups."""
    n = draw(st.integers(1, 12))
    ids = [f"a{i:02d}" for i in range(n)]
    stories = draw(st.lists(st.sampled_from([None, "st-p", "st-q", "st-r"]),
                            min_size=n, max_size=n))
    labels = draw(st.lists(st.sampled_from("ghij"), min_size=n, max_size=n))
    groups: dict[str, list[Member]] = {}
    for article_id, story_id, label in zip(ids, stories, labels):
        groups.setdefault(label, []).append(Member(article_id, story_id, (article_id,)))
    return groups


@given(windows(), st.randoms())
def test_each_group_is_one_story_of_its_own_whatever_the_order(groups, random):
    result = continue_stories(groups)
    story_of_group = {label: {result.stories[m.article_id] for m in members}
                      for label, members in groups.items()}
    assert all(len(ids) == 1 for ids in story_of_group.values())
    assert len({next(iter(ids)) for ids in story_of_group.values()}) == len(groups)
    # Every stored story still names a group unless it was merged into one that does.
    named = {next(iter(ids)) for ids in story_of_group.values()}
    held = {m.story_id for members in groups.values() for m in members if m.story_id}
    assert all(s in named or result.merged.get(s) in named for s in held)
    shuffled = {label: random.sample(members, len(members))
                for label, members in random.sample(sorted(groups.items()), len(groups))}
    assert continue_stories(shuffled) == result
