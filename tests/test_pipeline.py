"""The whole pipeline through Beam, output read back with DuckDB and Polars as users do."""

import contextlib
import gzip
import io
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import FAST, FIXTURES, SEEDS, rows, run

from storywire.pipeline.cli import main
from storywire.schemas import ARTICLES, REJECTS, STORIES


@pytest.fixture(scope="module")
def seeds_output(tmp_path_factory):
    """One run on the seeds with the default runner (worker processes on every core)."""
    out = tmp_path_factory.mktemp("seeds") / "output"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["run", "--input", str(SEEDS), "--output", str(out)]) == 0
    return out, buffer.getvalue()


def by_seed(output: Path) -> dict[str, dict]:
    return {Path(r["input_uri"]).name[:3]: r for r in rows(output, "articles", "input_uri")}


def test_seeds_make_five_articles_and_one_story(seeds_output):
    out, summary = seeds_output
    seeds = by_seed(out)
    assert sorted(seeds) == ["000", "001", "002", "003", "004"]
    assert len({r["story_id"] for r in seeds.values()}) == 1
    assert sum(r["is_canonical"] for r in seeds.values()) == 1
    assert seeds["000"]["dup_group_id"] == seeds["001"]["dup_group_id"]
    assert seeds["002"]["dup_group_id"] != seeds["000"]["dup_group_id"]
    assert len({r["dup_group_id"] for r in seeds.values()}) == 4
    for line in ("articles:   5", "rejects:    0", "stories:    1", "dup groups: 4"):
        assert line in summary


def test_seed_metadata_and_clean_text(seeds_output):
    out, _ = seeds_output
    seeds = by_seed(out)
    assert seeds["001"]["title"].startswith("North Korea Has Sent 10,000 Troops")
    assert seeds["002"]["title"] == "North Korea Sent 10,000 Troops To Train In Russia, US Says"
    assert seeds["003"]["title"] == "Pentagon: 10,000 North Korean troops deployed to Russia"
    assert str(seeds["000"]["published_at"].date()) == "2024-10-28"
    assert str(seeds["002"]["published_at"].date()) == "2024-10-29"
    assert str(seeds["000"]["published_date"]) == "2024-10-28"
    assert seeds["001"]["published_date"] is None  # the no-date partition reads as NULL
    assert seeds["000"]["date_source"] == seeds["002"]["date_source"] == "text"
    assert seeds["001"]["date_source"] is None
    assert {r["language"] for r in seeds.values()} == {"en"}
    text = seeds["001"]["text"]
    for furniture in ("READ ALSO", "Recent Posts", "Disqus", "Tags:", "mins ago"):
        assert furniture not in text
    # The page has a non-breaking space there; the stored text keeps it.
    assert "Deputy Pentagon\u00a0Press Secretary Sabrina Singh told journalists" in text
    assert "\n\n" in text  # paragraphs kept


def test_canonical_article_and_stories_table(seeds_output):
    out, _ = seeds_output
    seeds = by_seed(out)
    (story,) = rows(out, "stories", "story_id")
    canonical = next(r for r in seeds.values() if r["is_canonical"])
    # Earliest published wins: seed 000, dated 2024-10-28.
    assert canonical["input_uri"].endswith(next(SEEDS.glob("000_*.txt")).name)
    assert story["canonical_article_id"] == canonical["article_id"]
    assert story["story_id"] == canonical["story_id"]
    assert story["article_count"] == 5
    assert story["title"] == seeds["002"]["title"]  # 000 has none; 002 is next in time
    assert str(story["first_published_at"].date()) == "2024-10-28"
    assert str(story["last_published_at"].date()) == "2024-10-29"
    assert rows(out, "rejects", "input_uri") == []


