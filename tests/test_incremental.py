"""Runs into an output that already holds tables: new articles join the stories there."""

import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import FAST, SEEDS, rows, run, seed_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storywire.pipeline.cli import main
from storywire.transforms.write.parquet import (
    STAGING_DIR,
    commit_plan,
    commit_tables,
    recover_commits,
    table_files,
    write_parquet,
)
from storywire.transforms.write.parquet import (
    to_arrow as arrow_table,
)
from storywire.transforms.write.stored import (
    SavedStoredIds,
    StoredIds,
    id_key,
    id_keys,
)
from storywire.transforms.write.window import index_days


def inbox(tmp_path: Path, name: str, prefixes: list[str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for prefix in prefixes:
        (path,) = SEEDS.glob(f"{prefix}_*.txt")
        shutil.copy(path, folder / path.name)
    return folder


def by_seed(output: Path) -> dict[str, dict]:
    return {Path(r["input_uri"]).name[:3]: r for r in rows(output, "articles", "article_id")}


def test_second_run_joins_the_first_runs_story_and_a_third_adds_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    first_summary = run(capsys, "--input", str(inbox(tmp_path, "a", ["000", "001", "002"])),
                        "--output", str(out), *FAST)
    assert first_summary["articles"] == 3
    first = by_seed(out)
    (story,) = rows(out, "stories", "story_id")

    second_input = inbox(tmp_path, "b", ["003", "004"])
    second_summary = run(capsys, "--input", str(second_input), "--output", str(out), *FAST)
    assert (second_summary["articles"], second_summary["stories"],
            second_summary["extended"]) == (2, 0, 1)
    after = by_seed(out)
    assert sorted(after) == ["000", "001", "002", "003", "004"]
    assert {r["story_id"] for r in after.values()} == {story["story_id"]}
    assert sum(r["is_canonical"] for r in after.values()) == 1
    for seed, row in first.items():
        assert after[seed] == row  # nothing already written changed
    (extended,) = rows(out, "stories", "story_id")
    assert extended["article_count"] == 5
    assert extended["canonical_article_id"] == story["canonical_article_id"]

    files = sorted(p.relative_to(out) for p in out.rglob("*.parquet")
                   if p.parts[len(out.parts)] != "stories")
    third = run(capsys, "--input", str(second_input), "--output", str(out), *FAST)
    assert (third["articles"], third["skipped"], third["read"]) == (0, 2, 2)
    assert by_seed(out) == after
    assert rows(out, "stories", "story_id") == [extended]
    assert sorted(p.relative_to(out) for p in out.rglob("*.parquet")
                  if p.parts[len(out.parts)] != "stories") == files
    assert not (out / STAGING_DIR).exists()


def test_a_copy_in_a_later_run_joins_the_stored_dup_group_and_story(tmp_path, capsys):
    original = seed_text("000")
    copy = seed_text("001")
    out = tmp_path / "out"
    # The copy's id sorts after the original's, so the original, stored and linked to
    # nothing, represents the group.
    for name, record in (("day1", {"id": "a-orig", "published": "2024-10-28",
                                   "text": original}),
                         ("day2", {"id": "b-copy", "published": "2024-10-29", "text": copy})):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "feed.jsonl").write_text(json.dumps(record) + "\n")
        run(capsys, "--input", str(folder), "--output", str(out), *FAST)
    arts = {r["article_id"]: r for r in rows(out, "articles", "article_id")}
    assert arts["b-copy"]["dup_group_id"] == arts["a-orig"]["dup_group_id"]
    assert arts["b-copy"]["story_id"] == arts["a-orig"]["story_id"]
    assert (arts["a-orig"]["is_canonical"], arts["b-copy"]["is_canonical"]) == (True, False)


def test_rerun_records_each_reject_once(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "feed.jsonl").write_text(
        '{"id": "n1", "text": "The ferry to the island will run hourly from June, the '
        'operator said, after a new boat joined the fleet."}\n{not json\n')
    out = tmp_path / "out"
    first = run(capsys, "--input", str(folder), "--output", str(out), *FAST)
    assert (first["articles"], first["rejects"]) == (1, 1)
    second = run(capsys, "--input", str(folder), "--output", str(out), *FAST)
    assert (second["articles"], second["rejects"]) == (0, 0)
    assert (second["skipped"], second["rejects_stored"]) == (1, 1)
    assert len(rows(out, "rejects", "line")) == 1
    assert len(rows(out, "articles", "article_id")) == 1


PLACES = ["Harbour", "Riverside", "Hilltop", "Old Town", "Northgate", "Lakeside", "Westfield",
          "Eastbrook", "Southport", "Millbank", "Kingsway", "Greenhill", "Bayview", "Stonebridge"]


def feed_record(n: int) -> dict:
    """A record without an id; every other one has a url."""
    place = PLACES[n]
    record = {"title": f"{place} council votes on the new bus depot",
              "published": f"2025-03-{n + 1:02d}T09:00:00Z",
              "text": f"The council of {place} voted on Tuesday to build a bus depot near the "
                      f"station, after {n + 3} months of debate about noise and traffic."}
    if n % 2:
        record["url"] = f"https://news.example/{place.lower().replace(' ', '-')}/depot"
    return record


def write_feed(path: Path, numbers: list[int]) -> None:
    path.write_text("".join(json.dumps(feed_record(n)) + "\n" for n in numbers))


def test_a_feed_rewritten_between_runs_adds_exactly_its_new_records(tmp_path, capsys):
    # Feeds without ids are often rewritten, not appended: newest records on top, old ones
    # dropped. Each record keeps its id wherever it stands, so each is stored once.
    folder = tmp_path / "in"
    folder.mkdir()
    feed = folder / "feed.jsonl"
    out = tmp_path / "out"
    args = ["--input", str(folder), "--output", str(out), *FAST]

    write_feed(feed, list(range(3, 13)))
    first = run(capsys, *args)
    assert (first["articles"], first["rejects"]) == (10, 0)
    ids = {r["title"]: r["article_id"] for r in rows(out, "articles", "article_id")}

    write_feed(feed, [0, 1, 2, *range(3, 13)])  # three new records on top
    second = run(capsys, *args)
    assert (second["articles"], second["skipped"], second["rejects"]) == (3, 10, 0)
    assert [r["title"] for r in rows(out, "articles", "title")] == sorted(
        feed_record(n)["title"] for n in range(13))

    write_feed(feed, [13, 0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12])  # one new, record 6 deleted
    third = run(capsys, *args)
    assert (third["articles"], third["skipped"], third["rejects"]) == (1, 12, 0)

    stored = rows(out, "articles", "article_id")
    titles = [r["title"] for r in stored]
    assert sorted(titles) == sorted(feed_record(n)["title"] for n in range(14))
    assert len({r["article_id"] for r in stored}) == 14
    # The first run's records kept their ids and rows.
    assert {r["title"]: r["article_id"] for r in stored if r["title"] in ids} == ids
    assert rows(out, "rejects", "line") == []


def _stage(staging: Path, table: str, name: str, table_rows: list[dict]) -> tuple[str, str]:
    path = staging / table / name
    write_parquet(str(path), arrow_table(table, table_rows))
    return table, str(path)


REJECT = {"input_uri": "in.jsonl", "line": 1, "article_id": None, "stage": "parse",
          "reason": "invalid JSON", "excerpt": "{"}
STORY = {"story_id": "st-1", "canonical_article_id": "a", "title": None,
         "first_published_at": None, "last_published_at": None, "article_count": 1,
         "source_count": 0, "sources": []}


def test_a_commit_cut_short_is_finished_before_the_next_run(tmp_path):
    out = tmp_path / "out"
    old_staging = out / STAGING_DIR / "run-1"
    staged = [_stage(old_staging, "rejects", "part-run-1-00000-of-00001.parquet", [REJECT]),
              _stage(old_staging, "stories", "part-run-1-00000-of-00001.parquet", [STORY])]
    commit_plan(staged, str(old_staging), str(out), {}).apply()
    old_stories = table_files(str(out), "stories")

    staging = out / STAGING_DIR / "run-2"
    staged = [_stage(staging, "rejects", "part-run-2-00000-of-00001.parquet",
                     [{**REJECT, "line": 2}]),
              (*_stage(staging, "stories", "part-run-2-00000-of-00001.parquet",
                       [{**STORY, "article_count": 2}]), old_stories[0])]
    existing = {t: table_files(str(out), t) for t in ("rejects", "stories")}
    plan = commit_plan(staged, str(staging), str(out), existing)
    assert plan.deletes == old_stories  # the stories file is replaced, the rejects grow
    # The run dies after writing its plan and moving one file.

    (staging / "COMMIT.json").write_text(json.dumps(
        {"renames": plan.renames, "deletes": plan.deletes}))
    source, target = plan.renames[0]
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(source).rename(target)
    # Another run died before its commit: its files never become part of a table.
    _stage(out / STAGING_DIR / "run-3", "rejects", "part-run-3-00000-of-00001.parquet",
           [{**REJECT, "line": 3}])

    assert recover_commits(str(out)) == (1, 1)
    assert [r["line"] for r in rows(out, "rejects", "line")] == [1, 2]
    assert [r["article_count"] for r in rows(out, "stories", "story_id")] == [2]
    assert not (out / STAGING_DIR).exists()
    assert recover_commits(str(out)) == (0, 0)


@pytest.mark.parametrize("window, reach", [(3.0, 4), (0.5, 2)])
def test_index_days_cover_the_story_window(window, reach):
    days = index_days("2024-03-01", window)
    assert len(days) == 2 * reach + 1
    assert days[0] == f"2024-02-{29 - reach + 1:02d}" and "2024-03-01" in days


def test_a_retried_commit_changes_nothing(tmp_path):
    out = tmp_path / "out"
    first = out / STAGING_DIR / "run-1"
    commit_tables([_stage(first, "stories", "part-run-1-00000-of-00001.parquet", [STORY])],
                  str(first), str(out))
    staging = out / STAGING_DIR / "run-2"
    staged = [(*_stage(staging, "stories", "part-run-2-00000-of-00001.parquet",
                       [{**STORY, "article_count": 2}]), table_files(str(out), "stories")[0])]
    commit_tables(staged, str(staging), str(out))
    commit_tables(staged, str(staging), str(out))  # a runner retrying the step
    assert [r["article_count"] for r in rows(out, "stories", "story_id")] == [2]
    # Staged files gone without their run's files in the tables: refuse, change nothing.
    lost = out / STAGING_DIR / "run-3"
    with pytest.raises(FileNotFoundError):
        commit_tables([("stories", str(lost / "stories" / "part-run-3.parquet"))],
                      str(lost), str(out))
    assert [r["article_count"] for r in rows(out, "stories", "story_id")] == [2]


def current_stories(output: Path) -> dict[str, str]:
    """{article_id: current story_id}, read with DuckDB as the README tells users to."""
    rel = duckdb.sql(f"""
        SELECT article_id, arg_max(story_id, assigned_at) AS story_id
        FROM read_parquet('{output}/story_index/**/*.parquet', hive_partitioning=true)
        GROUP BY article_id""")
    return dict(rel.fetchall())


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(["000", "001", "002", "003", "004"]),
       cuts=st.sets(st.integers(1, 4), max_size=3))
