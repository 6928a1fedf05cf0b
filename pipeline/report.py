"""What a run did (from its Beam metrics) and the stories table, printed for a person."""

from __future__ import annotations

import errno
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics.metric import MetricsFilter

from storywire.transforms.metrics import (
    ARTICLES_NEW,
    ARTICLES_WITH_COPIES,
    BOUNDS_HIT,
    DUP_GROUPS_WITH_COPIES,
    FILES_MATCHED,
    INPUT_UNITS,
    NAMESPACE,
    REJECTS_ALREADY_STORED,
    REJECTS_NEW,
    REJECTS_NEW_REASON,
    REJECTS_NOW_ARTICLES,
    REJECTS_NOW_READ,
    SKIPPED_ALREADY_STORED,
    SKIPPED_NO_PAGE,
    STORIES,
    STORIES_EXTENDED,
    STORIES_MERGED,
    STORY_ARTICLES_MOVED,
    STORY_SIZE,
)
from storywire.transforms.records import printable_name
from storywire.transforms.write.parquet import table_files
from storywire.transforms.write.stored import latest_rows, read_columns

# Every counter the summary reads (a test checks each is counted by some step).
SUMMARY_COUNTERS = (INPUT_UNITS, FILES_MATCHED, ARTICLES_NEW, SKIPPED_ALREADY_STORED,
                    SKIPPED_NO_PAGE, REJECTS_NEW, REJECTS_ALREADY_STORED, REJECTS_NOW_ARTICLES,
                    REJECTS_NOW_READ, REJECTS_NEW_REASON, DUP_GROUPS_WITH_COPIES,
                    ARTICLES_WITH_COPIES, STORIES, STORIES_EXTENDED, STORIES_MERGED,
                    STORY_ARTICLES_MOVED, *BOUNDS_HIT)


@dataclass
class RunSummary:
    counters: dict[str, int] = field(default_factory=dict)
    largest_story: int = 0

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)

    def __add__(self, other: RunSummary) -> RunSummary:
        """What two runs (parts of one run) did together."""
        names = set(self.counters) | set(other.counters)
        return RunSummary({n: self.get(n) + other.get(n) for n in names},
                          max(self.largest_story, other.largest_story))

    @property
    def dup_groups(self) -> int:
        # Articles without a copy are groups of one; the counters cover groups with copies.
        return (self.get(ARTICLES_NEW) - self.get(ARTICLES_WITH_COPIES)
                + self.get(DUP_GROUPS_WITH_COPIES))

    @property
    def accounted(self) -> int:
        """Input units that ended as an article, a reject, or a skip: of one already
        stored, or of a WARC record that holds no page."""
        return (self.get(ARTICLES_NEW) + self.get(REJECTS_NEW)
                + self.get(SKIPPED_ALREADY_STORED) + self.get(REJECTS_ALREADY_STORED)
                + self.get(SKIPPED_NO_PAGE))

    @property
    def reject_fraction(self) -> float:
        """Rejects among this run's new rows (skips of stored input left out)."""
        new = self.get(ARTICLES_NEW) + self.get(REJECTS_NEW)
        return self.get(REJECTS_NEW) / new if new else 0.0

    def text(self, files: str | None = None) -> str:
        """The summary's lines; `files`: what to say of the files read (a part of a run in
        parts reads pieces of files matched before the run)."""
        skipped = self.get(SKIPPED_ALREADY_STORED)
        stored_rejects = self.get(REJECTS_ALREADY_STORED)
        cleared = self.get(REJECTS_NOW_ARTICLES)
        read_now = self.get(REJECTS_NOW_READ)
        new_reason = self.get(REJECTS_NEW_REASON)
        no_page = self.get(SKIPPED_NO_PAGE)
        lines = [
            f"read:       {self.get(INPUT_UNITS)} input units "
            f"({files or f'{self.get(FILES_MATCHED)} files matched'})",
            f"articles:   {self.get(ARTICLES_NEW)} new"
            + (f" ({skipped} already in the output, skipped)" if skipped else ""),
            f"rejects:    {self.get(REJECTS_NEW)} new"
            + (f" ({stored_rejects} already recorded)" if stored_rejects else "")
            + (f"; {new_reason} of the new replace rows of earlier runs (rejected now for "
               "another reason)" if new_reason else "")
            + (f"; {cleared} of earlier runs removed, their records now articles"
               if cleared else "")
            + (f"; {read_now} of earlier runs removed, their input now read without them"
               if read_now else ""),
            *([f"skipped:    {no_page} WARC records that hold no page (request, warcinfo, "
               "metadata, revisit ...)"] if no_page else []),
            f"dup groups: {self.dup_groups} "
            f"({self.get(DUP_GROUPS_WITH_COPIES)} with copies, "
            f"{self.get(ARTICLES_WITH_COPIES)} articles in them)",
            f"stories:    {self.get(STORIES)} new, {self.get(STORIES_EXTENDED)} extended "
            f"(largest: {self.largest_story} articles)",
        ]
        moved, merged = self.get(STORY_ARTICLES_MOVED), self.get(STORIES_MERGED)
        if moved or merged:
            lines.append(f"revised:    {moved} earlier articles moved to another story, "
                         f"{merged} earlier stories merged into another")
        lines += [f"note:       {self.get(name)} {meaning} ({name})"
                  for name, meaning in BOUNDS_HIT.items() if self.get(name)]
        if self.accounted != self.get(INPUT_UNITS):
            lines.append(f"note:       {self.get(INPUT_UNITS)} input units read but "
                         f"{self.accounted} accounted for (articles + rejects + skipped)")
        return "\n".join(lines)