def test_tables_have_the_schemas_and_portable_types(seeds_output):
    out, _ = seeds_output
    files = list((out / "articles").rglob("*.parquet"))
    assert files and all(f.parent.name.startswith("published_date=") for f in files)
    assert pq.read_schema(files[0]).remove_metadata().equals(ARTICLES.remove_metadata())
    assert pq.read_schema(next((out / "stories").glob("*.parquet"))).remove_metadata().equals(
        STORIES.remove_metadata())
    assert pq.read_schema(next((out / "rejects").glob("*.parquet"))).remove_metadata().equals(
        REJECTS.remove_metadata())
    assert pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    frame = pl.read_parquet(out / "articles" / "**" / "*.parquet", hive_partitioning=True)
    assert frame.height == 5
    assert frame.schema["published_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["simhash"] == pl.Int64
    assert not (out / "_staging").exists()


def test_stories_command_prints_the_table(seeds_output, capsys):
    out, _ = seeds_output
    assert main(["stories", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "North Korea Sent 10,000 Troops To Train In Russia, US Says" in printed
    assert "1 stories" in printed


def test_jsonl_records_and_rejects(tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "records.jsonl").write_bytes((FIXTURES / "records.jsonl").read_bytes())
    (inbox / "notes.md").write_text("not an article format")
    (inbox / "pages").mkdir()
    (inbox / "pages" / "library.html").write_bytes((FIXTURES / "page.html").read_bytes())
    with gzip.open(inbox / "pages" / "more.jsonl.gz", "wt") as handle:
        handle.write('{"id": "g1", "text": "The ferry to the island will run hourly from '
                     'June, the operator said, after a new boat joined the fleet."}\n')
    out = tmp_path / "out"
    # Six of the ten input units are bad: over the default --max_reject_fraction (0.5).
    args = ["run", "--input", str(inbox), str(tmp_path / "missing"), "--output", str(out), *FAST]
    assert main(args) == 3
    assert "6 of 10 new rows are rejects (60%" in capsys.readouterr().err
    shutil.rmtree(out)
    summary = run(capsys, *args[1:], "--max_reject_fraction", "0.7")
    arts = {r["article_id"]: r for r in rows(out, "articles", "article_id")}
    library = arts.pop(next(k for k, v in arts.items() if v["input_uri"].endswith(".html")))
    assert library["title"] == "Library reopens after flood repairs"
    assert library["source"] == "Valley Gazette"
    assert library["author"] == "Sam Ortiz"
    assert library["site_name"] == "Valley Gazette"
    assert library["language"] == "en"  # <html lang="en">
    assert library["date_source"] == "html"
    assert arts["r1"]["date_source"] == "record"
    assert str(library["published_at"]) == "2025-05-06 12:30:00+00:00"
    assert library["text"].startswith("The central library reopened on Tuesday")
    assert "Most read" not in library["text"] and "Privacy" not in library["text"]
    assert arts.pop("g1")["line"] == 1
    assert sorted(arts) == ["r1", "r2"]
    assert arts["r1"]["source"] == "City News"
    assert arts["r1"]["title"] == "Night buses to run to the airport"
    assert str(arts["r1"]["published_at"]) == "2025-02-03 07:15:00+00:00"  # stored as UTC
    assert arts["r1"]["line"] == 1
    assert arts["r1"]["text"].startswith("The city council voted on Tuesday")  # kept, not the copy
    assert "The harbour bridge will close" in arts["r2"]["text"]
    assert "Copyright" not in arts["r2"]["text"]
    assert arts["r2"]["source"] == "harbour.example"
    rejects = rows(out, "rejects", "input_uri, line")
    reasons = {(Path(r["input_uri"]).name, r["line"], r["stage"]): r["reason"] for r in rejects}
    assert set(reasons) == {
        ("missing", None, "match"),
        ("notes.md", None, "read"),
        ("records.jsonl", 4, "parse"),
        ("records.jsonl", 5, "parse"),
        ("records.jsonl", 6, "parse"),
        ("records.jsonl", 7, "dedupe"),
    }
    assert "invalid JSON" in reasons[("records.jsonl", 4, "parse")]
    assert "duplicate article_id 'r1'" in reasons[("records.jsonl", 7, "dedupe")]
    # Every input unit ends as exactly one row: an article or a reject.
    assert summary["read"] == summary["articles"] + summary["rejects"] == 10


def test_single_process_and_multi_process_runs_agree(seeds_output, tmp_path, capsys):
    multi, _ = seeds_output
    single = tmp_path / "single"
    run(capsys, "--input", str(SEEDS), "--output", str(single), *FAST)
    keep = ("article_id", "simhash", "content_hash", "dup_group_id", "story_id", "is_canonical",
            "text", "title", "published_at")
    assert [{k: r[k] for k in keep} for r in rows(single, "articles", "article_id")] == [
        {k: r[k] for k in keep} for r in rows(multi, "articles", "article_id")]


def test_schema_command_lists_every_column(capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    for schema in (ARTICLES, STORIES, REJECTS):
        for name in schema.names:
            assert f"  {name} " in printed, name
    assert "articles (Hive-partitioned by published_date)" in printed
    assert main(["schema", "nope"]) == 2


def test_clear_errors_for_an_unwritable_output_and_no_articles(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "--input", str(SEEDS), "--output", str(blocker / "out"), *FAST]) == 2
    assert "cannot write to --output" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["run", "--input", str(tmp_path / "missing"), "--output", str(out), *FAST]) == 1
    err = capsys.readouterr().err
    assert "no article came out of 1 input units" in err
    assert rows(out, "rejects", "input_uri")[0]["reason"] == "input path matched no files"