# Undated reports in three runs, then the dated ones years before: they must still meet.
@example(order=["001", "004", "003", "000", "002"], cuts={1, 2, 3})
# The dated ones first, alone, then the undated ones, which meet them only by their keys.
@example(order=["000", "002", "004", "001", "003"], cuts={1, 2})
def test_the_seeds_are_one_story_whatever_order_and_runs_they_arrive_in(
        tmp_path_factory, capsys, order, cuts):
    base = tmp_path_factory.mktemp("seeds-in-runs")
    out = base / "out"
    bounds = [0, *sorted(cuts), 5]
    for n, (start, end) in enumerate(zip(bounds, bounds[1:])):
        run(capsys, "--input", str(inbox(base, f"run{n}", order[start:end])),
            "--output", str(out), *FAST)
    assert len(set(current_stories(out).values())) == 1, (order, bounds)
    (story,) = rows(out, "stories", "story_id")
    assert story["article_count"] == 5


def age_story_index(output: Path, day: str) -> None:
    """Make an output's story index look written on `day`: each row's ingestion and
    assignment moved to that day (keeping their order), in the partition of that day."""
    for path in sorted(output.glob("story_index/*/*.parquet")):
        table = pq.read_table(path, partitioning=None)
        when = datetime.fromisoformat(f"{day}T09:00:00+00:00")
        shift = pc.subtract(pc.min(table.column("ingested_at")),
                            pa.scalar(when, table.schema.field("ingested_at").type))
        for name in ("ingested_at", "assigned_at"):
            table = table.set_column(table.schema.get_field_index(name), name,
                                     pc.subtract(table.column(name), shift))
        folder = output / "story_index" / f"index_date={day}"
        folder.mkdir(exist_ok=True)
        pq.write_table(table, folder / path.name)
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()


