"""The names of the Beam metrics storywire counts: one home, read by the steps that count
and by the run summary (pipeline/report.py) alike.

Every metric is in the `storywire` namespace. Steps get their counters through `counter()`
and `distribution()`, never by spelling a name of their own, so a renamed metric cannot
leave the summary reading a name nothing counts (a test checks that every name the
summary reads is counted by some step).
"""

from __future__ import annotations

from apache_beam.metrics import Metrics

NAMESPACE = "storywire"

# Input: every input unit (a file; a non-blank JSONL line; a WARC record; a stream
# message; an input path that matched nothing) ends as one article, one reject, or one
# skip: of a record already stored, or of a WARC record that holds no page.
INPUT_UNITS = "input_units"
FILES_MATCHED = "files_matched"
SKIPPED_ALREADY_STORED = "skipped_already_stored"
SKIPPED_NO_PAGE = "skipped_no_page"
DUPLICATE_IDS = "duplicate_ids"

# Cleaning.
ARTICLES_CLEANED = "articles_cleaned"
ARTICLES_WITH_DATE = "articles_with_date"
CLEAN_TIMEOUTS = "clean_timeouts"

# Rows written.
ARTICLES_NEW = "articles"
REJECTS_NEW = "rejects"
REJECTS_ALREADY_STORED = "rejects_already_stored"
# Rejects of earlier runs whose record this run made an article: removed from the table.
REJECTS_NOW_ARTICLES = "rejects_now_articles"
# Rejects of earlier runs made in reading a file or part of one that this run read again
# and did not reject there again (a line mended, a file that was empty): removed.
REJECTS_NOW_READ = "rejects_now_read"
# New rejects that a stored row had for another reason: their rows replace those rows (a
# file once empty that now holds only white space). Counted among the new rejects too.
REJECTS_NEW_REASON = "rejects_new_reason"
FILES_WRITTEN = "files_written"

# Near-duplicate groups.
DUP_GROUPS_WITH_COPIES = "dup_groups_with_copies"
ARTICLES_WITH_COPIES = "articles_with_copies"
DUP_BUCKETS_CAPPED = "dup_buckets_capped"
DUP_GROUPS_UNSETTLED = "dup_groups_unsettled"

# Stories.
STORIES = "stories"
STORIES_EXTENDED = "stories_extended"
STORIES_MERGED = "stories_merged"  # stored stories whose window articles joined another
STORY_ARTICLES_MOVED = "story_articles_moved"  # stored articles a run moved to another story
STORY_SIZE = "story_size"  # a distribution: its max is the largest story
STORY_LINKS = "story_links"
STORY_BUCKETS_OVER_MAX_COMPARED = "story_buckets_over_max_compared"
STORIES_UNSETTLED = "stories_unsettled"
STORY_COMPONENTS_UNREFINED = "story_components_unrefined"
STORY_COMPONENTS_SPLIT = "story_components_split"

# Streams.
STREAM_FILE_NOTIFICATIONS = "stream_file_notifications"
STREAM_NOTIFICATIONS_IGNORED = "stream_notifications_ignored"
STREAM_EVENT_TIMES_CLAMPED = "stream_event_times_clamped"

# Counters that say a bound cut some work short, with what the run summary tells the user
# when one is not zero.
BOUNDS_HIT: dict[str, str] = {
    DUP_BUCKETS_CAPPED:
        "simhash buckets over their bound were compared in part; some copies may be "
        "missed",
    DUP_GROUPS_UNSETTLED:
        "near-duplicate groups did not settle in the rounds allowed; some may be split",
    STORY_BUCKETS_OVER_MAX_COMPARED:
        "story candidate buckets over their bound were compared in part; some links may "
        "be missed",
    STORIES_UNSETTLED:
        "linked story groups did not settle in the rounds allowed; some may be split",
    STORY_COMPONENTS_UNREFINED:
        "linked groups too large to refine were kept whole; some stories may be too broad",
}


def rejects_at(stage: str) -> str:
    """The counter of new rejects at one stage (`rejects_clean`, `rejects_read`, ...)."""
    return f"{REJECTS_NEW}_{stage}"


def counter(name: str):
    """A Beam counter of storywire's namespace."""
    return Metrics.counter(NAMESPACE, name)


def distribution(name: str):
    """A Beam distribution of storywire's namespace."""
    return Metrics.distribution(NAMESPACE, name)