def whole_run(parts: list[RunSummary], output: str, since: int) -> RunSummary:
    """What a run in parts did, as a run in one piece reports it: the parts' counts added
    up, but its copy groups, stories and revisions counted from the story index before and
    after (a story a later part extended is one the run made, not one made and one
    extended; an article of part 1 that part 2 moved is no earlier article revised).
    As in one piece (continuation.py), a story is new when its id is: one that earlier
    articles split off into is new, though it holds them. `since`: when the run started
    (microseconds); its articles were ingested since."""
    total = sum(parts[1:], parts[0])
    rows = read_columns(output, "story_index", ["article_id", "assigned_at", "dup_group_id",
                                                "story_id", "ingested_at"])
    if not rows.num_rows:
        return total
    now = latest_rows(rows)
    before = latest_rows(rows.filter(pc.less(rows.column("assigned_at"), since)))
    del rows
    new = now.filter(pc.greater_equal(now.column("ingested_at"), since))
    groups, stories = _sizes(now, new, "dup_group_id"), _sizes(now, new, "story_id")
    del new
    copied = groups.filter(pc.greater(groups.column("size"), 1))
    moved = before.join(now.select(["article_id", "story_id"]), "article_id",
                        right_suffix="_now")
    moved = moved.filter(pc.not_equal(moved.column("story_id"), moved.column("story_id_now")))
    gone = pc.invert(pc.is_in(moved.column("story_id"), value_set=now.column("story_id")))
    earlier = pc.unique(before.column("story_id"))
    total.counters.update({
        DUP_GROUPS_WITH_COPIES: copied.num_rows,
        ARTICLES_WITH_COPIES: pc.sum(copied.column("new")).as_py() or 0,
        STORIES: _count_true(pc.invert(pc.is_in(pc.unique(now.column("story_id")),
                                                value_set=earlier))),
        STORIES_EXTENDED: _count_true(pc.is_in(stories.column("story_id"), value_set=earlier)),
        STORY_ARTICLES_MOVED: moved.num_rows,
        STORIES_MERGED: len(pc.unique(moved.column("story_id").filter(gone))),
    })
    total.largest_story = pc.max(stories.column("size")).as_py() or 0
    return total


def _sizes(now: pa.Table, new: pa.Table, key: str) -> pa.Table:
    """Each `key` the run's articles (`new`) have, with its articles (size) and its articles
    of this run (new). In Arrow: a million copy groups as Python objects held more than
    the rest of the count (a run of a million articles peaked at 775 MiB here)."""
    def counted(rows: pa.Table, name: str) -> pa.Table:
        return rows.group_by(key, use_threads=False).aggregate(
            [([], "count_all")]).rename_columns([key, name])

    return counted(new, "new").join(counted(now, "size"), key)


def _count_true(mask: pa.ChunkedArray | pa.Array) -> int:
    return pc.sum(pc.cast(mask, pa.int64())).as_py() or 0