def test_undated_reports_ingested_long_before_meet_a_dated_report_of_any_day(
        tmp_path, capsys):
    out = tmp_path / "out"
    run(capsys, "--input", str(inbox(tmp_path, "undated", ["001", "003", "004"])),
        "--output", str(out), *FAST)
    # Ingested months after the dated reports' days and months before this run's day: no
    # day this run reads holds them.
    age_story_index(out, "2025-06-01")
    run(capsys, "--input", str(inbox(tmp_path, "dated", ["000", "002"])),
        "--output", str(out), *FAST)
    assert len(set(current_stories(out).values())) == 1
    (story,) = rows(out, "stories", "story_id")
    assert story["article_count"] == 5


# Two reports of one event in words that barely meet, then two that share the words of
# both: alone, the first two are two stories; the later reports show they are one.
BRIDGE_EVENT = {
    "x": "Zorblat quintarian flooding closed the Vexmoor causeway. Zorblat engineers "
         "said the quintarian pumps at Vexmoor failed overnight.",
    "y": "Drumlish pellucid ferries halted at Quorrel harbour. Pellucid crews at Quorrel "
         "said Drumlish docks were underwater.",
    "z1": "Zorblat quintarian flooding at Vexmoor halted Drumlish pellucid ferries at "
          "Quorrel harbour; Vexmoor causeway and Quorrel docks underwater.",
    "z2": "Vexmoor causeway shut by Zorblat quintarian flooding as Drumlish pellucid "
          "ferries stay in Quorrel harbour, engineers and crews said.",
}


