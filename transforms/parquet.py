"""Writing the tables: Hive-partitioned, zstd-compressed Parquet, staged and then committed.

Every file is first written under `<output>/_staging/<run>/`. Only when all of them are
written does one commit step replace each table's files in `<output>` with the staged
ones, so a run that dies before its commit leaves the previous output as it was. File
contents are sorted, so the same rows make the same files whatever order they came in.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from storywire.schemas import NO_DATE_PARTITION, TABLES
from storywire.transforms.records import NAMESPACE, stable_id

DEFAULT_ROWS_PER_FILE = 20_000
STAGING_DIR = "_staging"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def partition_of(table: str, row: dict) -> str:
    """The partition folder of a row ("published_date=2024-10-28"), or "" for none."""
    _, column, _ = TABLES[table]
    if column is None:
        return ""
    micros = row.get("published_at")
    if micros is None:
        return f"{column}={NO_DATE_PARTITION}"
    day = (_EPOCH + timedelta(microseconds=micros)).date()
    return f"{column}={day.isoformat()}"


def to_arrow(table: str, rows: list[dict]) -> pa.Table:
    """Rows to an Arrow table of the table's schema, sorted by its sort columns."""
    schema, _, sort_columns = TABLES[table]
    rows = sorted(rows, key=lambda r: tuple((r[c] is None, r[c] or 0) for c in sort_columns))
    return pa.Table.from_pylist(rows, schema=schema)


def write_parquet(path: str, table: pa.Table) -> None:
    """Write one Parquet file through Beam's filesystems (local, gs://, s3://...)."""
    _make_parent(path)
    with FileSystems.create(path) as handle:
        pq.write_table(table, handle, compression="zstd")


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _make_parent(path: str) -> None:
    if _is_local(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


def file_name(partition: str, shard: int, shards: int) -> str:
    name = f"part-{shard:05d}-of-{shards:05d}.parquet"
    return f"{partition}/{name}" if partition else name


class _AssignShard(beam.DoFn):
    """Key each row by (partition, shard, shards): about rows_per_file rows to a file."""

    def __init__(self, table: str, rows_per_file: int):
        self._table = table
        self._rows_per_file = rows_per_file

    def process(self, row, counts):
        partition = partition_of(self._table, row)
        shards = max(1, math.ceil(counts[partition] / self._rows_per_file))
        sort_column = TABLES[self._table][2][0]
        shard = int(stable_id(row[sort_column], row.get("line")), 16) % shards
        yield (partition, shard, shards), row


class _WriteFile(beam.DoFn):
    def __init__(self, table: str, staging: str):
        self._table = table
        self._staging = staging
        self.files = Metrics.counter(NAMESPACE, "files_written")

    def process(self, keyed):
        (partition, shard, shards), rows = keyed
        path = FileSystems.join(self._staging, self._table, file_name(partition, shard, shards))
        write_parquet(path, to_arrow(self._table, list(rows)))
        self.files.inc()
        yield self._table, path


class WriteTable(beam.PTransform):
    """Rows (dicts) to staged Parquet files of one table; outputs (table, staged path)."""

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


def commit_tables(staged: list[tuple[str, str]], staging: str, output: str) -> None:
    """Replace each table's files under `output` with the staged ones, then drop staging.

    A table without any staged file gets one empty file of its schema, so queries over it
    return no rows instead of failing on a missing path.
    """
    by_table: dict[str, list[str]] = {name: [] for name in TABLES}
    for table, path in staged:
        by_table[table].append(path)
    for table, paths in by_table.items():
        if not paths:
            _, column, _ = TABLES[table]
            partition = f"{column}={NO_DATE_PARTITION}" if column else ""
            empty = FileSystems.join(staging, table, file_name(partition, 0, 1))
            write_parquet(empty, to_arrow(table, []))
            paths.append(empty)
        final_dir = FileSystems.join(output, table)
        old = [m.path for m in FileSystems.match([final_dir.rstrip("/") + "/**"])[0].metadata_list]
        if old:
            FileSystems.delete(old)
        prefix = FileSystems.join(staging, table)
        targets = [FileSystems.join(final_dir, p[len(prefix):].lstrip("/")) for p in paths]
        for target in targets:
            _make_parent(target)
        FileSystems.rename(paths, targets)
        if _is_local(final_dir):
            _remove_empty_dirs(final_dir)
    if FileSystems.exists(staging):
        FileSystems.delete([staging])
    if _is_local(output):
        _remove_empty_dirs(FileSystems.join(output, STAGING_DIR))


def _remove_empty_dirs(top: str) -> None:
    """Remove empty folders below `top` (left by replaced partitions), and `top` if empty."""
    if not os.path.isdir(top):
        return
    for root, _, _ in os.walk(top, topdown=False):
        if not os.listdir(root):
            os.rmdir(root)


class _Commit(beam.DoFn):
    def __init__(self, staging: str, output: str):
        self._staging = staging
        self._output = output

    def process(self, staged):
        commit_tables(staged, self._staging, self._output)
        yield len(staged)


class CommitTables(beam.PTransform):
    """All staged files of a run to one commit, after every file is written."""

    def __init__(self, staging: str, output: str):
        super().__init__()
        self._staging = staging
        self._output = output

    def expand(self, staged):
        return (
            staged
            | "AllFiles" >> beam.combiners.ToList()
            | "Commit" >> beam.ParDo(_Commit(self._staging, self._output))
        )
