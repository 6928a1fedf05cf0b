"""What a run did (from its Beam metrics) and the stories table, printed for a person."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter

from storywire.transforms.records import NAMESPACE


@dataclass
class RunSummary:
    counters: dict[str, int] = field(default_factory=dict)
    largest_story: int = 0

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)

    @property
    def dup_groups(self) -> int:
        # Articles without a copy are groups of one; the counters cover groups with copies.
        return (self.get("articles") - self.get("articles_with_copies")
                + self.get("dup_groups_with_copies"))

    @property
    def accounted(self) -> int:
        """Input units that ended as an article, a reject, or a skip of one already stored."""
        return (self.get("articles") + self.get("rejects")
                + self.get("skipped_already_stored") + self.get("rejects_already_stored"))

    @property
    def reject_fraction(self) -> float:
        """Rejects among this run's new rows (skips of stored input left out)."""
        new = self.get("articles") + self.get("rejects")
        return self.get("rejects") / new if new else 0.0

    def text(self) -> str:
        skipped = self.get("skipped_already_stored")
        stored_rejects = self.get("rejects_already_stored")
        lines = [
            f"read:       {self.get('input_units')} input units "
            f"({self.get('files_matched')} files matched)",
            f"articles:   {self.get('articles')} new"
            + (f" ({skipped} already in the output, skipped)" if skipped else ""),
            f"rejects:    {self.get('rejects')} new"
            + (f" ({stored_rejects} already recorded)" if stored_rejects else ""),
            f"dup groups: {self.dup_groups} "
            f"({self.get('dup_groups_with_copies')} with copies, "
            f"{self.get('articles_with_copies')} articles in them)",
            f"stories:    {self.get('stories')} new, {self.get('stories_extended')} extended "
            f"(largest: {self.largest_story} articles)",
        ]
        warnings = [
            (name, value) for name, value in sorted(self.counters.items())
            if value and (name.endswith("_unsettled") or name.endswith("_capped")
                          or name.endswith("_over_window"))
        ]
        lines += [f"note:       {name} = {value}" for name, value in warnings]
        if self.accounted != self.get("input_units"):
            lines.append(f"note:       {self.get('input_units')} input units read but "
                         f"{self.accounted} accounted for (articles + rejects + skipped)")
        return "\n".join(lines)


def run_summary(result) -> RunSummary:
    metrics = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    summary = RunSummary()
    for counter in metrics["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        name = counter.key.metric.name
        summary.counters[name] = summary.counters.get(name, 0) + (value or 0)
    for dist in metrics["distributions"]:
        if dist.key.metric.name == "story_size":
            value = dist.committed if dist.committed is not None else dist.attempted
            if value is not None and value.count:
                summary.largest_story = max(summary.largest_story, value.max)
    return summary


def print_stories(output: str, limit: int = 50, out=None) -> int:
    """Print the stories table of an output folder, largest stories first."""
    out = out or sys.stdout
    folder = os.path.join(output, "stories")
    if not os.path.isdir(folder):
        print(f"storywire: no stories table in {output!r} (expected {folder}/); "
              "run `storywire run --output DIR` first", file=sys.stderr)
        return 1
    rows = pq.read_table(folder).to_pylist()
    rows.sort(key=lambda r: (-r["article_count"], r["first_published_at"] is None,
                             r["first_published_at"] or 0, r["story_id"]))
    shown = rows if limit <= 0 else rows[:limit]
    header = ("story_id", "articles", "sources", "first published", "title")
    table = [header] + [
        (
            r["story_id"],
            str(r["article_count"]),
            str(r["source_count"]),
            r["first_published_at"].strftime("%Y-%m-%d %H:%M") if r["first_published_at"] else "-",
            _clip(r["title"] or "(no title)", 70),
        )
        for r in shown
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1], file=out)
    if len(shown) < len(rows):
        print(f"... {len(rows) - len(shown)} more stories (--limit 0 shows all)", file=out)
    print(f"{len(rows)} stories", file=out)
    return 0


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_schema(tables: list[str], out=None) -> int:
    """Print the columns of the named tables (all of them by default)."""
    from storywire.schemas import TABLES, describe

    out = out or sys.stdout
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        print(f"storywire schema: no table {unknown[0]!r} (tables: {', '.join(TABLES)})",
              file=sys.stderr)
        return 2
    for table in tables or list(TABLES):
        spec = TABLES[table]
        where = (f" (Hive-partitioned by {spec.partition_column})"
                 if spec.partition_column else "")
        print(f"{table}{where}", file=out)
        for name, type_, doc in describe(spec.schema):
            print(f"  {name:<22} {type_:<26} {doc}", file=out)
        print(file=out)
    return 0
