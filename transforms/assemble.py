"""Joining the per-article results into output rows: one row per article, one per story."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from storywire.transforms.neardup import dup_group_id
from storywire.transforms.records import NAMESPACE, Article
from storywire.transforms.stories import canonical_order, story_id_for

STORIES = "stories"


def article_row(article: Article, dup_group: str, story_id: str, is_canonical: bool,
                ingested_at: int) -> dict:
    return {
        "article_id": article.article_id,
        "input_uri": article.input_uri,
        "line": article.line,
        "url": article.url,
        "source": article.source,
        "title": article.title,
        "author": article.author,
        "published_at": article.published_at,
        "text": article.text,
        "simhash": article.simhash,
        "content_hash": article.content_hash,
        "dup_group_id": dup_group,
        "story_id": story_id,
        "is_canonical": is_canonical,
        "ingested_at": ingested_at,
    }


def story_row(story_id: str, members: list[Article]) -> dict:
    """The stories-table row of a story whose members are in canonical order."""
    canonical = members[0]
    dates = [a.published_at for a in members if a.published_at is not None]
    sources = sorted({a.source for a in members if a.source})
    return {
        "story_id": story_id,
        "canonical_article_id": canonical.article_id,
        "title": next((a.title for a in members if a.title), None),
        "first_published_at": min(dates) if dates else None,
        "last_published_at": max(dates) if dates else None,
        "article_count": len(members),
        "source_count": len(sources),
        "sources": sources,
    }


def tag_story(members: list[tuple[Article, str]], ingested_at: int) -> tuple[list[dict], dict]:
    """Article rows and the story row of one story, from its (article, dup_group_id) pairs."""
    members = sorted(members, key=lambda m: canonical_order(m[0]))
    story_id = story_id_for(members[0][0].article_id)
    rows = [
        article_row(article, dup_group, story_id, i == 0, ingested_at)
        for i, (article, dup_group) in enumerate(members)
    ]
    return rows, story_row(story_id, [a for a, _ in members])


def _by_story(joined):
    article_id, grouped = joined
    (article,) = grouped["article"]
    dup_group = grouped["dup"][0] if grouped["dup"] else dup_group_id(article_id)
    story = grouped["story"][0] if grouped["story"] else article_id
    return story, (article, dup_group)


class _TagStory(beam.DoFn):
    def __init__(self, ingested_at: int):
        self._ingested_at = ingested_at
        self.stories = Metrics.counter(NAMESPACE, "stories")
        self.articles = Metrics.counter(NAMESPACE, "articles")
        self.size = Metrics.distribution(NAMESPACE, "story_size")

    def process(self, keyed):
        _, members = keyed
        rows, story = tag_story(list(members), self._ingested_at)
        self.stories.inc()
        self.articles.inc(len(rows))
        self.size.update(len(rows))
        yield beam.pvalue.TaggedOutput(STORIES, story)
        yield from rows


class _RejectRow(beam.DoFn):
    def __init__(self):
        self.rejects = Metrics.counter(NAMESPACE, "rejects")

    def process(self, reject):
        self.rejects.inc()
        Metrics.counter(NAMESPACE, f"rejects_{reject.stage}").inc()
        yield reject.as_row()


class RejectRows(beam.PTransform):
    """Rejects from every stage to rows of the rejects table."""

    def expand(self, rejects):
        return rejects | beam.ParDo(_RejectRow())


class TagStories(beam.PTransform):
    """Articles, their dup groups and story labels to article rows and story rows."""

    def __init__(self, ingested_at: int):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        articles, dup_groups, story_labels = pcolls
        return (
            {
                "article": articles | "ById" >> beam.Map(lambda a: (a.article_id, a)),
                "dup": dup_groups,
                "story": story_labels,
            }
            | "Join" >> beam.CoGroupByKey()
            | "ByStory" >> beam.Map(_by_story)
            | "Stories" >> beam.GroupByKey()
            | "Tag" >> beam.ParDo(_TagStory(self._ingested_at)).with_outputs(
                STORIES, main="articles")
        )
