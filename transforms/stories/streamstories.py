"""Stories in a stream: each window's articles grouped with the stream's recent articles,
by the same phases and the same continuation rule as a batch run.

A batch run reads the story window back from the story index; a stream keeps it in the
state of one step (`ContinueInStream`): the articles of the last CONTEXT_WINDOWS story
windows, as story-index entries (those of the last MOVABLE_WINDOWS may move; older ones
are context). When a window's articles come, they are grouped together with those
(grouping.py: copies, shared neighbours, refinement, as LinkStories does across workers),
continuation.py names each group's story, and the step writes the rows a batch run would:
articles with their story as first given, story-index rows for them and for earlier
articles that moved. So the stories a stream finds do not depend on how its records fell
into windows, as those of scheduled runs do not depend on how they were cut.

The step holds one key: its work per window grows with the articles of the story window (a
few days of a feed), not with the stream's age.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from storywire.transforms.copies.neardup import dup_group_id, group_id_of
from storywire.transforms.metrics import (
    STORIES,
    STORIES_EXTENDED,
    STORIES_MERGED,
    STORY_ARTICLES_MOVED,
    counter,
)
from storywire.transforms.records import Article, ArticleSummary, Reject, excerpt
from storywire.transforms.stories.continuation import (
    CONTEXT_WINDOWS,
    MOVABLE_WINDOWS,
    Member,
    canonical_order,
    continue_stories,
)
from storywire.transforms.stories.grouping import StorySettings, copy_groups, story_groups
from storywire.transforms.stories.vectors import StoryVector
from storywire.transforms.write.assemble import article_row, index_row
from storywire.transforms.write.stored import StoredArticle, stored_vector

INDEX = "story_index"
REJECTS = "rejects"
_DAY_US = 86_400 * 1_000_000


@dataclass
class StreamWindow:
    """What a stream keeps of its recent past: its articles as the story index holds them,
    and the event time (the end of the window) each came in."""

    entries: dict[str, StoredArticle] = field(default_factory=dict)
    arrived: dict[str, int] = field(default_factory=dict)
    # The assigned_at of the last decision: a runner may hand over panes of several
    # windows in any order, and the latest assignment must be the last one decided.
    clock: int = 0

    def tick(self, window_end: int) -> int:
        self.clock = max(window_end, self.clock + 1)
        return self.clock

    # Stories with articles forgotten (outside the window): seen in part, never split.
    outside: Counter = field(default_factory=Counter)

    def forget_before(self, cutoff: int) -> None:
        for article_id in [a for a, t in self.arrived.items() if t < cutoff]:
            self.outside[self.entries[article_id].story_id] += 1
            del self.entries[article_id], self.arrived[article_id]
        held = {entry.story_id for entry in self.entries.values()}
        for story_id in [s for s in self.outside if s not in held]:
            del self.outside[story_id]  # nothing in the window can claim it any more


@dataclass
class WindowResult:
    articles: list[dict]   # articles-table rows of the window's new articles
    index: list[dict]      # story-index rows: the new articles', and moves
    repeated: list[Article]  # articles already taken in an earlier window
    new_stories: int = 0
    extended: int = 0
    merged: int = 0
    moved: int = 0


def dup_groups_of(new_ids: list[str], copies: dict[str, str],
                  stored: dict[str, StoredArticle]) -> dict[str, str]:
    """The dup_group_id of each new article, as DupGroupIds gives it in a batch run."""
    stored_groups: dict[str, dict[str, str]] = defaultdict(dict)
    for article_id, label in copies.items():
        if article_id in stored:
            stored_groups[label][article_id] = stored[article_id].dup_group_id
    return {a: group_id_of(copies[a], stored_groups[copies[a]]) if a in copies
            else dup_group_id(a) for a in new_ids}


def continue_window(state: StreamWindow, arrivals: list[tuple[Article, StoryVector]],
                    window_end: int, settings: StorySettings,
                    ingested_at: int) -> WindowResult:
    """One window of a stream: its arrivals grouped with the recent articles in `state`,
    each group's story decided, `state` updated. Rows take the window's end as the time
    they were assigned (or just after the last decision, for a pane that comes after a
    later window's), so the latest assignment of an article is the last decided."""
    assigned_at = state.tick(window_end)
    state.forget_before(assigned_at - int(CONTEXT_WINDOWS * settings.window_days * _DAY_US))
    fresh, repeated = {}, []
    for article, vector in sorted(arrivals, key=lambda av: av[0].article_id):
        if article.article_id in state.entries or article.article_id in fresh:
            repeated.append(article)
        else:
            fresh[article.article_id] = (article, vector)
    result = WindowResult([], [], repeated)
    if not fresh:
        return result
    stored = state.entries
    # The state reaches CONTEXT_WINDOWS back; the articles of the last MOVABLE_WINDOWS are
    # grouped with all they are compared with, and may move; older ones are context.
    near = assigned_at - int(MOVABLE_WINDOWS * settings.window_days * _DAY_US)
    vectors = [v for _, v in fresh.values()] + [stored_vector(e) for e in stored.values()]
    fingerprints = [(a.article_id, a.simhash) for a, _ in fresh.values()] + \
        [(e.article_id, e.simhash) for e in stored.values()]
    copies = copy_groups(fingerprints, settings.dup_max_distance)
    labels = story_groups(vectors, copies, settings)
    groups: dict[str, list[Member]] = defaultdict(list)
    for article_id, label in labels.items():
        if article_id in fresh:
            summary = ArticleSummary.of(fresh[article_id][0])
            groups[label].append(Member(article_id, None, canonical_order(summary)))
        else:
            entry = stored[article_id]
            groups[label].append(Member(article_id, entry.story_id,
                                        canonical_order(entry.summary()),
                                        movable=state.arrived[article_id] >= near))
    dup_groups = dup_groups_of(sorted(fresh), copies, stored)
    for label, story in sorted(continue_stories(groups, state.outside).items()):
        result.new_stories += not story.continued
        result.extended += story.continued and any(m.story_id is None for m in groups[label])
        result.merged += len(story.merged)
        result.moved += len(story.moved)
        for member in groups[label]:
            if member.article_id in fresh:
                article, vector = fresh[member.article_id]
                row = article_row(article, dup_groups[article.article_id], story.story_id,
                                  member.article_id == story.canonical, ingested_at)
                index = {**index_row(row, vector.packed), "assigned_at": assigned_at}
                result.articles.append(row)
                result.index.append(index)
                state.entries[article.article_id] = StoredArticle.of(index)
                state.arrived[article.article_id] = assigned_at
        for article_id in story.moved:
            entry = replace(stored[article_id], story_id=story.story_id,
                            assigned_at=assigned_at)
            result.index.append(entry.row())
            state.entries[article_id] = entry
    return result


class ContinueInStream(beam.DoFn):
    """(key, a window pane's (Article, StoryVector) arrivals), in the global window, to
    articles rows (main), story-index rows (INDEX) and rejects of records seen in an
    earlier window (REJECTS); the story window is this step's state."""

    WINDOW = ReadModifyWriteStateSpec("story_window", PickleCoder())

    def __init__(self, settings: StorySettings, ingested_at: int):
        self._settings = settings
        self._ingested_at = ingested_at
        self.new = counter(STORIES)
        self.extended = counter(STORIES_EXTENDED)
        self.merged = counter(STORIES_MERGED)
        self.moved = counter(STORY_ARTICLES_MOVED)

    def process(self, keyed, window_state=beam.DoFn.StateParam(WINDOW),
                timestamp=beam.DoFn.TimestampParam):
        _, arrivals = keyed
        state = window_state.read() or StreamWindow()
        result = continue_window(state, list(arrivals), timestamp.micros, self._settings,
                                 self._ingested_at)
        window_state.write(state)
        self.new.inc(result.new_stories)
        self.extended.inc(result.extended)
        self.merged.inc(result.merged)
        self.moved.inc(result.moved)
        yield from result.articles
        for row in result.index:
            yield beam.pvalue.TaggedOutput(INDEX, row)
        for article in result.repeated:
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                article.input_uri, article.line, article.article_id, "dedupe",
                "article_id already taken in an earlier window of the stream",
                excerpt(article.text)))


class StoriesInStream(beam.PTransform):
    """A windowed stream's (Article, StoryVector) to {"articles", "story_index", "rejects"}
    back in the stream's windows (`windows`, the stream's one WindowInto): each window's
    pane goes, whole, through the one stateful step that keeps the story window."""

    def __init__(self, settings: StorySettings, ingested_at: int,
                 windows: beam.WindowInto):
        super().__init__()
        self._settings = settings
        self._ingested_at = ingested_at
        self._windows = windows

    def expand(self, with_vectors):
        decided = (
            with_vectors
            | "OneKey" >> beam.Map(lambda av: (0, av))
            | "PerWindow" >> beam.GroupByKey()
            | "AcrossWindows" >> beam.WindowInto(beam.window.GlobalWindows())
            | "Continue" >> beam.ParDo(ContinueInStream(self._settings, self._ingested_at))
            .with_outputs(INDEX, REJECTS, main="articles")
        )
        return {
            "articles": decided.articles | "ArticlesToWindows" >> self._windows,
            "story_index": decided[INDEX] | "IndexToWindows" >> self._windows,
            "rejects": decided[REJECTS] | "RejectsToWindows" >> self._windows,
        }