def write_records(folder: Path, ids: list[str]) -> Path:
    folder.mkdir()
    path = folder / "feed.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": BRIDGE_EVENT[i]}) + "\n"
                            for i in ids), encoding="utf-8")
    return path


def test_later_reports_merge_two_stories_and_the_tables_record_it(tmp_path, capsys):
    out = tmp_path / "out"
    run(capsys, "--input", str(write_records(tmp_path / "a", ["x", "y"])),
        "--output", str(out), *FAST)
    first = {r["article_id"]: r for r in rows(out, "articles", "article_id")}
    assert first["x"]["story_id"] != first["y"]["story_id"]

    assert main(["run", "--input", str(write_records(tmp_path / "b", ["z1", "z2"])),
                 "--output", str(out), *FAST]) == 0
    summary = capsys.readouterr().out
    assert "1 earlier articles moved to another story, 1 earlier stories merged" in summary
    current = current_stories(out)
    assert len(set(current.values())) == 1
    # The articles table keeps each article's story as first given; the story index
    # holds the move, and the stories table the story as it is now.
    after = {r["article_id"]: r for r in rows(out, "articles", "article_id")}
    assert {i: after[i] for i in first} == first
    moved = [i for i in first if current[i] != first[i]["story_id"]]
    assert len(moved) == 1
    (story,) = rows(out, "stories", "story_id")
    assert (story["story_id"], story["article_count"]) == (current["x"], 4)
    # The move sits beside the article's first row, in its one partition of the index:
    # a later run looks for an article's rows only where its story's rows are.
    assert duckdb.sql(f"""
        SELECT article_id, count(*), count(DISTINCT coalesce(CAST(index_date AS VARCHAR), ''))
        FROM read_parquet('{out}/story_index/**/*.parquet', hive_partitioning=true)
        GROUP BY article_id HAVING count(*) > 1""").fetchall() == [(moved[0], 2, 1)]


def stories_table(output: Path) -> list[tuple]:
    """The stories table as DuckDB reads it."""
    return duckdb.sql(f"""
        SELECT story_id, canonical_article_id, article_count, source_count
        FROM read_parquet('{output}/stories/*.parquet') ORDER BY story_id""").fetchall()


def stories_of_index(output: Path) -> list[tuple]:
    """The stories table as the story index says it should be: each story's current
    articles, counted with DuckDB."""
    return duckdb.sql(f"""
        WITH current AS (
            SELECT article_id, arg_max(story_id, assigned_at) AS story_id
            FROM read_parquet('{output}/story_index/**/*.parquet', hive_partitioning=true)
            GROUP BY article_id)
        SELECT story_id, count(*) FROM current GROUP BY story_id ORDER BY story_id
        """).fetchall()