# The exit status of a run that wrote its tables though too many of its new rows are
# rejects (over --max_reject_fraction).
TOO_MANY_REJECTS = 3


def exit_status(summary: RunSummary, max_reject_fraction: float, reasons: str
                ) -> tuple[int, str | None]:
    """The exit status of a run that wrote its tables, and what to tell the user: 4 when
    its own count does not add up (the runner lost input units on the way: what is missing
    is read again by the next run, as it was not stored), 1 when no article came out of the
    input and none was there, 3 when too many of its new rows are rejects, 0 otherwise."""
    read = summary.get(INPUT_UNITS)
    if summary.accounted != read:
        return 4, (f"{read} input units read but {summary.accounted} accounted for: the "
                   "runner lost some on the way; the tables hold what was accounted for, and "
                   "a rerun reads what is missing (what is stored is skipped)")
    if summary.get(ARTICLES_NEW) == 0 and summary.get(SKIPPED_ALREADY_STORED) == 0:
        return 1, f"no article came out of {read} input units; {reasons}"
    if summary.reject_fraction > max_reject_fraction:
        new_rows = summary.get(ARTICLES_NEW) + summary.get(REJECTS_NEW)
        return TOO_MANY_REJECTS, (f"{summary.get(REJECTS_NEW)} of {new_rows} new rows are rejects "
                   f"({summary.reject_fraction:.0%}, over --max_reject_fraction "
                   f"{max_reject_fraction:g}); {reasons}")
    return 0, None


def run_summary(result) -> RunSummary:
    metrics = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    summary = RunSummary()
    for counter in metrics["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        name = counter.key.metric.name
        summary.counters[name] = summary.counters.get(name, 0) + (value or 0)
    for dist in metrics["distributions"]:
        if dist.key.metric.name == STORY_SIZE:
            value = dist.committed if dist.committed is not None else dist.attempted
            if value is not None and value.count:
                summary.largest_story = max(summary.largest_story, value.max)
    return summary


def print_out(text: str, out=None) -> OSError | None:
    """Print `text` to standard output (or `out`) now; the error that kept it from being
    written, or None. Standard output that fails once (its reader gone: `| head`; a full
    disk) is pointed at /dev/null, so the lines after it, and the flush at exit, are lost
    without another error."""
    out = out or sys.stdout
    if out is None:  # standard output closed (`>&-`): Python made it None
        return OSError(errno.EBADF, os.strerror(errno.EBADF))
    try:
        print(text, file=out, flush=True)
    except OSError as err:
        if out is sys.stdout:
            try:
                fileno = sys.stdout.fileno()
            except (OSError, ValueError):
                return err  # not a file (a test's capture)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fileno)
            os.close(null)
        return err
    return None


def say(text: str) -> None:
    """Print a run's lines for its standard output (its summaries): a run goes on without
    them, and says so once when they are lost for a reason other than a reader gone."""
    err = print_out(text)
    if err is not None and not isinstance(err, BrokenPipeError):
        try:
            print(f"storywire: cannot write to standard output ({err.strerror or err}): the "
                  "run's summary is lost, not its tables", file=sys.stderr, flush=True)
        except OSError:
            pass  # standard error too (`2>&1`): no one to tell


def print_output(command: str, text: str, out=None) -> int:
    """Print what a command that only reads (`stories`, `schema`) found; its exit status.
    A reader that went away (`storywire stories | head -1`) took what it wanted: 0. One
    that could not be written (a full disk) is no output: 1, and a line saying why."""
    err = print_out(text, out)
    if err is None or isinstance(err, BrokenPipeError):
        return 0
    print(f"storywire {command}: cannot write the output: {err.strerror or err}",
          file=sys.stderr)
    return 1


# How often `storywire stories` reads the tables again when a run's commit changed them
# under it, and how long it waits first (a commit takes about a second).
STORIES_READS = 5
STORIES_WAIT_SECONDS = 1.0


def print_stories(output: str, limit: int = 50, out=None) -> int:
    """Print the stories table of an output folder, largest stories first."""
    try:
        rows = _settled_stories(output)
    except _NotShown as problem:
        print(f"storywire stories: {problem}", file=sys.stderr)
        return 2
    if rows is None:
        print(f"storywire: no stories table in {output!r} (expected "
              f"{printable_name(os.path.join(output, 'stories'))}/); "
              "run `storywire run --output DIR` first", file=sys.stderr)
        return 1
    rows.sort(key=lambda r: (-r["article_count"], r["first_published_at"] is None,
                             r["first_published_at"] or 0, r["story_id"]))
    shown = rows if limit <= 0 else rows[:limit]
    header = ("story_id", "articles", "sources", "first published", "title")
    table = [header] + [
        (
            r["story_id"],
            str(r["article_count"]),
            str(r["source_count"]),
            _minute(r["first_published_at"]),
            _clip(r["title"] or "(no title)", 70),
        )
        for r in shown
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]
             for row in table]
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more stories (--limit 0 shows all)")
    lines.append(f"{len(rows)} stories")
    return print_output("stories", "\n".join(lines), out)


