"""The streaming story registry: stories carried from one window to the next in Beam state.

In a stream, each window's articles are grouped into stories with the batch transforms
(near-duplicates, shared neighbours, refinement). A group must then be matched with the
stories of earlier windows, which live in state: keyed by the strongest term of each
story's centroid (the sum of its articles' vectors), so the stories that could match a
group are the ones under its own strongest term, and the keys spread over the workers.

A group joins the earlier story under its key whose centroid is most similar to its own
(cosine at least `min_similarity`) and last seen within the time window; otherwise it
starts a story whose canonical article is its first in canonical order. A window's groups
under one key are decided together, in label order, so the result does not depend on the
order elements arrive in; a late pane is decided when it comes, after the windows that
were on time.

Differences from a batch run over the same articles: a story that spans windows is held
together by its centroid's strongest term; groups under different strongest terms stay
apart. Near-duplicate groups are found within a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Timestamp

from storywire.transforms.assemble import article_row
from storywire.transforms.continuation import canonical_order, story_id_for
from storywire.transforms.metrics import STORIES, STREAM_GROUPS_JOINED_EARLIER_STORY, counter
from storywire.transforms.records import Article, ArticleSummary
from storywire.transforms.vectors import unpack

DEFAULT_JOIN_SIMILARITY = 0.3  # centroid cosine at which a group joins an earlier story
_DAY_US = 86_400 * 1_000_000


@dataclass
class WindowGroup:
    """The articles of one window that the batch transforms put in one story."""

    label: str
    window_end: int  # microseconds: the end of the window the group came from
    # (article, packed story vector, dup_group_id): whole articles, so the registry's
    # output rows need no later join (whose window would fire before the registry's tags).
    members: list[tuple[Article, bytes, str]]

    def centroid(self) -> dict[int, float]:
        return add_vectors({}, [unpack(packed) for _, packed, _ in self.members])

    def time(self) -> int:
        # The window's end, not the articles' own dates: their event times lie in the
        # window (publication dates far off were clamped), so one odd date cannot keep a
        # story alive or out of reach.
        return self.window_end


@dataclass
class StoredStory:
    story_id: str
    centroid: dict[int, float]
    last_seen: int  # microseconds


@dataclass
class Registry:
    stories: dict[str, StoredStory] = field(default_factory=dict)


def add_vectors(total: dict[int, float], vectors: list[dict[int, float]]) -> dict[int, float]:
    total = dict(total)
    for vector in vectors:
        for term, weight in vector.items():
            total[term] = total.get(term, 0.0) + weight
    return total


NO_TERMS = -1  # the key of groups without a content word (all stop words, or numbers)


def strongest_term(centroid: dict[int, float]) -> int:
    """The key of a group or story: its centroid's heaviest term (ties: smallest id)."""
    if not centroid:
        return NO_TERMS
    return min(centroid.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def centroid_cosine(a: dict[int, float], b: dict[int, float]) -> float:
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    if not norm:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(w * large.get(t, 0.0) for t, w in small.items()) / norm


def decide(group: WindowGroup, registry: Registry, window_days: float,
           min_similarity: float) -> dict[str, tuple[str, bool]]:
    """{article_id: (story_id, is_canonical)} for a group's articles; the registry is
    updated with the group (a story joined or started)."""
    centroid = group.centroid()
    when = group.time()
    best, best_similarity = None, min_similarity
    for story in sorted(registry.stories.values(), key=lambda s: s.story_id):
        if abs(when - story.last_seen) > window_days * _DAY_US:
            continue
        similarity = centroid_cosine(centroid, story.centroid)
        if similarity >= best_similarity and (best is None or similarity > best_similarity):
            best, best_similarity = story, similarity
    summaries = sorted((ArticleSummary.of(a) for a, _, _ in group.members), key=canonical_order)
    if best is not None:
        best.centroid = add_vectors(best.centroid, [centroid])
        best.last_seen = max(best.last_seen, when)
        return {s.article_id: (best.story_id, False) for s in summaries}
    story_id = story_id_for(summaries[0].article_id)
    registry.stories[story_id] = StoredStory(story_id, centroid, when)
    return {s.article_id: (story_id, i == 0) for i, s in enumerate(summaries)}


def forget_before(registry: Registry, cutoff: int) -> None:
    """Drop stories last seen before `cutoff`: no later group may join them."""
    for story_id in [k for k, s in registry.stories.items() if s.last_seen < cutoff]:
        del registry.stories[story_id]


class JoinEarlierStories(beam.DoFn):
    """(strongest term, the WindowGroups of one window pane under it), in the global window,
    to articles-table rows with the pane's timestamp; stories are kept per key in state.

    A window's groups under one key come together (grouped per window first), so they
    are decided in label order whatever order they arrived in; panes are decided as they
    come, which is window order for on-time panes. Outputs keep the input's timestamp, so
    they fall back into the window they came from. A timer drops a key's stories once no
    group can join them any more.
    """

    STORIES = ReadModifyWriteStateSpec("stories", PickleCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, ingested_at: int, window_days: float,
                 min_similarity: float = DEFAULT_JOIN_SIMILARITY):
        self._ingested_at = ingested_at
        self._window_days = window_days
        self._min_similarity = min_similarity
        self.joined = counter(STREAM_GROUPS_JOINED_EARLIER_STORY)
        self.started = counter(STORIES)

    def process(self, keyed, stories=beam.DoFn.StateParam(STORIES),
                expire=beam.DoFn.TimerParam(EXPIRE)):
        _, groups = keyed
        groups = sorted(groups, key=lambda g: (g.window_end, g.label))
        registry = stories.read() or Registry()
        forget_before(registry, groups[0].window_end - int(2 * self._window_days * _DAY_US))
        for group in groups:
            before = len(registry.stories)
            tags = decide(group, registry, self._window_days, self._min_similarity)
            (self.started if len(registry.stories) > before else self.joined).inc()
            for article, _, dup_group in group.members:
                story_id, is_canonical = tags[article.article_id]
                yield article_row(article, dup_group, story_id, is_canonical,
                                  self._ingested_at)
        stories.write(registry)
        last = max(s.last_seen for s in registry.stories.values())
        expire.set(Timestamp(micros=last + int(2 * self._window_days * _DAY_US)))

    @on_timer(EXPIRE)
    def expire_stories(self, stories=beam.DoFn.StateParam(STORIES),
                       fired=beam.DoFn.TimestampParam):
        registry = stories.read() or Registry()
        forget_before(registry, fired.micros - int(2 * self._window_days * _DAY_US))
        if registry.stories:
            stories.write(registry)
        else:
            stories.clear()
