"""The whole data flow: of a batch run, and of a stream, in one function each."""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.fileio import EmptyMatchTreatment, MatchAll

from storywire.transforms.clean.clean import CleanArticles
from storywire.transforms.clean.stage import SkipStored, StageArticles
from storywire.transforms.copies.neardup import CopyGroups, DupGroupIds, NearDuplicatePairs
from storywire.transforms.read.inputs import ReadRecords
from storywire.transforms.read.matching import FindInputFiles
from storywire.transforms.read.parts import InputPart
from storywire.transforms.read.unique import KeepFirstPerId
from storywire.transforms.stories.grouping import StorySettings
from storywire.transforms.stories.links import LinkStories
from storywire.transforms.stories.streamstories import StoriesInStream
from storywire.transforms.stories.vectors import Vectorise
from storywire.transforms.streaming import (
    AtEventTime,
    ParseMessages,
    WriteWindowedTable,
    fixed_windows,
)
from storywire.transforms.write.articles import WriteArticleTables
from storywire.transforms.write.assemble import STORED_REJECT_COLUMNS, RejectRows, TagStories
from storywire.transforms.write.parquet import CommitTables, WriteTable
from storywire.transforms.write.rejects import UpdateRejectsTable
from storywire.transforms.write.stored import (
    ReadStoredIds,
    ReadStoredTable,
    ReadStoryMembers,
    stored_vector,
)
from storywire.transforms.write.stories import UpdateStoriesTable
from storywire.transforms.write.window import ReadStoryIndex


@dataclass(frozen=True)
class RunContext:
    """What one batch run is beyond its options: where it stages its files, when it
    started (the `ingested_at` of its rows), the lock it holds on the output (its token;
    `release_lock` for a detached job, whose commit releases it), and the folder where its
    steps tally progress for the terminal (None: not shown)."""

    staging: str
    ingested_at: int
    lock_token: str | None = None
    release_lock: bool = False
    progress: str | None = None
    part: InputPart | None = None  # of a run in parts: the pieces of input it reads
    # Of a run in parts: the file where the run keeps the stored ids (SavedStoredIds), which
    # the part skips, instead of reading every file of the articles table again.
    stored_ids: str | None = None
    # Its graphs (copy groups, story links) are solved on one worker: a small run
    # in-process, or a local run (each part) of at most GATHERED_AT_MOST_RECORDS records.
    gathered: bool = False


