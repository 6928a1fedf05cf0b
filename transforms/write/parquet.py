"""Writing the tables: Hive-partitioned, zstd-compressed Parquet, staged and then committed.

Every file is first written under `<output>/_staging/<run>/`. Only when all of them are
written does one commit step move them into the tables: articles, rejects and the story
index gain the run's files; the stories table gains the rows of the stories the run made
or changed, and the stored files that held those stories are replaced by copies without
them (write/stories.py). The commit first writes its plan
next to the staged files, so a commit that dies halfway is finished before the next run
(`recover_commits`); a run that dies before its commit leaves the tables as they were.
File contents are sorted. Rows of the articles and story-index tables go to files as they
were staged (write/articles.py): the same input gives the same rows, though not always
split into the same files.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from storywire.schemas import NO_DATE_PARTITION, TABLES
from storywire.transforms.metrics import FILES_WRITTEN, counter
from storywire.transforms.paths import delete_files, files_under, is_local
from storywire.transforms.records import stable_id
from storywire.transforms.write.lock import check_held, release_detached

DEFAULT_ROWS_PER_FILE = 20_000
STAGING_DIR = "_staging"
COMMIT_PLAN = "COMMIT.json"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def day_of(micros: int) -> str:
    """The UTC day of a time in microseconds since the epoch, as 2024-10-28."""
    return (_EPOCH + timedelta(microseconds=micros)).date().isoformat()


def partition_of(table: str, row: dict) -> str:
    """The partition folder of a row ("published_date=2024-10-28"), or "" for none."""
    spec = TABLES[table]
    if spec.partition_column is None:
        return ""
    micros = next((row[c] for c in spec.partition_times if row.get(c) is not None), None)
    if micros is None:
        return f"{spec.partition_column}={NO_DATE_PARTITION}"
    return f"{spec.partition_column}={day_of(micros)}"


def to_arrow(table: str, rows: list[dict]) -> pa.Table:
    """Rows to an Arrow table of the table's schema, sorted by its sort columns."""
    spec = TABLES[table]
    rows = sorted(rows, key=lambda r: tuple((r[c] is None, r[c] or 0)
                                            for c in spec.sort_columns))
    return pa.Table.from_pylist(rows, schema=spec.schema)


def write_parquet(path: str, table: pa.Table) -> None:
    """Write one Parquet file through Beam's filesystems (local, gs://, s3://...)."""
    make_parent(path)
    with FileSystems.create(path) as handle:
        pq.write_table(table, handle, compression="zstd")


