"""How stories continue from one run (or window) to the next: the one rule every mode uses.

Each run groups the articles of its story window afresh: its new articles and the
articles earlier runs stored within the window (the story index), with the same links and
refinement as one big run. This module decides which story each group is, given the
stories its stored members already belong to:

1. claims: a group claims every stored story it holds members of, with how many;
2. award: a stored story goes to the group holding most of its members in the window
   (ties: the smallest group label), so a story that the new evidence splits keeps its id
   on its larger part. Only a story whose articles are all in the window can be split: a
   grouping that sees part of a story lacks the articles that held it together, so the
   members of a partly seen story in other groups stay in it (they are *kept*);
3. naming (`name_group`): a group continues the awarded story it holds most members of
   (ties: the smallest story_id); the other stories awarded to it are merged into it. A
   group awarded nothing but holding kept members continues the kept story it holds most
   of (its new articles join that story, which is not split). Otherwise the group is a new
   story, named after its canonical article when all its articles are new (as in a single
   run), else after its members (a part split off a stored story).

A stored article whose group's story differs from its current one moves (unless kept, or
further from the new articles than the story window, where the grouping sees only part of
what it is compared with): the run appends a new story-index row for it (`assigned_at`
tells the latest). Articles outside the window never move. So later evidence revises the
recent past, and whatever way the same articles were cut into runs, the last run's
grouping of its window is what the tables say, as far as the window reaches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from storywire.transforms.records import ArticleSummary, stable_id

# How far back a run or a stream's pane revises: a stored article may move while it lies
# within MOVABLE_WINDOWS story windows of the new articles (reports of one event keep
# coming for days, and an early decision needs the later ones to be undone); the grouping
# also sees CONTEXT_WINDOWS back, so that a movable article is grouped with everything it
# is compared with. Older articles never move.
MOVABLE_WINDOWS = 2
CONTEXT_WINDOWS = MOVABLE_WINDOWS + 1


@dataclass(frozen=True)
class Member:
    """An article of one group: new in this run (story_id None) or stored with its current
    story; `order` is its canonical-order key (earliest published, longest, smallest id)."""

    article_id: str
    story_id: str | None
    order: tuple
    # A stored article may move only when what it is compared with is all in view: it lies
    # within MOVABLE_WINDOWS of the run's (or pane's) new articles. Further out it is
    # context: it links and claims, and stays where it is.
    movable: bool = True


class Assignment(NamedTuple):
    """An article given a story at `assigned_at` (the start of the run that gave it)."""

    assigned_at: int
    story_id: str
    summary: ArticleSummary


def latest(assignments: Iterable):
    """An article's current assignment: its latest (anything with `assigned_at` and
    `story_id`: an Assignment, or a stored story-index entry)."""
    return max(assignments, key=lambda a: (a.assigned_at, a.story_id))


@dataclass(frozen=True)
class Claim:
    """A group's claim on a stored story: how many of the story's articles it holds."""

    story_id: str
    label: str
    count: int


def claims(label: str, members: Iterable[Member]) -> list[Claim]:
    """The stored stories a group holds members of, with how many."""
    counts = Counter(m.story_id for m in members if m.story_id is not None)
    return [Claim(story_id, label, n) for story_id, n in sorted(counts.items())]


class Award(NamedTuple):
    """What a claim earned: the story (`won`), or, for a story partly outside the window
    that another group won, that the group's members of it stay in it (`kept`)."""

    claim: Claim
    won: bool
    kept: bool


def award(story_claims: Iterable[Claim], whole: bool = True) -> list[Award]:
    """The awards of one stored story's claims: won by the group holding most of its
    members (ties: the smallest label); a story not `whole` in the window is kept by the
    other groups' members."""
    story_claims = list(story_claims)
    winner = min(story_claims, key=lambda c: (-c.count, c.label))
    return [Award(c, c is winner, c is not winner and not whole) for c in story_claims]


@dataclass(frozen=True)
class GroupStory:
    """What the rule decides for one group."""

    story_id: str
    continued: bool          # an earlier story goes on (else a new one starts)
    merged: tuple[str, ...]  # earlier stories merged into it
    canonical: str | None    # the new article that is a new story's canonical one
    moved: tuple[str, ...]   # stored articles that change story


def name_group(members: list[Member], awards: Iterable[Award]) -> GroupStory:
    """The story of one group, given the awards of its claims."""
    by_share = sorted(awards, key=lambda a: (-a.claim.count, a.claim.story_id))
    won = [a.claim.story_id for a in by_share if a.won]
    kept = [a.claim.story_id for a in by_share if a.kept]
    free = [m for m in members if m.story_id not in kept]
    if won or kept:
        story_id = (won or kept)[0]
    elif all(m.story_id is None for m in free):
        story_id = story_id_for(min(free, key=lambda m: m.order).article_id)
    else:
        story_id = "st-" + stable_id("story", *sorted(m.article_id for m in free))
    first = min(free, key=lambda m: m.order) if free else None
    canonical = (first.article_id if not (won or kept) and first and first.story_id is None
                 else None)
    moved = tuple(sorted(m.article_id for m in free
                         if m.story_id is not None and m.story_id != story_id and m.movable))
    return GroupStory(story_id, bool(won or kept), tuple(won[1:]), canonical, moved)


def canonical_order(article: ArticleSummary) -> tuple:
    """Sort key of the canonical rule: earliest published, longest text, smallest id."""
    return (
        article.published_at is None,
        article.published_at or 0,
        -article.text_length,
        article.article_id,
    )


def story_id_for(canonical_article_id: str) -> str:
    """The id of a story first made of new articles: from its canonical article's id."""
    return "st-" + stable_id("story", canonical_article_id)


def continue_stories(groups: Mapping[str, list[Member]],
                     partial: Container[str] = ()) -> dict[str, GroupStory]:
    """The whole rule over one window's groups: {label: GroupStory}; `partial` holds the
    stored stories with articles outside the window. The batch steps apply it group by
    group and story by story; a stream, whose window is in one step's state, calls this."""
    by_story: dict[str, list[Claim]] = {}
    for label, members in groups.items():
        for claim in claims(label, members):
            by_story.setdefault(claim.story_id, []).append(claim)
    awards: dict[str, list[Award]] = {}
    for story_id, story_claims in by_story.items():
        for earned in award(story_claims, whole=story_id not in partial):
            awards.setdefault(earned.claim.label, []).append(earned)
    return {label: name_group(members, awards.get(label, []))
            for label, members in groups.items()}
