"""Joining the per-article results into output rows: one row per article, one per story.

The story step moves only article summaries (id, date, text length, title, source); the
whole article moves once, in the final join with its tags.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from storywire.transforms.neardup import dup_group_id
from storywire.transforms.records import NAMESPACE, Article, ArticleSummary
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
    }


def story_row(story_id: str, members: list[ArticleSummary]) -> dict:
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


def tag_story(members: list[ArticleSummary]) -> tuple[dict[str, tuple[str, bool]], dict]:
    """{article_id: (story_id, is_canonical)} and the story row of one story's members."""
    members = sorted(members, key=canonical_order)
    story_id = story_id_for(members[0].article_id)
    tags = {a.article_id: (story_id, i == 0) for i, a in enumerate(members)}
    return tags, story_row(story_id, members)


def _by_story(joined):
    article_id, grouped = joined
    for summary in grouped["summary"]:
        story = grouped["story"][0] if grouped["story"] else article_id
        yield story, summary


class _TagStory(beam.DoFn):
    def __init__(self):
        self.stories = Metrics.counter(NAMESPACE, "stories")
        self.size = Metrics.distribution(NAMESPACE, "story_size")

    def process(self, keyed):
        _, members = keyed
        tags, story = tag_story(list(members))
        self.stories.inc()
        self.size.update(len(tags))
        yield beam.pvalue.TaggedOutput(STORIES, story)
        yield from tags.items()


class _ArticleRow(beam.DoFn):
    def __init__(self, ingested_at: int):
        self._ingested_at = ingested_at
        self.articles = Metrics.counter(NAMESPACE, "articles")

    def process(self, joined):
        article_id, grouped = joined
        dup_group = grouped["dup"][0] if grouped["dup"] else dup_group_id(article_id)
        for article in grouped["article"]:
            (story_id, is_canonical), = grouped["tag"]
            self.articles.inc()
            yield article_row(article, dup_group, story_id, is_canonical, self._ingested_at)


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
    """Articles, their dup groups and story labels to {"articles": rows, "stories": rows}."""

    def __init__(self, ingested_at: int):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, pcolls):
        articles, dup_groups, story_labels = pcolls
        by_id = articles | "ById" >> beam.Map(lambda a: (a.article_id, a))
        tagged = (
            {"summary": by_id | "Summaries" >> beam.MapTuple(
                lambda article_id, a: (article_id, ArticleSummary.of(a))),
             "story": story_labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "ByStory" >> beam.FlatMap(_by_story)
            | "Stories" >> beam.GroupByKey()
            | "Tag" >> beam.ParDo(_TagStory()).with_outputs(STORIES, main="tags")
        )
        rows = (
            {"article": by_id, "dup": dup_groups, "tag": tagged.tags}
            | "JoinTags" >> beam.CoGroupByKey()
            | "Rows" >> beam.ParDo(_ArticleRow(self._ingested_at))
        )
        return {"articles": rows, "stories": tagged.stories}