def make_parent(path: str) -> None:
    if is_local(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


def file_name(partition: str, run: str, shard: int, shards: int) -> str:
    """A file's path within its table; named after its run, so appended runs never clash."""
    name = f"part-{run}-{shard:05d}-of-{shards:05d}.parquet"
    return f"{partition}/{name}" if partition else name


# A stream names its files part-w<window start>-j<job>-...; a batch run part-run-<start>-...
STREAM_FILE_PREFIX = "part-w"


def written_by_stream(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith(STREAM_FILE_PREFIX)


def keyed_file_name(partition: str, run: str, key: str) -> str:
    """A file's path within its table when its rows are chosen by `key` (packed staged
    files) rather than by shard number."""
    name = f"part-{run}-{key}.parquet"
    return f"{partition}/{name}" if partition else name


# A batch run's keyed file: part-run-<start>-<16 hex digits of its key>.parquet.
_KEYED_NAME = re.compile(r"part-run-[0-9]{8}T[0-9]+Z-[0-9a-f]{16}\.parquet")


def keyed_name(path: str) -> str | None:
    """The name of the file at `path` if a batch run named it by key (keyed_file_name),
    else None: shard-numbered files, a stream's, and those of earlier versions."""
    name = path.rsplit("/", 1)[-1]
    return name if _KEYED_NAME.fullmatch(name) else None


class StagedFile(NamedTuple):
    """A file a run staged for `table`, to become part of it at the commit. `replaces`: a
    file of the table that the commit deletes, as this one is a rewritten copy of it
    (`path` None: the copy would have had no rows, so the file is only deleted)."""

    table: str
    path: str | None
    replaces: str | None = None


class _AssignShard(beam.DoFn):
    """Key each row by (partition, shard, shards): about rows_per_file rows to a file."""

    def __init__(self, table: str, rows_per_file: int):
        self._table = table
        self._rows_per_file = rows_per_file

    def process(self, row, counts):
        partition = partition_of(self._table, row)
        shards = max(1, math.ceil(counts[partition] / self._rows_per_file))
        sort_column = TABLES[self._table].sort_columns[0]
        shard = int(stable_id(row[sort_column], row.get("line")), 16) % shards
        yield (partition, shard, shards), row


class _WriteFile(beam.DoFn):
    def __init__(self, table: str, staging: str):
        self._table = table
        self._staging = staging
        self.files = counter(FILES_WRITTEN)

    def process(self, keyed):
        (partition, shard, shards), rows = keyed
        path = FileSystems.join(self._staging, self._table,
                                file_name(partition, run_name(self._staging), shard, shards))
        write_parquet(path, to_arrow(self._table, list(rows)))
        self.files.inc()
        yield StagedFile(self._table, path)


class WriteTable(beam.PTransform):
    """Rows (dicts) to staged Parquet files of one table, as StagedFiles."""

    def __init__(self, table: str, staging: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE):
        super().__init__()
        self._table = table
        self._staging = staging
        self._rows_per_file = rows_per_file

    def expand(self, rows):
        table = self._table
        counts = (
            rows
            | "Partition" >> beam.Map(lambda r: partition_of(table, r))
            | "CountPerPartition" >> beam.combiners.Count.PerElement()
        )
        return (
            rows
            | "Shard" >> beam.ParDo(
                _AssignShard(table, self._rows_per_file), counts=beam.pvalue.AsDict(counts))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteFiles" >> beam.ParDo(_WriteFile(table, self._staging))
        )


@dataclass
class CommitPlan:
    """What one commit does: move staged files into the tables, then delete replaced ones."""

    renames: list[tuple[str, str]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    def apply(self) -> None:
        """Carry the plan out; steps already done (by an interrupted commit) are skipped."""
        for source, target in self.renames:
            if FileSystems.exists(source):
                make_parent(target)
                FileSystems.rename([source], [target])
        gone = [path for path in self.deletes if FileSystems.exists(path)]
        if gone:
            delete_files(gone)


def table_files(output: str, table: str) -> list[str]:
    """The Parquet files of one table under `output` (none if the table is not there)."""
    return [p for p in files_under(FileSystems.join(output, table)) if p.endswith(".parquet")]


def commit_plan(staged: list[StagedFile], staging: str, output: str,
                existing: dict[str, list[str]]) -> CommitPlan:
    """The plan that makes the staged files part of the tables under `output`.

    Each table gains its staged files and loses the `existing` files they replace. A table
    that would have no file at all gets one empty file of its schema (staged here), so
    queries over it return no rows instead of failing on a missing path.
    """
    plan = CommitPlan()
    by_table: dict[str, list[str]] = {name: [] for name in TABLES}
    replaced: dict[str, set[str]] = {name: set() for name in TABLES}
    for table, path, replaces in map(_as_staged, staged):
        if path:
            by_table[table].append(path)
        if replaces:
            replaced[table].add(replaces)
    run = run_name(staging)
    for table, paths in by_table.items():
        spec = TABLES[table]
        old = existing.get(table, [])
        gone = [p for p in old if p in replaced[table]]
        if not paths and len(gone) == len(old):
            partition = (f"{spec.partition_column}={NO_DATE_PARTITION}"
                         if spec.partition_column else "")
            empty = FileSystems.join(staging, table, file_name(partition, run, 0, 1))
            write_parquet(empty, to_arrow(table, []))
            paths = [empty]
        prefix = FileSystems.join(staging, table)
        final_dir = FileSystems.join(output, table)
        plan.renames += [(p, FileSystems.join(final_dir, p[len(prefix):].lstrip("/")))
                         for p in sorted(paths)]
        plan.deletes += gone
    return plan


def _as_staged(item) -> StagedFile:
    return StagedFile(*item)


def commit_tables(staged: list[StagedFile], staging: str, output: str,
                  lock_token: str | None = None) -> CommitPlan:
    """Commit one run's staged files: write the plan to the staging folder, carry it out,
    drop the staging folder. A commit interrupted after its plan was written is finished
    by `recover_commits` before the next run.

    With a `lock_token`, the plan is only made while the output's lock still names that
    holder (see lock.py): a run whose lock was taken over leaves the tables as they were.

    Safe to run again (a runner may retry the step): a plan already written is carried out
    as written, and a commit already finished is not redone.
    """
    journal = FileSystems.join(staging, COMMIT_PLAN)
    if FileSystems.exists(journal):
        plan = _load_plan(journal)
    else:
        if lock_token is not None:
            check_held(output, lock_token)
        own = f"part-{run_name(staging)}-"
        current = {table: table_files(output, table) for table in TABLES}
        existing = {table: [p for p in paths if own not in p] for table, paths in current.items()}
        missing = [s.path for s in map(_as_staged, staged)
                   if s.path and not FileSystems.exists(s.path)]
        if missing:
            if any(own in p for paths in current.values() for p in paths):
                return CommitPlan()  # this run's commit already finished
            raise FileNotFoundError(
                f"staged files of {run_name(staging)} are gone before its commit "
                f"(another run writing to {output}?): {missing[:3]}")
        plan = commit_plan(staged, staging, output, existing)
        with FileSystems.create(journal + ".tmp") as handle:
            handle.write(json.dumps({"renames": plan.renames, "deletes": plan.deletes}).encode())
        FileSystems.rename([journal + ".tmp"], [journal])
    plan.apply()
    _finish(staging, output)
    return plan


def _load_plan(journal: str) -> CommitPlan:
    with FileSystems.open(journal) as handle:
        saved = json.loads(handle.read().decode())
    return CommitPlan([tuple(r) for r in saved["renames"]], saved["deletes"])


def recover_commits(output: str) -> tuple[int, int]:
    """Before a run: finish the commits of runs that died while committing, and drop the
    staging folders of runs that died before (their files never became part of a table).

    Returns (commits finished, staging folders dropped). Called under the output's lock
    (one run writes to an output at a time), so a staging folder is a dead run's.
    """
    finished = dropped = 0
    root = FileSystems.join(output, STAGING_DIR)
    if is_local(root) and not os.path.isdir(root):
        return 0, 0
    # (On object stores a folder does not "exist"; its files are matched.)
    runs = {path[len(root):].lstrip("/").split("/")[0] for path in files_under(root)}
    for run in sorted(r for r in runs if r):
        staging = FileSystems.join(root, run)
        journal = FileSystems.join(staging, COMMIT_PLAN)
        if FileSystems.exists(journal):
            _load_plan(journal).apply()
            finished += 1
        else:
            dropped += 1
        _finish(staging, output)
    return finished, dropped


def commit_unfinished(output: str) -> bool:
    """Whether a run's commit into `output` has begun and not ended: a run committing now,
    or one stopped while it committed (the next run finishes it, `recover_commits`). Its
    tables are then between two states."""
    root = FileSystems.join(output, STAGING_DIR)
    return any(path.endswith("/" + COMMIT_PLAN) for path in files_under(root))


def drop_staging(staging: str, output: str) -> None:
    """Drop the staging folder of a run that stopped before its commit began (it has no
    commit plan); one whose commit began is left for the next run to finish."""
    if not FileSystems.exists(FileSystems.join(staging, COMMIT_PLAN)):
        _finish(staging, output)


def _finish(staging: str, output: str) -> None:
    """Drop a run's staging folder: its files one by one (object stores such as Cloud
    Storage have no folders to delete), the commit plan last, so a commit cut short here
    is still found and finished."""
    files = files_under(staging)
    plan = [p for p in files if p.endswith("/" + COMMIT_PLAN)]
    rest = [p for p in files if p not in plan]
    for batch in (rest, plan):
        if batch:
            delete_files(batch)
    if is_local(staging) and os.path.isdir(staging):
        import shutil

        shutil.rmtree(staging)
    remove_empty_folders(output)


def remove_empty_folders(output: str) -> None:
    """Remove the empty folders that moved or replaced files leave in a local output's
    tables and staging area (object stores have none)."""
    if is_local(output):
        for table in TABLES:
            _remove_empty_dirs(FileSystems.join(output, table))
        _remove_empty_dirs(FileSystems.join(output, STAGING_DIR))


def _remove_empty_dirs(top: str) -> None:
    """Remove empty folders below `top` (left by moved or replaced files), and `top` if
    empty."""
    if not os.path.isdir(top):
        return
    for root, _, _ in os.walk(top, topdown=False):
        if not os.listdir(root):
            os.rmdir(root)


def run_name(staging: str) -> str:
    return staging.rstrip("/").rsplit("/", 1)[-1]


class _Commit(beam.DoFn):
    def __init__(self, staging: str, output: str, lock_token: str | None, release_lock: bool):
        self._staging = staging
        self._output = output
        self._lock_token = lock_token
        self._release_lock = release_lock

    def process(self, staged):
        commit_tables(staged, self._staging, self._output, self._lock_token)
        if self._release_lock and self._lock_token is not None:
            release_detached(self._output, self._lock_token)
        yield len(staged)


class CommitTables(beam.PTransform):
    """All staged files of a run to one commit, after every file is written, while the
    run holds the output's lock (`lock_token`). A detached job, whose launcher has left,
    releases the lock after its commit (`release_lock`)."""

    def __init__(self, staging: str, output: str, lock_token: str | None = None,
                 release_lock: bool = False):
        super().__init__()
        self._staging = staging
        self._output = output
        self._lock_token = lock_token
        self._release_lock = release_lock

    def expand(self, staged):
        return (
            staged
            | "AllFiles" >> beam.combiners.ToList()
            | "Commit" >> beam.ParDo(_Commit(self._staging, self._output, self._lock_token,
                                             self._release_lock))
        )