def test_the_stories_table_follows_the_index_as_runs_touch_some_stories(tmp_path, capsys):
    out = tmp_path / "out"
    feeds = [inbox(tmp_path, "seeds1", ["000", "001"]),
             write_records(tmp_path / "bridge1", ["x", "y"]),
             write_records(tmp_path / "bridge2", ["z1"]),
             inbox(tmp_path, "seeds2", ["002"])]
    for feed in feeds:
        run(capsys, "--input", str(feed), "--output", str(out), *FAST)
        table = stories_table(out)
        assert [(s, n) for s, _, n, _ in table] == stories_of_index(out), feed.name
    # The seeds' story, untouched by the bridge runs, kept its row; x and y are one story.
    assert sorted(n for _, _, n, _ in table) == [3, 3]

    # An output whose story index has no stories table beside it (as a stream writes
    # one): the next run makes the table whole, not only the stories it touches.
    shutil.rmtree(out / "stories")
    run(capsys, "--input", str(inbox(tmp_path, "seeds3", ["003"])), "--output", str(out),
        *FAST)
    assert [(s, n) for s, _, n, _ in stories_table(out)] == stories_of_index(out)
    assert sorted(n for _, _, n, _ in stories_table(out)) == [3, 4]


def test_an_output_keeps_the_language_its_stories_were_weighed_in(tmp_path, capsys):
    out = tmp_path / "out"
    feed = inbox(tmp_path, "a", ["000", "001"])
    run(capsys, "--input", str(feed), "--output", str(out), *FAST)
    # Another main language would give the same articles vectors that match no stored one.
    assert main(["run", "--input", str(inbox(tmp_path, "b", ["002"])), "--output", str(out),
                 "--language", "de", *FAST]) == 2
    assert "--language en" in capsys.readouterr().err
    assert len(rows(out, "articles", "article_id")) == 2
    summary = run(capsys, "--input", str(inbox(tmp_path, "c", ["002"])), "--output", str(out),
                  "--language", "en", *FAST)
    assert (summary["articles"], summary["extended"]) == (1, 1)


def test_a_reject_goes_when_a_later_run_makes_its_record_an_article(tmp_path, capsys):
    # A record rejected once (here: too short; a page that timed out under load alike)
    # and an article later kept both rows: the rejects table said it did not get in.
    def feed(name: str, records: list[dict]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return path

    out = tmp_path / "out"
    first = feed("a.jsonl", [{"id": "x", "text": "Bridge closed."},
                             {"id": "y", "text": "Tram late."},
                             {"id": "z", "text": seed_text("000")}])
    summary = run(capsys, "--input", str(first), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["articles"], summary["rejects"]) == (1, 2)
    later = feed("b.jsonl", [{"id": "x", "text": seed_text("001")}])
    summary = run(capsys, "--input", str(later), "--output", str(out), *FAST)
    assert (summary["articles"], summary["rejects"], summary["rejects_cleared"]) == (1, 0, 1)
    assert [r["article_id"] for r in rows(out, "rejects", "article_id")] == ["y"]
    assert [a["article_id"] for a in rows(out, "articles", "article_id")] == ["x", "z"]
    # The same input again: nothing changes.
    summary = run(capsys, "--input", str(later), "--output", str(out), *FAST)
    assert (summary["skipped"], summary["rejects_cleared"]) == (1, 0)
    assert [r["article_id"] for r in rows(out, "rejects", "article_id")] == ["y"]


def test_a_reject_made_in_reading_goes_when_its_file_is_read_without_it(tmp_path, capsys):
    # An empty feed file and a line that was not JSON are rejects without an article id.
    # They stayed after the file got records and the line was mended or removed, as did an
    # empty .txt file's beside the reject of the words it later held: the rejects table
    # said that input had not got in, or was what it no longer is.
    def lines(*records) -> str:
        return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)

    out, feeds = tmp_path / "out", tmp_path / "feeds"
    feeds.mkdir()
    first = {"id": "a", "text": seed_text("000")}
    (feeds / "empty.jsonl").write_text("")
    (feeds / "broken.jsonl").write_text(lines(first, '{"id": "c", "text": '))
    (feeds / "still.jsonl").write_text("")  # stays empty: its reject stays
    (feeds / "cut.jsonl").write_text(lines({"id": "d", "text": seed_text("003")}, "{oops"))
    (feeds / "note.txt").write_text("")
    summary = run(capsys, "--input", str(feeds), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["articles"], summary["rejects"]) == (2, 5)

    (feeds / "empty.jsonl").write_text(lines({"id": "b", "text": seed_text("001")}))
    (feeds / "broken.jsonl").write_text(lines(first, {"id": "c", "text": seed_text("002")}))
    (feeds / "cut.jsonl").write_text(lines({"id": "d", "text": seed_text("003")}))  # removed
    (feeds / "note.txt").write_text("Bridge closed.")
    summary = run(capsys, "--input", str(feeds), "--output", str(out), *FAST)
    assert (summary["articles"], summary["rejects"], summary["rejects_read"]) == (2, 1, 4)
    assert summary["rejects_stored"] == 1
    left = [(Path(r["input_uri"]).name, r["line"], r["stage"], r["reason"][:13])
            for r in rows(out, "rejects", "input_uri")]
    assert sorted(left) == [("note.txt", None, "clean", "only 2 word(s"),
                            ("still.jsonl", None, "read", "empty file")]
    assert [a["article_id"] for a in rows(out, "articles", "article_id")] == [
        "a", "b", "c", "d"]

    # The same input again: nothing changes.
    summary = run(capsys, "--input", str(feeds), "--output", str(out), *FAST)
    assert (summary["skipped"], summary["rejects_read"], summary["rejects_cleared"]) == (4, 0, 0)
    assert (summary["rejects"], summary["rejects_stored"]) == (0, 2)
    assert len(rows(out, "rejects", "input_uri")) == 2


