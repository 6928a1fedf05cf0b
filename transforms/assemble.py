"""Joining the per-article results into output rows: one row per article, one per story.

The story step moves only article summaries (id, date, text length, title, source); the
whole article moves once, in the final join with its tags.
"""

from __future__ import annotations

from collections import Counter

import apache_beam as beam

from storywire.transforms.metrics import (
    ARTICLES_NEW,
    REJECTS_ALREADY_STORED,
    REJECTS_NEW,
    STORIES,
    STORIES_EXTENDED,
    STORY_SIZE,
    counter,
    distribution,
    rejects_at,
)
from storywire.transforms.neardup import dup_group_id
from storywire.transforms.records import (
    Article,
    ArticleSummary,
    storable_row,
    storable_text,
)
from storywire.transforms.stories import canonical_order, story_id_for

MEMBERS = "members"
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
    """The stories-table row of a new story whose members are in canonical order."""
    canonical = members[0]
    return extend_story({
        "story_id": story_id,
        "canonical_article_id": canonical.article_id,
        "title": None,
        "first_published_at": None,
        "last_published_at": None,
        "article_count": 0,
        "source_count": 0,
        "sources": [],
    }, members)


def extend_story(row: dict, members: list[ArticleSummary]) -> dict:
    """A stories-table row with new members added (in canonical order). The canonical
    article, and so the story_id, stays: rows already written never change."""
    dates = [a.published_at for a in members if a.published_at is not None]
    dates += [row[c] for c in ("first_published_at", "last_published_at") if row[c] is not None]
    sources = sorted(set(row["sources"])
                     | {storable_text(a.source) for a in members if a.source})
    return storable_row({
        **row,
        "title": row["title"] or next((a.title for a in members if a.title), None),
        "first_published_at": min(dates) if dates else None,
        "last_published_at": max(dates) if dates else None,
        "article_count": row["article_count"] + len(members),
        "source_count": len(sources),
        "sources": sources,
    })


def tag_story(members: list[ArticleSummary], stored_story_ids: list[str]
              ) -> dict[str, tuple[str, bool]]:
    """{article_id: (story_id, is_canonical)} for the new articles of one linked group.

    A group holding articles of earlier runs continues their story (the one most of them
    belong to; ties to the smallest story_id), and no new article becomes its canonical
    one. Otherwise the group is a new story whose canonical article is the first in
    canonical order.
    """
    if stored_story_ids:
        counts = Counter(stored_story_ids)
        story_id = min(counts, key=lambda s: (-counts[s], s))
        return {a.article_id: (story_id, False) for a in members}
    members = sorted(members, key=canonical_order)
    story_id = story_id_for(members[0].article_id)
    return {a.article_id: (story_id, i == 0) for i, a in enumerate(members)}


def _by_label(joined):
    """Each article under its story label, or its own id when it has none: a stored
    article without links is still the label its new copies carry."""
    article_id, grouped = joined
    label = grouped["label"][0] if grouped["label"] else article_id
    for summary in grouped["summary"]:
        yield label, summary
    for story_id in grouped["stored"]:
        yield label, story_id


class _TagStory(beam.DoFn):
    def process(self, keyed):
        _, members = keyed
        new, stored = [], []
        for member in members:
            (new if isinstance(member, ArticleSummary) else stored).append(member)
        if not new:
            return
        by_id = {a.article_id: a for a in new}
        for article_id, (story_id, is_canonical) in tag_story(new, stored).items():
            yield article_id, (story_id, is_canonical)
            yield beam.pvalue.TaggedOutput(MEMBERS, (story_id, by_id[article_id]))


class _StoryRow(beam.DoFn):
    """A story's row: stored, extended by new members, or new."""

    def __init__(self):
        self.new = counter(STORIES)
        self.extended = counter(STORIES_EXTENDED)
        self.size = distribution(STORY_SIZE)

    def process(self, joined):
        story_id, grouped = joined
        members = sorted(grouped["new"], key=canonical_order)
        stored = grouped["stored"][0] if grouped["stored"] else None
        if stored is None:
            row = story_row(story_id, members)
            self.new.inc()
        elif members:
            row = extend_story(stored, members)
            self.extended.inc()
        else:
            row = stored
        if members:
            self.size.update(row["article_count"])
        yield row


