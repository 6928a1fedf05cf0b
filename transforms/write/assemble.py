"""The run's decisions per article and per story: the tags of each new article, the
stories table, and the story-index rows of stored articles that move.

The story steps move only article summaries (id, date, text length, title, source); the
articles are written from their staged rows with these tags (articles.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import apache_beam as beam

from storywire.transforms.metrics import (
    REJECTS_ALREADY_STORED,
    REJECTS_NEW,
    REJECTS_NEW_REASON,
    STORIES,
    STORIES_EXTENDED,
    STORIES_MERGED,
    STORY_ARTICLES_MOVED,
    STORY_SIZE,
    counter,
    distribution,
    rejects_at,
)
from storywire.transforms.records import (
    Article,
    ArticleSummary,
    storable_row,
    storable_text,
)
from storywire.transforms.stories.continuation import (
    Assignment,
    Member,
    award,
    canonical_order,
    claims,
    latest,
    name_group,
)
from storywire.transforms.write.stored import StoredArticle

MOVED = "moved"
INDEX = "story_index"


def article_row(article: Article, dup_group: str, story_id: str, is_canonical: bool,
                ingested_at: int) -> dict:
    # Names and texts can hold what Parquet cannot store (a file name that is not UTF-8):
    # rows are storable from the start, as Beam encodes them between steps.
    return storable_row({
        "article_id": article.article_id,
        "input_uri": article.input_uri,
        "line": article.line,
        "url": article.url,
        "source": article.source,
        "title": article.title,
        "author": article.author,
        "site_name": article.site_name,
        "language": article.language,
        "published_at": article.published_at,
        "date_source": article.date_source,
        "text": article.text,
        "simhash": article.simhash,
        "content_hash": article.content_hash,
        "dup_group_id": dup_group,
        "story_id": story_id,
        "is_canonical": is_canonical,
        "ingested_at": ingested_at,
    })


def story_row(story_id: str, members: list[ArticleSummary]) -> dict:
    """The stories-table row of a story whose current members are in canonical order."""
    dates = [a.published_at for a in members if a.published_at is not None]
    sources = sorted({storable_text(a.source) for a in members if a.source})
    return storable_row({
        "story_id": story_id,
        "canonical_article_id": members[0].article_id,
        "title": next((a.title for a in members if a.title), None),
        "first_published_at": min(dates) if dates else None,
        "last_published_at": max(dates) if dates else None,
        "article_count": len(members),
        "source_count": len(sources),
        "sources": sources,
    })


def _members_by_label(joined):
    """Each article of the window under its group label (its own id when it has no links:
    a stored article without links is still the label its new copies carry)."""
    article_id, grouped = joined
    label = grouped["label"][0] if grouped["label"] else article_id
    for summary in grouped["summary"]:
        yield label, Member(article_id, None, canonical_order(summary))
    for entry in grouped["stored"]:
        yield label, Member(article_id, entry.story_id, canonical_order(entry.summary()),
                            movable=bool(grouped["movable"]))


def _claims(group):
    label, members = group
    for claim in claims(label, members):
        yield claim.story_id, claim


def _awards(joined):
    """A stored story's awards, each to the group of its claim. The story is whole in the
    window when the window holds all its current articles."""
    _, grouped = joined
    story_claims = grouped["claims"]
    if not story_claims:
        return
    size = max(grouped["size"], default=0)
    whole = sum(c.count for c in story_claims) >= size
    for earned in award(story_claims, whole):
        yield earned.claim.label, earned


class _NameStory(beam.DoFn):
    """A group's story: (article_id, (story_id, is_canonical)) for its new articles, and
    MOVED (article_id, story_id) for its stored articles that change story."""

    def __init__(self):
        self.new = counter(STORIES)
        self.extended = counter(STORIES_EXTENDED)
        self.merged = counter(STORIES_MERGED)
        self.moved = counter(STORY_ARTICLES_MOVED)

    def process(self, joined):
        _, grouped = joined
        (members,) = grouped["members"]
        story = name_group(members, grouped["awards"])
        new = [m for m in members if m.story_id is None]
        if not story.continued:
            self.new.inc()
        elif new:
            self.extended.inc()
        self.merged.inc(len(story.merged))
        self.moved.inc(len(story.moved))
        for member in new:
            yield member.article_id, (story.story_id, member.article_id == story.canonical)
        for article_id in story.moved:
            yield beam.pvalue.TaggedOutput(MOVED, (article_id, story.story_id))


class ContinueStories(beam.PTransform):
    """The window's articles (new summaries, stored entries, which stored ones may move),
    their group labels, and (story_id, current article count) of the stored stories, to
    the story of each: new
    articles tagged (story_id, is_canonical), stored articles that move under MOVED. The
    rule is `continuation.py`'s, applied group by group and story by story."""

    def expand(self, pcolls):
        summaries, stored, movable, labels, story_sizes = pcolls
        groups = (
            {"summary": summaries, "stored": stored, "movable": movable, "label": labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "ByLabel" >> beam.FlatMap(_members_by_label)
            | "Groups" >> beam.GroupByKey()
            | "MemberLists" >> beam.MapTuple(lambda label, members: (label, list(members)))
        )
        awards = (
            {"claims": groups | "Claims" >> beam.FlatMap(_claims), "size": story_sizes}
            | "ByStory" >> beam.CoGroupByKey()
            | "Award" >> beam.FlatMap(_awards))
        return (
            {"members": groups, "awards": awards}
            | "JoinAwards" >> beam.CoGroupByKey()
            | "Name" >> beam.ParDo(_NameStory()).with_outputs(MOVED, main="tags")
        )


class _StoryRow(beam.DoFn):
    """A story's row from its current members, for a story the run rewrites (none when
    it has no member left); counted when this run changed them."""

    def __init__(self, ingested_at: int):
        self._ingested_at = ingested_at
        self.size = distribution(STORY_SIZE)

    def process(self, joined):
        story_id, grouped = joined
        assignments = list(grouped["members"])
        if not grouped["rewritten"] or not assignments:
            return
        members = sorted((a.summary for a in assignments), key=canonical_order)
        if any(a.assigned_at == self._ingested_at for a in assignments):
            self.size.update(len(members))
        yield story_row(story_id, members)


class StoryRows(beam.PTransform):
    """(article_id, Assignment) of the articles of the stories near the run, stored and
    this run's, and the ids of the stories to rewrite, to those stories' rows: each made
    from the articles whose latest assignment it is."""

    def __init__(self, ingested_at: int):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        assignments, rewritten = pcolls
        members = (assignments
                   | "Latest" >> beam.CombinePerKey(latest)
                   | "ByStory" >> beam.MapTuple(lambda _, a: (a.story_id, a)))
        return (
            {"members": members,
             "rewritten": rewritten | "Keyed" >> beam.Map(lambda story_id: (story_id, None))}
            | "Members" >> beam.CoGroupByKey()
            | "Rows" >> beam.ParDo(_StoryRow(self._ingested_at))
        )


def index_row(article: dict, packed: bytes) -> dict:
    """The story-index row of a new article's row and its packed story vector."""
    return {
        "article_id": article["article_id"],
        "published_at": article["published_at"],
        "ingested_at": article["ingested_at"],
        "simhash": article["simhash"],
        "story_vector": packed,
        "dup_group_id": article["dup_group_id"],
        "story_id": article["story_id"],
        "assigned_at": article["ingested_at"],
        "text_length": len(article["text"]),
        "title": article["title"],
        "source": article["source"],
    }


def moved_index_row(entry: StoredArticle, story_id: str, assigned_at: int) -> dict:
    """The story-index row that moves a stored article to another story: its row as
    stored, with the new story and the time of the move."""
    return replace(entry, story_id=story_id, assigned_at=assigned_at).row()


REJECT_KEY = ("input_uri", "line", "article_id", "stage")
# What a run reads of the stored rejects: their keys, and their reasons (`recorded`).
STORED_REJECT_COLUMNS = (*REJECT_KEY, "reason")


def reject_key(row: dict) -> tuple:
    """What makes a reject the same as one an earlier run wrote: same input, same stage."""
    return tuple(row[c] for c in REJECT_KEY)


def reason_by_key(row: dict) -> tuple[tuple, str]:
    """(reject_key, reason) of a reject row: what `recorded` compares."""
    return reject_key(row), row["reason"]


def recorded(stored_reasons: Iterable[str], made_reasons: Iterable[str]) -> bool:
    """Whether the stored rows of a reject key stand as they are when a run makes it again:
    when it makes it for the reasons they give. For another reason (a file once empty now
    holds only white space), its rows are written anew: the rejects table says why input
    did not get in as it stands now."""
    return set(stored_reasons) == set(made_reasons)


class _RejectRow(beam.DoFn):
    def __init__(self):
        self.rejects = counter(REJECTS_NEW)
        self.stored = counter(REJECTS_ALREADY_STORED)
        self.new_reason = counter(REJECTS_NEW_REASON)

    def process(self, joined):
        _, grouped = joined
        made = [reject.as_row() for reject in grouped["new"]]
        stored = list(grouped["stored"])
        if stored and made:
            if recorded(stored, (row["reason"] for row in made)):
                self.stored.inc(len(made))
                return
            self.new_reason.inc(len(made))
        for reject, row in zip(grouped["new"], made):
            self.rejects.inc()
            counter(rejects_at(reject.stage)).inc()
            yield row


class RejectRows(beam.PTransform):
    """(rejects from every stage, stored reject rows) to new rows of the rejects table: a
    rerun over the same bad input does not write its rejects again. A stream, which has
    no stored rows to compare with, passes the rejects alone."""

    def expand(self, pcolls):
        rejects, stored = pcolls if isinstance(pcolls, tuple) else (pcolls, None)
        if stored is None:
            return (rejects
                    | "Keyed" >> beam.Map(lambda r: (None, {"new": [r], "stored": []}))
                    | "NewRejects" >> beam.ParDo(_RejectRow()))
        return (
            {"new": rejects | "ByInput" >> beam.Map(lambda r: (reject_key(r.as_row()), r)),
             "stored": stored | "StoredByInput" >> beam.Map(
                 reason_by_key)}
            | "JoinStored" >> beam.CoGroupByKey()
            | "NewRejects" >> beam.ParDo(_RejectRow())
        )


class TagStories(beam.PTransform):
    """The run's articles with their story labels, and what earlier runs stored, to
    {"tags": (article_id, (story_id, is_canonical)) of each new article, "stories": the
    rows of the stories the run made or changed, "rewritten": the ids of those stories
    (and of any it emptied), "story_index": a row for each stored article that moved to
    another story}.

    Inputs: the run's StagedArticles, (id, group label) for the window's articles, the
    StoredArticles of the window, (id, True) for those that may move, the current
    (article_id, Assignment) of every stored article in the stories of the window
    (stored.ReadStoryMembers), and ids of stored stories to rewrite though the run
    changes nothing in them. Each story's row is made from its current members.
    """

    def __init__(self, ingested_at: int):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        articles, story_labels, stored, movable, members, unlisted = pcolls
        ingested_at = self._ingested_at
        summaries = articles | "Summaries" >> beam.Map(lambda a: (a.article_id, a.summary()))
        stored_by_id = stored | "StoredById" >> beam.Map(lambda s: (s.article_id, s))
        story_sizes = (members
                       | "StoryOf" >> beam.MapTuple(lambda _, a: a.story_id)
                       | "StorySizes" >> beam.combiners.Count.PerElement())
        decided = ((summaries, stored_by_id, movable, story_labels, story_sizes)
                   | "ContinueStories" >> ContinueStories())
        run_assignments = (
            {"summary": summaries, "tag": decided.tags, "moved": decided[MOVED],
             "stored": stored_by_id}
            | "JoinAssignments" >> beam.CoGroupByKey()
            | "RunAssignments" >> beam.FlatMap(_run_assignments, ingested_at)
            .with_outputs(INDEX, LEFT, main="assignments"))
        rewritten = (
            (run_assignments.assignments | "StoriesJoined" >> beam.MapTuple(
                lambda _, a: a.story_id),
             run_assignments[LEFT], unlisted)
            | "Rewritten" >> beam.Flatten()
            | "DistinctRewritten" >> beam.Distinct())
        stories = (
            ((members, run_assignments.assignments) | "AllAssignments" >> beam.Flatten(),
             rewritten)
            | "StoryRows" >> StoryRows(ingested_at))
        return {"tags": decided.tags, "stories": stories, "rewritten": rewritten,
                "story_index": run_assignments[INDEX]}


LEFT = "left"


def _run_assignments(joined, ingested_at: int):
    """This run's assignments: each new article's story, and each moved article's, with
    the story-index row of the move (INDEX) and the story it left (LEFT)."""
    article_id, grouped = joined
    for summary in grouped["summary"]:
        for story_id, _ in grouped["tag"]:
            yield article_id, Assignment(ingested_at, story_id, summary)
    for story_id in grouped["moved"]:
        for entry in grouped["stored"]:
            yield article_id, Assignment(ingested_at, story_id, entry.summary())
            yield beam.pvalue.TaggedOutput(INDEX, moved_index_row(entry, story_id, ingested_at))
            yield beam.pvalue.TaggedOutput(LEFT, entry.story_id)
