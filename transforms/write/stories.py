"""The stories table, updated in place: a run writes the rows of the stories it made or
changed, and rewrites each stored file that held one of those stories without it. Files
holding none of them stay as they are, so what a run holds of the table follows the
stories it touches (it still reads each file's story ids). The table gains about a file a
run; nothing merges small files yet."""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.write.inplace import RewriteStoredWithout
from storywire.transforms.write.parquet import WriteTable
from storywire.transforms.write.stored import has_table

TABLE = "stories"


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
        replaced = rewritten | "Rewrite" >> RewriteStoredWithout(
            self._output, self._staging, TABLE, "story_id")
        return (written, replaced) | "AllFiles" >> beam.Flatten()