class _ArticleRow(beam.DoFn):
    def __init__(self, ingested_at: int):
        self._ingested_at = ingested_at
        self.articles = counter(ARTICLES_NEW)

    def process(self, joined):
        article_id, grouped = joined
        dup_group = grouped["dup"][0] if grouped["dup"] else dup_group_id(article_id)
        (_, _, packed, _), = grouped["vector"]
        for article in grouped["article"]:
            (story_id, is_canonical), = grouped["tag"]
            self.articles.inc()
            row = article_row(article, dup_group, story_id, is_canonical, self._ingested_at)
            yield row
            yield beam.pvalue.TaggedOutput(INDEX, index_row(row, packed))


def index_row(article: dict, packed: bytes) -> dict:
    """The story-index row of an article row and its packed story vector."""
    return {
        "article_id": article["article_id"],
        "published_at": article["published_at"],
        "ingested_at": article["ingested_at"],
        "simhash": article["simhash"],
        "story_vector": packed,
        "dup_group_id": article["dup_group_id"],
        "story_id": article["story_id"],
    }


REJECT_KEY = ("input_uri", "line", "article_id", "stage")


def reject_key(row: dict) -> tuple:
    """What makes a reject the same as one an earlier run wrote: same input, same stage."""
    return tuple(row[c] for c in REJECT_KEY)


class _RejectRow(beam.DoFn):
    def __init__(self):
        self.rejects = counter(REJECTS_NEW)
        self.stored = counter(REJECTS_ALREADY_STORED)

    def process(self, joined):
        _, grouped = joined
        for reject in grouped["new"]:
            if grouped["stored"]:
                self.stored.inc()
                continue
            self.rejects.inc()
            counter(rejects_at(reject.stage)).inc()
            yield reject.as_row()


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
             "stored": stored | "StoredByInput" >> beam.Map(lambda row: (reject_key(row), 1))}
            | "JoinStored" >> beam.CoGroupByKey()
            | "NewRejects" >> beam.ParDo(_RejectRow())
        )


class TagStories(beam.PTransform):
    """The run's articles with their dup groups, story labels and vectors, and what earlier
    runs stored, to {"articles", "stories", "story_index"} rows.

    Inputs: articles, (id, dup_group_id), (id, story label), new vectors, StoredArticles
    read back from the story index, and the stored stories rows. The stories output is the
    whole stories table: stored rows, extended ones, new ones.
    """

    def __init__(self, ingested_at: int):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        articles, dup_groups, story_labels, vectors, stored, stored_stories = pcolls
        by_id = articles | "ById" >> beam.Map(lambda a: (a.article_id, a))
        tags = (
            {"summary": by_id | "Summaries" >> beam.MapTuple(
                lambda article_id, a: (article_id, ArticleSummary.of(a))),
             "stored": stored | "StoredStories" >> beam.Map(
                 lambda s: (s.article_id, s.story_id)),
             "label": story_labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "ByLabel" >> beam.FlatMap(_by_label)
            | "Linked" >> beam.GroupByKey()
            | "Tag" >> beam.ParDo(_TagStory()).with_outputs(MEMBERS, main="tags")
        )
        stories = (
            {"new": tags[MEMBERS],
             "stored": stored_stories | "StoryById" >> beam.Map(lambda r: (r["story_id"], r))}
            | "JoinStories" >> beam.CoGroupByKey()
            | "StoryRows" >> beam.ParDo(_StoryRow())
        )
        rows = (articles, dup_groups, tags.tags, vectors) | "Rows" >> ArticleRows(
            self._ingested_at)
        return {"articles": rows["articles"], "stories": stories,
                "story_index": rows["story_index"]}


class ArticleRows(beam.PTransform):
    """Articles, (id, dup_group_id), (id, (story_id, is_canonical)) and vectors to
    {"articles", "story_index"} rows: the one join where whole articles move."""

    def __init__(self, ingested_at: int):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        articles, dup_groups, tags, vectors = pcolls
        rows = (
            {"article": articles | "ById" >> beam.Map(lambda a: (a.article_id, a)),
             "dup": dup_groups, "tag": tags,
             "vector": vectors | "VectorById" >> beam.Map(lambda v: (v[0], v))}
            | "JoinTags" >> beam.CoGroupByKey()
            | "Rows" >> beam.ParDo(_ArticleRow(self._ingested_at)).with_outputs(
                INDEX, main="articles")
        )
        return {"articles": rows.articles, "story_index": rows[INDEX]}
