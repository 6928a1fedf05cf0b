"""The stories table, updated in place: a run writes the rows of the stories it made or
changed, and rewrites each stored file that held one of those stories without it. Files
holding none of them stay as they are, so what a run holds of the table follows the
stories it touches (it still reads each file's story ids). The table gains about a file a
run; nothing merges small files yet."""

from __future__ import annotations

from storywire.transforms.write.inplace import UpdateTableInPlace

TABLE = "stories"


class UpdateStoriesTable(UpdateTableInPlace):
    """(rows of the stories the run made or changed, ids of the stories it rewrites) to
    StagedFiles: the new rows, and the stored files that held those stories rewritten
    without them."""

    def __init__(self, output: str, staging: str, rows_per_file: int):
        super().__init__(TABLE, "story_id", output, staging, rows_per_file)