def test_a_reject_made_again_for_another_reason_says_the_new_one(tmp_path, capsys):
    # An empty file that then held only white space, and a line that was not JSON that
    # then was JSON but no object: the same input, rejected at the same stage, for another
    # reason. The rejects table kept the first reason.
    out, feeds = tmp_path / "out", tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "note.txt").write_text("")
    (feeds / "feed.jsonl").write_text(json.dumps({"id": "a", "text": seed_text("000")})
                                      + "\n{oops\n")
    run(capsys, "--input", str(feeds), "--output", str(out), *FAST, "--max_reject_fraction", "1")

    def reasons() -> list[tuple]:
        return sorted((Path(r["input_uri"]).name, r["line"], r["stage"], r["reason"])
                      for r in rows(out, "rejects", "input_uri"))

    before = reasons()
    (feeds / "note.txt").write_text(" \n\t\n")
    (feeds / "feed.jsonl").write_text(json.dumps({"id": "a", "text": seed_text("000")})
                                      + "\n[1, 2]\n")
    summary = run(capsys, "--input", str(feeds), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    # Two new rows, each replacing the row of an earlier run: said, not counted as removed.
    assert (summary["rejects"], summary["rejects_stored"]) == (2, 0)
    assert (summary["rejects_new_reason"], summary["rejects_read"]) == (2, 0)
    after = reasons()
    assert [(name, line, stage) for name, line, stage, _ in after] == [
        (name, line, stage) for name, line, stage, _ in before]
    assert after[1][3] == "file holds only white space"
    assert after[0][3] != before[0][3] and "object" in after[0][3]

    # The same input again: the rows stand.
    summary = run(capsys, "--input", str(feeds), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["rejects"], summary["rejects_stored"]) == (0, 2)
    assert summary["rejects_new_reason"] == 0
    assert reasons() == after


def test_a_reject_made_in_reading_stays_though_its_id_became_an_article(tmp_path, capsys):
    # A line without text is rejected in reading, whatever became of its id: it was
    # removed when another file made that id an article, and the next run over the same
    # input wrote it again, as a new reject.
    out = tmp_path / "out"
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"id": "y", "text": seed_text("001")}) + "\n"
        + json.dumps({"url": "https://example.com/x"}) + "\n")
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"url": "https://example.com/x", "text": seed_text("000")}) + "\n")
    summary = run(capsys, "--input", str(tmp_path / "a.jsonl"), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["articles"], summary["rejects"]) == (1, 1)
    both = ["--input", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    summary = run(capsys, *both, "--output", str(out), *FAST, "--max_reject_fraction", "1")
    assert (summary["articles"], summary["rejects_cleared"], summary["rejects_stored"]) == (
        1, 0, 1)
    summary = run(capsys, *both, "--output", str(out), *FAST)
    assert (summary["rejects"], summary["rejects_stored"], summary["skipped"]) == (0, 1, 2)
    assert [r["stage"] for r in rows(out, "rejects", "line")] == ["parse"]


def test_the_language_an_output_asks_for_is_one_the_option_takes(tmp_path, monkeypatch):
    # Settings written by hand with another code of a language ("no" for Norwegian): the
    # advice names the code --language takes ("nb"), not one it refuses.
    from storywire.pipeline.options import OptionsError, check_settings, pipeline_options
    from storywire.transforms.write import settings

    (tmp_path / "_storywire.json").write_text('{"language": "no"}')
    monkeypatch.setattr(settings, "_holds_stories", lambda output: True)
    problem = settings.language_problem(str(tmp_path), "en")
    assert problem.endswith("Run with --language nb, or write to a new --output")
    check_settings(pipeline_options(["--language", "nb"]))
    with pytest.raises(OptionsError):
        check_settings(pipeline_options(["--language", "no"]))


def test_an_output_that_stored_no_article_takes_the_next_runs_language(tmp_path, capsys):
    # A first run over a mistyped --input stored nothing but its language, and a run with
    # --language de was then refused, though no story had been weighed in English.
    out = tmp_path / "out"
    assert main(["run", "--input", str(tmp_path / "typo"), "--output", str(out), *FAST]) == 1
    capsys.readouterr()
    summary = run(capsys, "--input", str(inbox(tmp_path, "a", ["000"])), "--output", str(out),
                  "--language", "de", *FAST)
    assert summary["articles"] == 1
    assert json.loads((out / "_storywire.json").read_text()) == {"language": "de"}
    assert main(["run", "--input", str(inbox(tmp_path, "b", ["001"])), "--output", str(out),
                 *FAST]) == 2  # now it holds stories weighed in German
    assert "--language de" in capsys.readouterr().err


def test_a_damaged_settings_file_stops_the_run_and_is_kept(tmp_path, capsys):
    # It was taken as "no language said" and overwritten: an output weighed in German was
    # silently continued in English. A folder in its place gave a traceback.
    out = tmp_path / "out"
    run(capsys, "--input", str(inbox(tmp_path, "a", ["000"])), "--output", str(out),
        "--language", "de", *FAST)
    settings_file = out / "_storywire.json"
    assert json.loads(settings_file.read_text()) == {"language": "de"}
    later = inbox(tmp_path, "b", ["001"])
    for damaged, says in [('{"langu', "Unterminated string"), ("[1, 2]", "it holds [1, 2]"),
                          ('{"language": 5}', 'it holds {"language": 5}'),
                          ("", "Expecting value"),
                          ('{"language": "xx"}', "its language 'xx' has no word frequencies")]:
        settings_file.write_text(damaged)
        assert main(["run", "--input", str(later), "--output", str(out), *FAST]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"storywire run: {settings_file} is not a settings file this "
                               "version of storywire wrote") and says in line, (damaged, line)
        assert 'write {"language": "CODE"} into it' in line
        assert settings_file.read_text() == damaged
    settings_file.unlink()
    settings_file.mkdir()
    assert main(["run", "--input", str(later), "--output", str(out), *FAST]) == 2
    assert "is not a settings file" in capsys.readouterr().err
    settings_file.rmdir()
    settings_file.write_text('{"language": "de"}')
    summary = run(capsys, "--input", str(later), "--output", str(out), "--language", "de",
                  *FAST)
    assert summary["articles"] == 1
    assert len(rows(out, "articles", "article_id")) == 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=60, unique=True), st.lists(st.text(max_size=40)))