def build_pipeline(p: beam.Pipeline, opts, run: RunContext) -> None:
    """Raw files in, story-tagged tables out. `opts` is a StorywireOptions view.

    Into an output that already holds tables, the run adds its new articles: records whose
    article_id is stored are skipped, and new articles are grouped together with the
    stored ones of nearby days (the story index), so they join running stories and may
    revise them (continuation.py). Article text stays in the files the cleaning step
    stages (stage.py); what moves between steps is each article's StagedArticle.
    """
    stored_ids = run.stored_ids or p | "StoredIds" >> ReadStoredIds(opts.output)
    stored_rejects = p | "StoredRejects" >> ReadStoredTable(opts.output, "rejects",
                                                            list(STORED_REJECT_COLUMNS))

    files = p | "FindInputs" >> FindInputFiles(opts.input, exclude=opts.output, part=run.part)
    read = files.files | "Read" >> ReadRecords(progress=run.progress)
    new = read.records | "SkipStored" >> SkipStored(stored_ids)
    cleaned = new | "Clean" >> CleanArticles(opts.clean_timeout_seconds, progress=run.progress)
    staged = cleaned.articles | "Stage" >> StageArticles(run.staging, opts.language)
    unique = staged | "OnePerId" >> KeepFirstPerId()
    articles = unique.records
    settings = StorySettings.of(opts)
    window = articles | "StoryIndex" >> ReadStoryIndex(
        opts.output, settings.window_days, run.ingested_at, settings.max_compared)
    stored = window["stored"]
    stored_stories = stored | "StoryMembers" >> ReadStoryMembers(opts.output)

    copy_groups = (
        (articles | "Fingerprints" >> beam.Map(lambda a: (a.article_id, a.simhash)),
         stored | "StoredFingerprints" >> beam.Map(lambda s: (s.article_id, s.simhash)))
        | "AllFingerprints" >> beam.Flatten()
        | "NearDuplicates" >> NearDuplicatePairs(opts.dup_max_distance)
        | "CopyGroups" >> CopyGroups(gathered=run.gathered))
    dup_groups = (copy_groups, stored) | "DupGroupIds" >> DupGroupIds()
    story_labels = (
        ((articles | "Vectors" >> beam.Map(lambda a: a.vector),
          stored | "StoredVectors" >> beam.Map(stored_vector)) | "AllVectors" >> beam.Flatten(),
         copy_groups)
        | "LinkStories" >> LinkStories(settings, gathered=run.gathered))
    tagged = ((articles, story_labels, stored, window["movable"], stored_stories["members"],
               stored_stories["unlisted"])
              | "TagStories" >> TagStories(run.ingested_at))

    all_rejects = ((files.rejects, read.rejects, cleaned.rejects, unique.rejects)
                   | "AllRejects" >> beam.Flatten())
    rejects = (all_rejects, stored_rejects) | "RejectRows" >> RejectRows()
    staging, rows_per_file = run.staging, opts.rows_per_file
    written = (
        (articles, dup_groups, tagged["tags"])
        | "WriteArticles" >> WriteArticleTables(staging, rows_per_file, run.ingested_at),
        (tagged["stories"], tagged["rewritten"])
        | "WriteStories" >> UpdateStoriesTable(opts.output, staging, rows_per_file),
        tagged["story_index"] | "WriteMoves" >> WriteTable("story_index", staging,
                                                           rows_per_file),
        (rejects, all_rejects, articles,
         (files.spans, read.spans) | "AllSpans" >> beam.Flatten(), stored_rejects)
        | "WriteRejects" >> UpdateRejectsTable(opts.output, staging, rows_per_file),
    )
    (written
     | "AllStaged" >> beam.Flatten()
     | "Commit" >> CommitTables(staging, opts.output, run.lock_token, run.release_lock))


def build_stream_pipeline(messages: beam.PCollection, opts, stream_opts, source: str,
                          ingested_at: int, replayed: bool = False) -> None:
    """Messages in (article records, or Cloud Storage notifications naming files), story-
    tagged articles out, per window: the articles and story-index tables as a batch run
    writes them (streamstories.py), and the rejects. `opts` and `stream_opts` are
    StorywireOptions and StreamOptions views; `replayed`: see ParseMessages."""
    # One WindowInto, applied wherever the stream is (re)windowed: Beam compares windowing
    # strategies by identity of their trigger when collections meet.
    windows = fixed_windows(stream_opts.window_minutes, stream_opts.allowed_lateness_hours)

    parsed = messages | "ParseMessages" >> ParseMessages(source, replayed)
    notified = (parsed.files
                | "MatchNotified" >> MatchAll(EmptyMatchTreatment.ALLOW)
                | "ReadNotified" >> ReadRecords(spread=False))
    records = (parsed.records, notified.records) | "AllRecords" >> beam.Flatten()
    cleaned = records | "Clean" >> CleanArticles(opts.clean_timeout_seconds)
    unique = (cleaned.articles
              | "AtEventTime" >> AtEventTime(stream_opts.allowed_lateness_hours * 3600)
              | "Windows" >> windows
              | "OnePerId" >> KeepFirstPerId())
    tables = (unique.records
              | "Vectorise" >> Vectorise(opts.language, with_article=True)
              | "Stories" >> StoriesInStream(StorySettings.of(opts), ingested_at, windows))

    rejects = (
        ((parsed.rejects, notified.rejects, cleaned.rejects)
         | "EarlyRejects" >> beam.Flatten() | "EarlyRejectWindows" >> windows,
         unique.rejects | "DedupeRejectWindows" >> windows,
         tables["rejects"])
        | "AllRejects" >> beam.Flatten())
    tables["articles"] | "WriteArticles" >> WriteWindowedTable("articles", opts.output,
                                                              ingested_at)
    tables["story_index"] | "WriteIndex" >> WriteWindowedTable("story_index", opts.output,
                                                              ingested_at)
    (rejects | "RejectRows" >> RejectRows()
     | "WriteRejects" >> WriteWindowedTable("rejects", opts.output, ingested_at))
