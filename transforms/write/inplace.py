"""Stored table files rewritten without some rows: what a run does to a table it updates in
place (stories it changed, rejects of records that are now articles). Only the files that
hold such rows are rewritten, each as a staged copy that replaces it at the commit."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from storywire.transforms.metrics import FILES_WRITTEN, counter
from storywire.transforms.records import stable_id
from storywire.transforms.write.parquet import (
    StagedFile,
    WriteTable,
    keyed_file_name,
    run_name,
    table_files,
    to_arrow,
    write_parquet,
)
from storywire.transforms.write.stored import has_table, read_arrow


def without_keys(path: str, table: str, column: str | tuple[str, ...],
                 keys) -> list[dict] | None:
    """The rows of a stored file of `table` whose `column` (or tuple of the values of
    several columns) is not a key of `keys`; None when the file holds none of those (it
    stays as it is)."""
    rows = read_arrow(path, table)
    if isinstance(column, str):
        ids = pa.array(list(keys.keys()), pa.string())
        dropped = pc.fill_null(pc.is_in(rows.column(column), value_set=ids), False)
    else:
        values = zip(*(rows.column(c).to_pylist() for c in column))
        dropped = pa.array([value in keys for value in values], pa.bool_())
    if not pc.any(dropped).as_py():
        return None
    return rows.filter(pc.invert(dropped)).to_pylist()


class _RewriteWithout(beam.DoFn):
    """A stored file of a table to StagedFile(its copy without the rows of the given keys,
    replaces=it); nothing when it holds none of them."""

    def __init__(self, staging: str, table: str, column: str | tuple[str, ...]):
        self._staging = staging
        self._table = table
        self._column = column
        self.files = counter(FILES_WRITTEN)

    def process(self, path, keys):
        kept = without_keys(path, self._table, self._column, keys)
        if kept is None:
            return
        copy = None
        if kept:
            name = keyed_file_name("", run_name(self._staging), stable_id(path))
            copy = FileSystems.join(self._staging, self._table, name)
            write_parquet(copy, to_arrow(self._table, kept))
            self.files.inc()
        yield StagedFile(self._table, copy, path)


class RewriteStoredWithout(beam.PTransform):
    """Keys (a PCollection of strings, or of tuples for a tuple of columns) to StagedFiles:
    each stored file of `table` whose `column` holds one of them, rewritten without those
    rows (or removed when none is left); files that hold none stay as they are.
    Unpartitioned tables only (the copy is written at the top of the table)."""

    def __init__(self, output: str, staging: str, table: str, column: str | tuple[str, ...]):
        super().__init__()
        self._output = output
        self._staging = staging
        self._table = table
        self._column = column

    def expand(self, keys):
        return (
            keys.pipeline
            | "Table" >> beam.Create([self._output])
            | "StoredFiles" >> beam.FlatMap(table_files, self._table)
            | "Spread" >> beam.Reshuffle()
            | "Rewrite" >> beam.ParDo(
                _RewriteWithout(self._staging, self._table, self._column),
                beam.pvalue.AsDict(keys | "Keyed" >> beam.Map(lambda k: (k, None)))))


class UpdateTableInPlace(beam.PTransform):
    """(new rows of `table`, keys whose stored rows go) to StagedFiles: the new rows, and
    each stored file holding rows whose `column` is one of the keys, rewritten without
    them. New rows alone, when nothing is `stored` yet: to StagedFiles of them."""

    def __init__(self, table: str, column: str | tuple[str, ...], output: str, staging: str,
                 rows_per_file: int):
        super().__init__()
        self._table = table
        self._column = column
        self._output = output
        self._staging = staging
        self._rows_per_file = rows_per_file
        self.stored = has_table(output, table)  # the table is in the output already

    def expand(self, pcolls):
        rows, keys = pcolls if isinstance(pcolls, tuple) else (pcolls, None)
        written = rows | "WriteRows" >> WriteTable(self._table, self._staging,
                                                   self._rows_per_file)
        if keys is None or not self.stored:
            return written
        replaced = keys | "Rewrite" >> RewriteStoredWithout(
            self._output, self._staging, self._table, self._column)
        return (written, replaced) | "AllFiles" >> beam.Flatten()
