"""The stories table, updated in place: a run writes the rows of the stories it made or
changed, and rewrites each stored file that held one of those stories without it. Files
holding none of them stay as they are, so what a run holds of the table follows the
stories it touches (it still reads each file's story ids). The table gains about a file a
run; nothing merges small files yet."""

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

TABLE = "stories"


def without_stories(path: str, story_ids) -> list[dict] | None:
    """The rows of a stored stories file whose story is not a key of `story_ids`; None
    when the file holds none of those stories (it stays as it is)."""
    rows = read_arrow(path, TABLE)
    ids = pa.array(list(story_ids.keys()), pa.string())
    rewritten = pc.is_in(rows.column("story_id"), value_set=ids)
    if not pc.any(rewritten).as_py():
        return None
    return rows.filter(pc.invert(rewritten)).to_pylist()


class _RewriteStored(beam.DoFn):
    """A stored file of the table to StagedFile(its copy without the rewritten stories,
    replaces=it); nothing when it holds none of them."""

    def __init__(self, staging: str):
        self._staging = staging
        self.files = counter(FILES_WRITTEN)

    def process(self, path, rewritten):
        kept = without_stories(path, rewritten)
        if kept is None:
            return
        copy = None
        if kept:
            name = keyed_file_name("", run_name(self._staging), stable_id(path))
            copy = FileSystems.join(self._staging, TABLE, name)
            write_parquet(copy, to_arrow(TABLE, kept))
            self.files.inc()
        yield StagedFile(TABLE, copy, path)


class UpdateStoriesTable(beam.PTransform):
    """(rows of the stories the run made or changed, ids of the stories it rewrites) to
    StagedFiles: the new rows, and the stored files that held those stories rewritten
    without them."""

    def __init__(self, output: str, staging: str, rows_per_file: int):
        super().__init__()
        self._output = output
        self._staging = staging
        self._rows_per_file = rows_per_file

    def expand(self, pcolls):
        rows, rewritten = pcolls
        written = rows | "WriteRows" >> WriteTable(TABLE, self._staging, self._rows_per_file)
        if not has_table(self._output, TABLE):
            return written
        output = self._output
        replaced = (
            rows.pipeline
            | "Table" >> beam.Create([output])
            | "StoredFiles" >> beam.FlatMap(table_files, TABLE)
            | "Spread" >> beam.Reshuffle()
            | "Rewrite" >> beam.ParDo(
                _RewriteStored(self._staging),
                beam.pvalue.AsDict(rewritten | "Keyed" >> beam.Map(lambda s: (s, None)))))
        return (written, replaced) | "AllFiles" >> beam.Flatten()
