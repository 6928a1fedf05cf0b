"""The whole data flow of a run, in one function."""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.assemble import RejectRows, TagStories
from storywire.transforms.clean import CleanArticles
from storywire.transforms.inputs import FindInputFiles, ReadRecords
from storywire.transforms.neardup import CopyGroups, DupGroupIds, NearDuplicatePairs
from storywire.transforms.parquet import CommitTables, WriteTable
from storywire.transforms.stories import LinkStories
from storywire.transforms.unique import KeepFirstPerId


def build_pipeline(p: beam.Pipeline, opts, staging: str, ingested_at: int) -> None:
    """Raw files in, story-tagged tables out. `opts` is a StorywireOptions view."""
    files = p | "FindInputs" >> FindInputFiles(opts.input)
    read = files.files | "Read" >> ReadRecords()
    unique = read.records | "OnePerId" >> KeepFirstPerId()
    cleaned = unique.records | "Clean" >> CleanArticles()
    articles = cleaned.articles

    copy_groups = (articles
                   | "Fingerprints" >> beam.Map(lambda a: (a.article_id, a.simhash))
                   | "NearDuplicates" >> NearDuplicatePairs(opts.dup_max_distance)
                   | "CopyGroups" >> CopyGroups())
    dup_groups = copy_groups | "DupGroupIds" >> DupGroupIds()
    story_labels = (articles, copy_groups) | "LinkStories" >> LinkStories(
        threshold=opts.story_threshold, neighbours=opts.story_neighbours,
        min_similarity=opts.story_min_similarity, window_days=opts.story_window_days,
        refine_similarity=opts.story_refine_similarity, language=opts.language)
    tagged = (articles, dup_groups, story_labels) | "TagStories" >> TagStories(ingested_at)

    rejects = ((files.rejects, read.rejects, unique.rejects, cleaned.rejects)
               | "AllRejects" >> beam.Flatten()
               | "RejectRows" >> RejectRows())
    staged = (
        tagged["articles"] | "WriteArticles" >> WriteTable("articles", staging, opts.rows_per_file),
        tagged["stories"] | "WriteStories" >> WriteTable("stories", staging, opts.rows_per_file),
        rejects | "WriteRejects" >> WriteTable("rejects", staging, opts.rows_per_file),
    )
    staged | "AllStaged" >> beam.Flatten() | "Commit" >> CommitTables(staging, opts.output)
