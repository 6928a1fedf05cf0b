"""How stories continue from one run (or window) to the next: the one rule every mode uses.

Each run groups the articles of its story window afresh: its new articles and the
articles earlier runs stored within the window (the story index), with the same links and
refinement as one big run. This module decides which story each group is, given the
stories its stored members already belong to:

1. claims: a group claims every stored story it holds members of, with how many;
2. award: a stored story goes to the group holding most of its members in the window
   (ties: the smallest group label), so a story that the new evidence splits keeps its id
   on its larger part;
3. naming: a group continues the awarded story it holds most members of (ties: the
   smallest story_id); the other stories awarded to it are merged into it. A group awarded
   nothing is a new story, named after its canonical article when all its articles are
   new (as in a single run), else after its members (a part split off a stored story).

A stored article whose group's story differs from its current one moves: the run appends
a new story-index row for it (`assigned_at` tells the latest). Articles outside the window
never move. So later evidence revises the recent past, and whatever way the same articles
were cut into runs, the last run's grouping of its window is what the tables say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from storywire.transforms.records import ArticleSummary, stable_id


@dataclass(frozen=True)
class Member:
    """An article of one group: new in this run (story_id None) or stored with its current
    story; `order` is its canonical-order key (earliest published, longest, smallest id)."""

    article_id: str
    story_id: str | None
    order: tuple


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


def award(story_claims: Iterable[Claim]) -> str:
    """The label of the group a stored story goes to: the one holding most of its members,
    ties to the smallest label."""
    return min(story_claims, key=lambda c: (-c.count, c.label)).label


def story_for_group(members: list[Member], awarded: Iterable[Claim]) -> tuple[str, list[str]]:
    """(story_id, merged story_ids) of one group, given the claims awarded to it."""
    awarded = sorted(awarded, key=lambda c: (-c.count, c.story_id))
    if awarded:
        return awarded[0].story_id, [c.story_id for c in awarded[1:]]
    ordered = sorted(members, key=lambda m: m.order)
    if all(m.story_id is None for m in members):
        return story_id_for(ordered[0].article_id), []
    return "st-" + stable_id("story", *sorted(m.article_id for m in members)), []


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


@dataclass(frozen=True)
class Continuation:
    """What a run decides for its window: each article's story, and the stored stories
    merged into another."""

    stories: dict[str, str]    # article_id -> story_id, for every member of every group
    merged: dict[str, str]     # story_id -> the story it was merged into


def continue_stories(groups: Mapping[str, list[Member]]) -> Continuation:
    """The whole rule over one window's groups (the Beam steps apply it group by group and
    story by story; this is the same rule in one call, for tests and small windows)."""
    by_story: dict[str, list[Claim]] = {}
    for label, members in groups.items():
        for claim in claims(label, members):
            by_story.setdefault(claim.story_id, []).append(claim)
    awarded: dict[str, list[Claim]] = {}
    for story_claims in by_story.values():
        winner = award(story_claims)
        awarded.setdefault(winner, []).extend(c for c in story_claims if c.label == winner)
    stories, merged = {}, {}
    for label, members in groups.items():
        story_id, gone = story_for_group(members, awarded.get(label, []))
        stories.update((m.article_id, story_id) for m in members)
        merged.update((g, story_id) for g in gone)
    return Continuation(stories, merged)
