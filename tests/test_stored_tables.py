"""Tables written by another version of storywire, or damaged, are found before a run
changes anything: one line naming the file and what is wrong, exit status 2."""

import hashlib
import tempfile
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FAST, SEEDS

from storywire.pipeline.cli import main
from storywire.schemas import schema_problem
from storywire.transforms.write.stored import (
    StoredTableError,
    current_story_ids,
    read_matching,
    read_rows,
)


@pytest.fixture
def output(tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS / "000_b732d28f0e6528e7.txt"), "--output",
                 str(out), "--quiet", *FAST]) == 0
    return out


def fingerprint(output: Path) -> dict[str, str]:
    return {str(p.relative_to(output)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(output.rglob("*.parquet"))}


def rewrite(path: Path, change) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def refused(capsys, output: Path) -> str:
    before = fingerprint(output)
    assert main(["run", "--input", str(SEEDS), "--output", str(output), *FAST]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert fingerprint(output) == before  # the tables untouched
    assert list(Path(tempfile.gettempdir()).glob("beam-*")) == []  # nor Beam's temp folders
    return lines[0]


def test_an_articles_file_missing_an_optional_column(output, capsys):
    (path,) = output.glob("articles/*/*.parquet")
    rewrite(path, lambda t: t.drop_columns(["date_source"]))
    line = refused(capsys, output)
    assert str(path) in line and "column date_source is missing" in line
    assert "another version of storywire, or damaged" in line


def test_a_story_index_file_whose_pages_are_damaged_behind_a_sound_footer(output, capsys):
    # Filed under a day far from every new article's: the undated ones read it all the same.
    (path,) = output.glob("story_index/*/*.parquet")
    far = output / "story_index" / "index_date=2019-01-01" / path.name
    far.parent.mkdir()
    path.rename(far)
    path.parent.rmdir()
    column = next(c for c in (pq.ParquetFile(far).metadata.row_group(0).column(i)
                              for i in range(pq.ParquetFile(far).metadata.num_columns))
                  if c.path_in_schema == "story_vector")
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(far.read_bytes())
    data[start:start + column.total_compressed_size] = bytes(
        b ^ 0x5A for b in data[start:start + column.total_compressed_size])
    far.write_bytes(bytes(data))
    # The footer passes the check before the run; the run finds the damage and stops.
    before = fingerprint(output)
    assert main(["run", "--input", str(SEEDS), "--output", str(output), *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("storywire run: ")]
    assert str(far) in line and "not a readable Parquet file" in line
    assert fingerprint(output) == before


def test_a_story_index_file_with_a_column_of_another_type(output, capsys):
    (path,) = output.glob("story_index/*/*.parquet")
    rewrite(path, lambda t: t.set_column(t.schema.get_field_index("simhash"), "simhash",
                                         t.column("simhash").cast(pa.string())))
    assert "column simhash is string, not int64" in refused(capsys, output)


def test_a_stories_file_that_is_not_parquet(output, capsys):
    (path,) = output.glob("stories/*.parquet")
    path.write_bytes(b"PAR1 this is not what it seems")
    assert "not a readable Parquet file" in refused(capsys, output)
    assert main(["stories", str(output)]) == 2
    assert "not a readable Parquet file" in capsys.readouterr().err


def _emptied(table: pa.Table, name: str) -> pa.Table:
    index = table.schema.get_field_index(name)
    type_ = table.schema.field(index).type
    return table.set_column(index, pa.field(name, type_), pa.nulls(table.num_rows, type_))


def test_a_stories_file_with_empty_story_ids(output, capsys):
    (path,) = output.glob("stories/*.parquet")
    pq.write_table(_emptied(pq.read_table(path), "story_id"), path)
    expected = "column story_id has 1 empty value, where the table allows none"
    assert expected in refused(capsys, output)
    assert main(["stories", str(output)]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("table, column", [("story_index", "article_id"),
                                           ("articles", "text"), ("stories", "sources")])
def test_empty_values_the_footer_does_not_count_are_found_before_the_run(
        output, capsys, table, column):
    # Written without statistics, or a list column (the footer counts its items).
    (path,) = output.glob(f"{table}/**/*.parquet")
    pq.write_table(_emptied(pq.read_table(path, partitioning=None), column), path,
                   write_statistics=False)
    assert f"column {column} has 1 empty value" in refused(capsys, output)
    with pytest.raises(StoredTableError, match=f"column {column} has 1 empty value"):
        read_rows(str(path), table)


def test_a_file_with_a_column_of_no_table(output, capsys):
    (path,) = output.glob("rejects/*.parquet")
    rewrite(path, lambda t: t.append_column("note", pa.array([], pa.string())))
    assert "column note is not a column of the rejects table" in refused(capsys, output)


def test_the_current_schema_has_no_problem_and_workers_check_what_they_read(output):
    for table in ("articles", "stories", "rejects", "story_index"):
        for path in output.glob(f"{table}/**/*.parquet"):
            assert schema_problem(table, pq.read_schema(path)) is None
            assert isinstance(read_rows(str(path), table), list)
    (path,) = output.glob("articles/*/*.parquet")
    rewrite(path, lambda t: t.drop_columns(["language"]))
    with pytest.raises(StoredTableError, match="column language is missing"):
        read_rows(str(path), "articles", ["article_id"])


@pytest.mark.parametrize("name", ["out[1]", "G*3", "why?"])
def test_an_output_named_like_a_glob_is_its_own_folder(tmp_path, capsys, name):
    out = tmp_path / name
    seed = str(SEEDS / "000_b732d28f0e6528e7.txt")
    for _ in range(2):
        assert main(["run", "--input", seed, "--output", str(out), "--quiet", *FAST]) == 0
    assert "1 already in the output, skipped" in capsys.readouterr().out
    assert main(["stories", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith("1 stories")
    assert not (out / "_staging").exists()


def test_a_table_missing_beside_the_others(output, capsys):
    import shutil

    shutil.rmtree(output / "story_index")
    assert "story_index: has no file, while the other tables have theirs" in refused(
        capsys, output)


@pytest.mark.parametrize("gone, other", [("story_index", "articles"),
                                          ("articles", "story_index")])
def test_a_file_missing_beside_the_one_written_with_it(tmp_path, capsys, gone, other):
    # A run writes each articles file and its articles' story-index rows under one name:
    # one without the other is an output a file of which was deleted or not copied.
    output = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS), "--output", str(output), "--quiet", *FAST]) == 0
    path = sorted(output.glob(f"{gone}/*/*.parquet"))[0]
    path.unlink()
    (kept,) = output.glob(f"{other}/*/{path.name}")
    capsys.readouterr()
    line = refused(capsys, output)
    assert f"{kept}: the {gone} file of the same name, written with it, is not there" in line
    assert "restore the file from a backup" in line
    assert main(["stories", str(output)]) == 2  # it shows no stories of a partial output
    assert "the output is missing a file" in capsys.readouterr().err


def test_files_of_earlier_versions_are_not_paired_by_name(output, capsys):
    # Versions before named each table's files by shard, each table on its own: such a
    # file has no partner of its name, and none is asked for.
    for path in [*output.glob("articles/*/*.parquet"), *output.glob("story_index/*/*.parquet")]:
        path.rename(path.with_name("part-run-20240101T000000000000Z-00000-of-00001.parquet"))
    seed = str(SEEDS / "001_687127a8f65ba626.txt")
    assert main(["run", "--input", seed, "--output", str(output), "--quiet", *FAST]) == 0
    assert "1 new" in capsys.readouterr().out


def test_a_missing_stories_table_is_rebuilt_from_the_index(output, capsys):
    # A stream's output has none; a run makes it from the story index.
    import shutil

    shutil.rmtree(output / "stories")
    seed = str(SEEDS / "001_687127a8f65ba626.txt")
    assert main(["run", "--input", seed, "--output", str(output), "--quiet", *FAST]) == 0
    stories = pq.read_table(output / "stories").to_pylist()
    assert sum(story["article_count"] for story in stories) == 2


@pytest.mark.parametrize("emptied", [False, True])
def test_stories_without_their_files_are_shown_from_the_index(output, capsys, emptied):
    # The stories folder gone (a stream's output), or its files: as the next run makes
    # the table again, `storywire stories` shows the stories the index holds.
    import shutil

    if emptied:
        for path in output.glob("stories/*.parquet"):
            path.unlink()
    else:
        shutil.rmtree(output / "stories")
    capsys.readouterr()
    assert main(["stories", str(output)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[-1] == "1 stories" and shown[1].split()[1] == "1", shown


@pytest.mark.parametrize("earlier, moved", [
    (None, 1),  # the first commit into an output: articles moved in, no story index yet
    ("000_b732d28f0e6528e7.txt", None),  # a story's new row moved in, its old not deleted
])
def test_stories_during_a_commit_says_the_tables_are_between_two_states(
        tmp_path, capsys, monkeypatch, earlier, moved):
    import storywire.pipeline.report as report
    from storywire.transforms.write.parquet import CommitPlan

    def stopped_while_committing(plan):  # a run killed while it commits
        for source, target in plan.renames[:moved]:
            if Path(source).exists():
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                Path(source).rename(target)
        raise RuntimeError("killed")

    output = tmp_path / "out"
    if earlier:
        assert main(["run", "--input", str(SEEDS / earlier), "--output", str(output),
                     "--quiet", *FAST]) == 0
    monkeypatch.setattr(CommitPlan, "apply", stopped_while_committing)
    seed = str(SEEDS / "001_687127a8f65ba626.txt")
    with pytest.raises(RuntimeError, match="killed"):
        main(["run", "--input", seed, "--output", str(output), "--quiet", *FAST])
    monkeypatch.undo()
    monkeypatch.setattr(report, "STORIES_WAIT_SECONDS", 0.0)
    capsys.readouterr()
    assert main(["stories", str(output)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"storywire stories: a run's commit into {output} has not ended")
    assert "damaged" not in line
    # The next run finishes the commit, and the stories are whole again.
    assert main(["run", "--input", seed, "--output", str(output), "--quiet", *FAST]) == 0
    capsys.readouterr()
    assert main(["stories", str(output)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[-1] == "1 stories" and shown[1].split()[1] == ("2" if earlier else "1")


def test_stories_refuses_a_copy_of_a_file_as_a_run_does(output, capsys):
    import shutil

    (path,) = output.glob("stories/*.parquet")
    shutil.copyfile(path, path.with_name(path.stem + "-copy.parquet"))
    capsys.readouterr()
    assert main(["stories", str(output)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (line,) = captured.err.splitlines()
    assert "holds the same bytes as" in line and "would count twice" in line, line


def test_a_table_folder_that_is_a_file(output, capsys):
    import shutil

    shutil.rmtree(output / "rejects")
    (output / "rejects").write_text("not a folder")
    assert "rejects: is not a folder" in refused(capsys, output)


@pytest.mark.parametrize("where", ["stray.parquet", "other=1/part.parquet",
                                   "published_date=not-a-date/part.parquet",
                                   # DuckDB would type published_date as text, not a date
                                   "published_date=2024-13-45/part.parquet"])
def test_a_file_out_of_place(output, capsys, where):
    (source,) = output.glob("articles/*/*.parquet")
    target = output / "articles" / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    line = refused(capsys, output)
    expected = ("is in the folder of a day that does not exist, published_date=2024-13-45"
                if "13-45" in where else "is not in a folder published_date=YYYY-MM-DD")
    assert str(target) in line and expected in line


def test_rows_are_matched_against_many_wanted_values(output):
    (path,) = output.glob("story_index/*/*.parquet")
    stored = read_rows(str(path), "story_index", ["article_id", "story_id"])
    story = stored[0]["story_id"]
    # A wanted set much larger than the file, holding one of its stories.
    wanted = dict.fromkeys([f"other-{n}" for n in range(50_000)] + [story])
    found = read_matching(str(path), "story_index", "story_id", wanted, ["article_id"])
    assert found == [{"article_id": r["article_id"]} for r in stored if r["story_id"] == story]
    assert read_matching(str(path), "story_index", "story_id", {"none": None},
                         ["article_id"]) == []
    assert len(read_matching(str(path), "story_index", "story_id", None,
                             ["article_id"])) == len(stored)


def test_an_articles_current_story_is_its_latest_index_row(output):
    (path,) = output.glob("story_index/*/*.parquet")
    (row,) = read_rows(str(path), "story_index")
    assert current_story_ids(str(output)) == {row["article_id"]: row["story_id"]}
    # A later run moved the article to another story: the index gains a row for it.
    moved = pq.read_table(path)
    moved = moved.set_column(moved.schema.get_field_index("story_id"), "story_id",
                             pa.array(["moved-on"], pa.string()))
    later = pa.scalar(row["assigned_at"] + 1, pa.timestamp("us", tz="UTC"))
    moved = moved.set_column(moved.schema.get_field_index("assigned_at"), "assigned_at",
                             pa.array([later]))
    pq.write_table(moved, path.parent / "part-later-00000-of-00001.parquet")
    assert current_story_ids(str(output)) == {row["article_id"]: "moved-on"}


def _index_row(article_id: str, story_id: str, day: int, assigned: int) -> dict:
    """An undated article's story-index row, ingested on `day` (days since 2024-01-01)."""
    ingested = (1_704_067_200 + day * 86_400) * 1_000_000
    return {"article_id": article_id, "published_at": None, "ingested_at": ingested,
            "simhash": 1, "story_vector": b"", "dup_group_id": article_id,
            "story_id": story_id, "assigned_at": ingested + assigned, "text_length": 10,
            "title": None, "source": None}


def _assert_members(output: Path, stories: list[str], expected: list[tuple[str, str]]):
    """ReadStoryMembers gives (article_id, story_id) `expected` for stored articles of
    `stories`."""
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from storywire.transforms.write.stored import ReadStoryMembers, StoredArticle

    stored = [StoredArticle.of(_index_row(f"in-{s}", s, 0, 0)) for s in stories]
    with TestPipeline(runner="FnApiRunner") as p:
        members = (p | beam.Create(stored) | ReadStoryMembers(str(output)))["members"]
        assert_that(members | beam.MapTuple(lambda article_id, a: (article_id, a.story_id)),
                    equal_to(expected))


def test_story_members_are_the_current_ones_wherever_a_stream_wrote_their_rows(tmp_path):
    from storywire.transforms.write.parquet import STREAM_FILE_PREFIX, to_arrow, write_parquet

    out = tmp_path / "out"
    day0, day40 = "index_date=2024-01-01", "index_date=2024-02-10"
    # A run's rows: s1 holds in-s1 and a; b was in s1 and moved to s2 the same day.
    write_parquet(str(out / "story_index" / day0 / "part-run-1-0.parquet"), to_arrow(
        "story_index", [_index_row("in-s1", "s1", 0, 0), _index_row("a", "s1", 0, 0),
                        _index_row("b", "s1", 0, 0), _index_row("b", "s2", 0, 5),
                        _index_row("c", "s1", 0, 0)]))
    # c, undated, was delivered again to a stream restarted 40 days later: its newer row,
    # in s3, is in the partition of that day.
    write_parquet(str(out / "story_index" / day40 / f"{STREAM_FILE_PREFIX}1-j1-p0000-00000"
                  ".parquet"), to_arrow("story_index", [_index_row("c", "s3", 40, 0)]))
    (out / "stories").mkdir()
    write_parquet(str(out / "stories" / "part-run-1-0.parquet"), to_arrow("stories", []))
    _assert_members(out, ["s1"], [("in-s1", "s1"), ("a", "s1")])


def test_watch_names_itself_when_its_batch_is_refused(output, capsys):
    # A batch of `storywire watch` is a run; its one line names the command the user typed.
    (path,) = output.glob("story_index/*/*.parquet")
    rewrite(path, lambda t: t.drop_columns(["simhash"]))
    before = fingerprint(output)
    assert main(["watch", "--input", str(SEEDS), "--output", str(output), "--once",
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if "column simhash is missing" in x]
    assert line.startswith("storywire watch: "), line
    assert fingerprint(output) == before


def test_a_copy_of_a_table_file_is_refused_not_counted_twice(output, capsys):
    # A backup put back under another name: its rows were read twice, and the stories
    # table listed its stories twice.
    import shutil

    (path,) = output.glob("articles/*/*.parquet")
    copy = path.with_name(path.stem + "-copy.parquet")
    shutil.copyfile(path, copy)
    line = refused(capsys, output)
    assert "holds the same bytes as" in line and "would count twice" in line
    assert line.endswith("(a copy: move one of the two aside); nothing was read or written. "
                         "Write to a new --output, or restore the file from a backup and run "
                         "again"), line
    assert {str(path), str(copy)} <= set(line.replace(":", " ").split()), line
    copy.unlink()
    assert main(["run", "--input", str(SEEDS), "--output", str(output), "--quiet", *FAST]) == 0


def test_a_table_file_this_user_may_not_read_says_so(output, capsys, monkeypatch):
    # It was told "written by another version of storywire, or damaged". (The tests run
    # as root, who may read anything: the refusal is the filesystem's, simulated.)
    from apache_beam.io.filesystems import FileSystems

    from storywire.transforms.write import stored

    (path,) = output.glob("articles/*/*.parquet")

    class Refusing(FileSystems):
        @staticmethod
        def open(name, *args, **kwargs):
            if name == str(path):
                raise PermissionError(13, "Permission denied", name)
            return FileSystems.open(name, *args, **kwargs)

    monkeypatch.setattr(stored, "FileSystems", Refusing)
    line = refused(capsys, output)
    assert f"{path}: cannot be read: permission denied (this user may not read it)" in line
    assert "another version" not in line
