"""The rule by which stories continue across runs and windows (continuation.py)."""

from hypothesis import given
from hypothesis import strategies as st

from storywire.transforms.stories.continuation import (
    Member,
    continue_stories,
    story_id_for,
)


def decide(groups):
    """({article_id: story_id}, {merged story: story it joined}) of the rule's result."""
    result = continue_stories(groups)
    stories = {m.article_id: result[label].story_id
               for label, members in groups.items() for m in members}
    merged = {gone: story.story_id for story in result.values() for gone in story.merged}
    return stories, merged


def new(article_id, order=None):
    return Member(article_id, None, order or (article_id,))


def stored(article_id, story_id):
    return Member(article_id, story_id, (article_id,))


def test_a_group_of_new_articles_is_named_after_its_canonical_article():
    (story,) = continue_stories({"g": [new("b", (2,)), new("a", (1,))]}).values()
    assert (story.story_id, story.continued, story.canonical) == (story_id_for("a"), False, "a")
    assert story.merged == story.moved == ()


def test_new_articles_join_the_stored_story_their_group_holds():
    (story,) = continue_stories({"g": [stored("x", "st-old"), new("a")]}).values()
    assert (story.story_id, story.continued, story.canonical) == ("st-old", True, None)


def test_a_group_holding_two_stored_stories_merges_the_smaller_into_the_larger():
    groups = {"g": [stored("x", "st-b"), stored("y", "st-b"), stored("z", "st-a"), new("n")]}
    stories, merged = decide(groups)
    assert set(stories.values()) == {"st-b"} and merged == {"st-a": "st-b"}
    assert continue_stories(groups)["g"].moved == ("z",)
    # Equal shares: the smallest story_id stays.
    stories, merged = decide({"g": [stored("x", "st-b"), stored("z", "st-a")]})
    assert set(stories.values()) == {"st-a"} and merged == {"st-b": "st-a"}


def test_a_split_story_keeps_its_id_on_its_larger_part():
    groups = {"big": [stored("a", "st-s"), stored("b", "st-s"), new("n")],
              "small": [stored("c", "st-s"), new("m")]}
    stories, _ = decide(groups)
    assert stories["a"] == stories["b"] == stories["n"] == "st-s"
    split = stories["c"]
    assert split == stories["m"] and split not in {"st-s", story_id_for("c"), story_id_for("m")}


def test_a_split_part_can_continue_another_story_it_holds():
    groups = {"one": [stored("a", "st-s"), stored("b", "st-s")],
              "two": [stored("c", "st-s"), stored("d", "st-t")]}
    assert decide(groups)[0] == {"a": "st-s", "b": "st-s", "c": "st-t", "d": "st-t"}


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
    stories, merged = decide(groups)
    story_of_group = {label: {stories[m.article_id] for m in members}
                      for label, members in groups.items()}
    assert all(len(ids) == 1 for ids in story_of_group.values())
    assert len({next(iter(ids)) for ids in story_of_group.values()}) == len(groups)
    # Every stored story still names a group unless it was merged into one that does.
    named = {next(iter(ids)) for ids in story_of_group.values()}
    held = {m.story_id for members in groups.values() for m in members if m.story_id}
    assert all(s in named or merged.get(s) in named for s in held)
    shuffled = {label: random.sample(members, len(members))
                for label, members in random.sample(sorted(groups.items()), len(groups))}
    assert decide(shuffled) == (stories, merged)


def test_a_story_seen_in_part_is_not_split_and_its_new_reports_join_it():
    # Articles of st-s outside the window held its parts together: the grouping of what
    # is in view may not cut it.
    groups = {"big": [stored("a", "st-s"), stored("b", "st-s")],
              "small": [stored("c", "st-s"), new("n")]}
    assert decide(groups)[0]["c"] != "st-s"  # seen whole, it splits
    result = continue_stories(groups, partial={"st-s"})
    assert result["small"].story_id == "st-s" and result["small"].moved == ()
    assert result["big"].story_id == "st-s"
    # Merging is still allowed: later reports that join two stories join them.
    merging = continue_stories({"g": [stored("a", "st-s"), stored("b", "st-s"),
                                      stored("x", "st-t")]}, partial={"st-s", "st-t"})
    assert merging["g"].story_id == "st-s" and merging["g"].moved == ("x",)


def test_a_stored_article_beyond_the_new_articles_window_stays():
    far = Member("f", "st-t", ("f",), movable=False)
    result = continue_stories({"g": [stored("a", "st-s"), stored("b", "st-s"), far, new("n")]})
    assert result["g"].story_id == "st-s" and result["g"].moved == ()