def test_stored_ids_tell_each_stored_id_and_no_other(stored, others):
    # Split over the arrays of several stored files, as the run reads them.
    ids = StoredIds([id_keys(stored[:len(stored) // 2]), id_keys(stored[len(stored) // 2:])])
    assert len(ids) == len(stored)
    assert all(i in ids for i in stored)
    assert not any(o in ids for o in others if o not in stored)


def test_stored_ids_whose_key_ends_in_zero_bytes_are_found():
    # NumPy drops trailing zero bytes of an item taken out of the array: not compared so.
    ending_in_zero = next(f"id{i}" for i in range(100_000) if id_key(f"id{i}").endswith(b"\0"))
    ids = StoredIds([id_keys([ending_in_zero, "other", "\udcff surrogate"])])
    assert ending_in_zero in ids and "\udcff surrogate" in ids
    assert "id" not in ids
    assert "x" not in StoredIds([])


def test_the_ids_a_run_in_parts_keeps_are_the_stored_ones_at_each_update(tmp_path, capsys):
    # A run in parts keeps the stored ids in a file that each part skips, brought up to
    # date before each part from the files added since.
    out, feed = tmp_path / "out", tmp_path / "feed.jsonl"
    saved = SavedStoredIds(str(out), str(tmp_path / "ids.npy"))
    assert saved.update() == 0  # nothing stored yet
    assert len(StoredIds.load(saved.path)) == 0
    feed.write_text(json.dumps({"url": "https://example.org/a", "title": "A",
                                "text": seed_text("003")}) + "\n")
    for input_path in (SEEDS, feed):
        assert run(capsys, "--input", str(input_path), "--output", str(out), *FAST)["articles"]
        stored = [r["article_id"] for r in rows(out, "articles", "article_id")]
        assert saved.update() == len(stored)
        ids = StoredIds.load(saved.path)
        assert len(ids) == len(stored) and all(i in ids for i in stored)
    assert len(stored) == 6 and "not an article id" not in ids


def test_an_input_path_that_matched_nothing_loses_its_reject_once_it_matches(tmp_path,
                                                                              capsys):
    # A pattern or folder that named no file kept its "matched no files" reject after it
    # named files: the reject is of the path as given, the spans of the files it names.
    out, feeds = tmp_path / "out", tmp_path / "feeds"
    feeds.mkdir()
    paths = [str(feeds / "*.jsonl"), str(feeds / "later")]
    assert main(["run", "--input", *paths, "--output", str(out), *FAST]) == 1  # no article
    assert len(rows(out, "rejects", "input_uri")) == 2
    capsys.readouterr()
    (feeds / "a.jsonl").write_text(json.dumps({"id": "a", "text": seed_text("000")}) + "\n")
    (feeds / "later").mkdir()
    (feeds / "later" / "b.txt").write_text(seed_text("001"))
    summary = run(capsys, "--input", *paths, "--output", str(out), *FAST)
    assert (summary["articles"], summary["rejects_read"]) == (2, 2)
    assert rows(out, "rejects", "input_uri") == []
    # A path that names nothing again is a reject again; the lines of a file stand.
    (feeds / "a.jsonl").write_text("{oops\n")
    (feeds / "later" / "b.txt").unlink()
    assert main(["run", "--input", *paths, "--output", str(out), *FAST]) == 1  # no article
    assert "no article came out of 2 input units" in capsys.readouterr().err
    assert sorted((Path(r["input_uri"]).name, r["line"], r["stage"])
                  for r in rows(out, "rejects", "input_uri")) == [
        ("a.jsonl", 1, "parse"), ("later", None, "match")]


def test_a_read_span_covers_the_rejects_of_what_was_read():
    from storywire.transforms.records import ReadSpan
    from storywire.transforms.write.rejects import read_again

    def row(line):
        return {"input_uri": "feed.jsonl", "line": line, "article_id": None, "stage": "parse"}

    whole = ReadSpan("feed.jsonl", from_start=True)
    assert whole.covers(None) and whole.covers(7)
    part = ReadSpan("feed.jsonl", 10, 19)
    assert [part.covers(line) for line in (None, 9, 10, 19, 20)] == [False, False, True,
                                                                       True, False]
    assert ReadSpan("feed.jsonl", 20).covers(10**9)  # the last part: to the end
    assert read_again([part], [row(None), row(12), row(25)]) == [
        ("feed.jsonl", 12, None, "parse")]
    assert read_again([part, ReadSpan("feed.jsonl", 20)], [row(25)]) == [
        ("feed.jsonl", 25, None, "parse")]
    assert read_again([], [row(12)]) == []
    assert read_again([ReadSpan("feed.jsonl", 1, 9, from_start=True)], [row(None)]) == [
        ("feed.jsonl", None, None, "parse")]
    # A path looked up covers a reject of the whole of it, none of its lines.
    assert read_again([ReadSpan.looked_up("feed.jsonl")], [row(None), row(1), row(12)]) == [
        ("feed.jsonl", None, None, "parse")]


def test_the_parts_of_a_big_jsonl_file_cover_its_lines_once(tmp_path):
    from storywire.transforms.read.inputs import file_chunks

    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(b'{"id": "%d", "text": "%s"}\n' % (i, b"x" * 200)
                              for i in range(1000)))
    spans = [chunk.span("jsonl") for chunk in file_chunks(str(path), path.stat().st_size,
                                                          chunk_bytes=20_000)]
    assert len(spans) > 5 and not any(span.whole for span in spans)
    for line in (1, 500, 1000):
        assert sum(span.covers(line) for span in spans) == 1
    assert spans[-1].last is None
    # A reject of the whole file (an empty file's, before it grew) is of its first part.
    assert [span.covers(None) for span in spans] == [True] + [False] * (len(spans) - 1)