class _NotShown(Exception):
    """Why `storywire stories` shows no stories: damaged tables, or a commit under way."""


def _settled_stories(output: str) -> list[dict] | None:
    """The stories of `output` (see `_current_stories`) as no commit was changing them:
    a commit moves files in and deletes the ones it replaces one by one, so between its
    first step and its last a story's old and new rows both stand, or a table is not
    there yet. Read again while one is under way, or has changed the files during the
    reading. Raises _NotShown."""
    from storywire.transforms.write.parquet import commit_unfinished
    from storywire.transforms.write.stored import StoredTableError

    for attempt in range(STORIES_READS):
        if attempt:
            time.sleep(STORIES_WAIT_SECONDS)
        before = _all_files(output)
        try:
            rows = _current_stories(output)
        except (StoredTableError, OSError) as err:
            if not commit_unfinished(output) and _all_files(output) == before:
                raise _NotShown(str(err)) from None  # damage, not a commit
            continue
        if not commit_unfinished(output) and _all_files(output) == before:
            return rows
    raise _NotShown(
        f"a run's commit into {printable_name(output)} has not ended (a run is committing, "
        "or was stopped while it committed), so its tables are between two states; run "
        "`storywire stories` again when the run ends (the next `storywire run` into it "
        "finishes a stopped commit)")


def _all_files(output: str) -> list[str]:
    from storywire.schemas import TABLES

    return sorted(path for table in TABLES for path in table_files(output, table))


def _current_stories(output: str) -> list[dict] | None:
    """The rows of the stories table, after the check a run makes first (a copy of a file,
    a file out of place, a table missing beside the others would make them wrong); None if
    the output has neither stories nor a story index. Raises StoredTableError."""
    from storywire.transforms.write.stored import (
        check_stored_tables,
        current_story_rows,
        read_rows,
    )

    stories = table_files(output, "stories")
    # A stream writes no stories table: its stories are made from the story index, as a
    # run makes the table again when its files are gone (ReadStoryMembers).
    from_index = not stories and bool(table_files(output, "story_index"))
    if not stories and not from_index:
        return None
    # Files written together are checked to be there too: a reading a commit changed is
    # read again (_settled_stories), so a file not yet moved in is not taken for lost.
    check_stored_tables(output, settled=True)
    return current_story_rows(output) if from_index else [
        row for path in stories for row in read_rows(path, "stories")]


def _minute(micros: int | None) -> str:
    if micros is None:
        return "-"
    return (datetime(1970, 1, 1, tzinfo=timezone.utc)
            + timedelta(microseconds=micros)).strftime("%Y-%m-%d %H:%M")


def _clip(text: str, width: int) -> str:
    """A title for the terminal: one line, cut to `width`, and nothing a terminal would
    act on (a title from a feed may hold escape sequences or line breaks)."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_schema(tables: list[str], out=None) -> int:
    """Print the columns of the named tables (all of them by default)."""
    from storywire.schemas import TABLES, describe

    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        print(f"storywire schema: no table {unknown[0]!r} (tables: {', '.join(TABLES)})",
              file=sys.stderr)
        return 2
    lines = []
    for table in tables or list(TABLES):
        spec = TABLES[table]
        where = (f" (Hive-partitioned by {spec.partition_column})"
                 if spec.partition_column else "")
        lines.append(f"{table}{where}")
        lines += [f"  {name:<22} {type_:<26} {doc}" for name, type_, doc in describe(spec.schema)]
        lines.append("")
    return print_output("schema", "\n".join(lines), out)
