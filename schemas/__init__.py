"""Arrow schemas of the output tables."""

from storywire.schemas.tables import (
    ARTICLES,
    NO_DATE_PARTITION,
    PARTITION_COLUMN,
    REJECTS,
    STAGED_ARTICLES,
    STORIES,
    STORY_INDEX,
    TABLES,
    Table,
    describe,
    null_problem,
    schema_problem,
)

__all__ = [
    "ARTICLES", "NO_DATE_PARTITION", "PARTITION_COLUMN", "REJECTS", "STAGED_ARTICLES", "STORIES",
    "STORY_INDEX", "TABLES", "Table", "describe", "null_problem",
    "schema_problem",
]
