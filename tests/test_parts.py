"""A big input run in parts: every record read once, in order, and the tables a run in one
piece would write (the same articles; stories continued across the parts)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import FAST, SEEDS, hang_up_once, rows

from storywire.pipeline.cli import main
from storywire.transforms.read.inputs import InputChunk
from storywire.transforms.read.parts import balanced_groups, plan_parts


def _feed(path, records: int, filler: int = 200) -> None:
    """`records` records of about `filler` bytes more than their text; gzipped when the name
    ends in .gz, where the filler packs no better than text does."""
    import gzip
    import random

    def note(n: int) -> str:
        return random.Random(n).randbytes(filler // 2).hex() if path.name.endswith(".gz") \
            else "x" * filler

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as out:
        for n in range(records):
            out.write(json.dumps({"id": f"r{n}", "title": f"Record {n}",
                                  "text": f"Report number {n} about a harbour. " * 8,
                                  "note": note(n)}) + "\n")


def test_parts_cover_every_line_once_in_order_and_hold_at_most_the_limit(tmp_path):
    feed = tmp_path / "in" / "feed.jsonl"
    feed.parent.mkdir()
    _feed(feed, 95)
    (tmp_path / "in" / "zz.txt").write_text("A page of text.", encoding="utf-8")
    missing = str(tmp_path / "nothing-here.jsonl")
    parts = plan_parts([str(tmp_path / "in"), missing], None, max_records=20,
                       chunk_bytes=4096)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert all(p.of == len(parts) for p in parts)
    assert all(p.records <= 20 for p in parts)
    # The pieces of the JSONL file follow each other without gap or overlap.
    pieces = [c for p in parts for c in p.chunks if c.path.endswith("feed.jsonl")]
    assert pieces[0].start == 0 and pieces[-1].end is None
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))
    assert sum(p.records for p in parts) == 95 + 1
    assert parts[-1].chunks[-1].path.endswith("zz.txt")
    # What matching rejects is recorded once, by the first part.
    assert [r.input_uri for r in parts[0].rejects] == [missing]
    assert all(not p.rejects for p in parts[1:])


def test_parts_are_as_few_as_the_limit_allows_and_the_largest_as_small_as_that_allows():
    # 100,100 records in pieces of 550, at most 20,000 a part: filled to the limit, five
    # parts of 19,800 and one of 1,100 (each part costs a run's start-up for its few).
    pieces = [(InputChunk("feed.jsonl", None, start=n), 550) for n in range(182)]
    groups = balanced_groups(pieces, 20_000)
    sizes = [sum(records for _, records in group) for group in groups]
    assert len(groups) == 6 and max(sizes) == 31 * 550  # 182 pieces in 6: 31 at most
    assert [chunk.start for group in groups for chunk, _ in group] == list(range(182))
    # A piece over the limit is a part of its own; no part is empty.
    big = [(InputChunk("a", None), 10), (InputChunk("b", None), 50), (InputChunk("c", None), 10)]
    assert [[c.path for c, _ in g] for g in balanced_groups(big, 20)] == [["a"], ["b"], ["c"]]


def _packed_feed(path, records: int, start: int = 0, text: str = "") -> None:
    """`records` short records (about 50 bytes, and `text`), gzipped: many to a packed KiB."""
    import gzip

    path.write_bytes(gzip.compress("".join(
        json.dumps({"id": f"g{n}", "text": f"Quay {n} opens. {text}"}) + "\n"
        for n in range(start, start + records)).encode()))


def test_a_compressed_jsonl_file_is_planned_by_the_records_it_holds(tmp_path, capsys):
    # Its records were taken as 5 a packed KiB: 40 times too few for short records, so
    # two such files went into one part of twice the limit.
    feed = tmp_path / "in"
    feed.mkdir()
    _packed_feed(feed / "a.jsonl.gz", 8_000)
    _packed_feed(feed / "b.jsonl.gz", 8_000, start=8_000)
    parts = plan_parts([str(feed)], None, max_records=10_000)
    assert [p.records for p in parts] == [8_000, 8_000]
    # Zeros after a member, which gzip reads past, are padding: the count stays exact.
    with open(feed / "b.jsonl.gz", "ab") as padded:
        padded.write(bytes(4096))
    assert [p.records for p in plan_parts([str(feed)], None, max_records=10_000)] == [
        8_000, 8_000]
    # Bigger than the part of it that is unpacked to count: unpacked once to cut it, and
    # counted as it is read (it was estimated from its first 256 KiB).
    from storywire.transforms.read.parts import SAMPLE_PACKED_BYTES

    big = tmp_path / "big.jsonl.gz"
    _feed(big, 3_000, filler=1_000)
    assert big.stat().st_size > 2 * SAMPLE_PACKED_BYTES
    ((part,),) = [plan_parts([str(big)], None, max_records=10**6)]
    assert part.records == 3_000
    # One file over the limit cannot be cut: the run says so before it starts, and why.
    small = tmp_path / "small"
    small.mkdir()
    _packed_feed(small / "feed.jsonl.gz", 60, text="The harbour authority said the new "
                 "quay will take ships from May, after two years of building work. " * 3)
    assert main(["run", "--input", str(small), "--output", str(tmp_path / "out"), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    err = capsys.readouterr().err
    assert "feed.jsonl.gz holds about 60 records, over --max_batch_articles 50" in err
    assert "cannot be cut" in err and "parts" not in err.split("cannot be cut")[0]
    assert len(rows(tmp_path / "out", "articles", "article_id")) == 60


def test_a_compressed_file_is_counted_up_to_where_it_stops_unpacking(tmp_path):
    # Reading stops where unpacking does (the rest is one reject), so the records before
    # are all it gives. A big file that is not gzip was estimated from its size, and was
    # said to hold thousands of records that cannot be cut.
    from storywire.transforms.read.parts import packed_records

    (tmp_path / "plain.jsonl.gz").write_bytes(b'{"id": "x", "text": "not packed"}\n' * 50_000)
    _packed_feed(tmp_path / "damaged.jsonl.gz", 8_000)
    with open(tmp_path / "damaged.jsonl.gz", "ab") as damaged:
        damaged.write(b"not gzip")  # after its member: gzip stops there, with an error

    def counted(name: str) -> int:
        return packed_records(str(tmp_path / name), (tmp_path / name).stat().st_size)

    assert counted("plain.jsonl.gz") == 1
    assert counted("damaged.jsonl.gz") == 8_000


def test_a_big_compressed_file_is_cut_into_parts_of_at_most_a_piece_a_worker(tmp_path):
    # Each piece read unpacks the file up to it: a part reads its share of the file in as
    # many pieces as it has workers, not in pieces of 2 MiB.
    feed = tmp_path / "feed.jsonl.gz"
    _feed(feed, 400, filler=20_000)  # 400 records of 20 kB: about 8 MiB unpacked
    parts = plan_parts([str(feed)], None, max_records=120, chunk_bytes=256 * 1024, workers=2)
    assert len(parts) == 4 and all(p.records <= 120 for p in parts)
    assert sum(p.records for p in parts) == 400
    assert all(len(p.chunks) == 2 for p in parts)
    pieces = [c for p in parts for c in p.chunks]
    assert pieces[0].start == 0 and pieces[-1].end is None
    assert all(a.end == b.start and a.last_line + 1 == b.first_line
               for a, b in zip(pieces, pieces[1:]))
    # A damaged end (garbage after the gzip member) is where counting stops, as reading does:
    # it was scaled from the start to the whole size, as if it held records.
    with open(feed, "ab") as damaged:
        damaged.write(os.urandom(3 * 1024 * 1024))
    assert sum(p.records for p in plan_parts([str(feed)], None, max_records=120,
                                             chunk_bytes=256 * 1024)) == 400


def test_the_note_of_a_file_that_cannot_be_cut_names_only_compressed_files(tmp_path):
    from storywire.transforms.read.parts import uncut_over

    feed = tmp_path / "in"
    feed.mkdir()
    _feed(feed / "small.jsonl", 250)  # under 2 MiB: one piece, but a piece of text records
    _packed_feed(feed / "odd\nname\x1b[31m.jsonl.gz", 300)
    (line,) = uncut_over(plan_parts([str(feed)], None, max_records=100), 100)
    # One line on the terminal, no escape sequence: the name's control characters escaped.
    assert line.startswith(str(feed / "odd\\nname\\x1b[31m.jsonl.gz holds about 300 records"))
    assert "\n" not in line and "\x1b" not in line


def test_a_last_line_without_its_line_end_is_counted_as_a_record(tmp_path):
    # Counted by its line ends, such a file was a record short: two records of it and two
    # of another file made one part of 4 under a limit of 3.
    feed = tmp_path / "in"
    feed.mkdir()
    _feed(feed / "a.jsonl", 2)
    (feed / "a.jsonl").write_bytes((feed / "a.jsonl").read_bytes().rstrip(b"\n"))
    _feed(feed / "b.jsonl", 2)
    assert [p.records for p in plan_parts([str(feed)], None, max_records=3)] == [2, 2]
    # Cut into pieces, the last piece has its last line too.
    big = tmp_path / "big.jsonl"
    _feed(big, 95)
    big.write_bytes(big.read_bytes().rstrip(b"\n"))
    parts = plan_parts([str(big)], None, max_records=20, chunk_bytes=4096)
    assert len(parts) > 1 and sum(p.records for p in parts) == 95


def test_a_small_input_is_one_part(tmp_path):
    assert len(plan_parts([str(SEEDS)], None, max_records=100)) == 1


@pytest.mark.parametrize("name", ["feed.jsonl", "feed.jsonl.gz"])
def test_a_run_in_parts_writes_what_a_run_in_one_piece_writes(tmp_path, capsys, name):
    # A compressed file is cut as an uncompressed one is, in what it unpacks to: it was
    # one part, however many records it held.
    scratch = Path(tempfile.gettempdir())  # the test's own (conftest), where Beam's go
    feed = tmp_path / name
    _feed(feed, 60, filler=40_000)  # 60 records of 40 kB: parts of 2 MiB hold 50
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    assert main(["run", "--input", str(feed), "--output", str(whole), "--quiet", *FAST]) == 0
    whole_summary = capsys.readouterr().out.splitlines()
    assert main(["run", "--input", str(feed), "--output", str(parted), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    captured = capsys.readouterr()
    assert "in 2 parts" in captured.err and "part 2 of 2" in captured.err
    # The summary of all parts says what the run in one piece says: a copy group or story
    # that the second part extended is one, not two.
    all_parts = captured.out.split("all 2 parts:\n")[1].splitlines()
    assert [line.strip() for line in all_parts] == whole_summary
    assert captured.out.count("input units (from 1 file)") == 2  # each part reads from it
    reads = [int(line.split()[1]) for line in captured.out.splitlines()
             if line.startswith("read:")]
    assert sum(reads) == 60 and len(reads) == 2
    columns = "article_id, input_uri, line, title, text, simhash, content_hash"
    assert ([{c: r[c] for c in columns.split(", ")} for r in rows(parted, "articles", "line")]
            == [{c: r[c] for c in columns.split(", ")} for r in rows(whole, "articles", "line")])
    # The records report one event: one story, whichever way they were run.
    assert len(rows(parted, "stories", "story_id")) == len(rows(whole, "stories", "story_id"))
    # A rerun reads every part again and adds nothing.
    assert main(["run", "--input", str(feed), "--output", str(parted), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    assert "already in the output" in capsys.readouterr().out
    assert len(rows(parted, "articles", "line")) == 60
    assert [p.name for p in scratch.iterdir()] == []  # the runs left no folder behind


def test_a_record_whose_id_an_earlier_part_stored_is_skipped_as_stored(tmp_path, capsys):
    # The ids a part skips are those stored before it: the run's earlier parts' too.
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 60, filler=40_000)
    with open(feed, "a", encoding="utf-8") as out:  # record r0 again, in part 2
        out.write(feed.read_text(encoding="utf-8").splitlines()[0] + "\n")
    out_dir = tmp_path / "out"
    assert main(["run", "--input", str(feed), "--output", str(out_dir), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    captured = capsys.readouterr()
    assert "part 2 of 2" in captured.err
    whole = captured.out.split("all 2 parts:")[1]
    assert "61 input units" in whole and "(1 already in the output, skipped)" in whole
    ids = [r["article_id"] for r in rows(out_dir, "articles", "line")]
    assert len(ids) == len(set(ids)) == 60


def test_a_rerun_in_parts_of_the_same_input_keeps_the_rejects_of_its_later_parts(
        tmp_path, capsys):
    # Part 1 looked up every --input path, and took away the stored "empty file" reject of
    # a file that part 2 reads: a rerun removed it, then wrote it again (and lost it when
    # stopped between the two).
    feed, empty = tmp_path / "feed.jsonl", tmp_path / "empty.txt"
    _feed(feed, 3)
    empty.write_bytes(b"")
    out_dir = tmp_path / "out"
    args = ["run", "--input", str(feed), str(empty), "--output", str(out_dir), "--quiet",
            "--max_batch_articles", "1", "--max_reject_fraction", "1", *FAST]
    assert main(args) == 0
    assert "part 2 of 2" in capsys.readouterr().err
    stored = sorted(p.name for p in (out_dir / "rejects").iterdir())
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "removed" not in out
    assert "rejects:    0 new (1 already recorded)" in out.split("all 2 parts:")[1]
    assert sorted(p.name for p in (out_dir / "rejects").iterdir()) == stored
    assert [(r["input_uri"], r["reason"]) for r in rows(out_dir, "rejects", "line")] == [
        (str(empty), "empty file")]


def _processes_of_parts(run_pid: int, module: bytes = b"storywire.pipeline.part") -> list[int]:
    """The pids of the part processes a run started (Linux's /proc); or of the processes
    another one started that run `module`, and their own children."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
            parent = int(stat[1])
            grandparent = int((Path("/proc") / str(parent) / "stat").read_text()
                              .rsplit(")", 1)[1].split()[1]) if parent > 1 else 0
        except (OSError, IndexError, ValueError):
            continue
        if run_pid in (parent, grandparent) and module in command:
            found.append(int(entry.name))
    return found


def _start_in_parts(feed: Path, output: Path, runner: list[str] = FAST,
                    temp: Path | None = None) -> tuple[subprocess.Popen, int]:
    """A run in parts in a process of its own (with `temp` as TMPDIR), once its first
    part's process runs."""
    env = dict(os.environ, **({"TMPDIR": str(temp)} if temp else {}))
    run = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(feed),
         "--output", str(output), "--quiet", "--max_batch_articles", "50", *runner],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env)
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        parts = _processes_of_parts(run.pid)
        if parts:
            return run, parts[0]
        time.sleep(0.05)
    raise AssertionError(f"no part started: {run.stderr.read().decode()}")


def test_a_part_runs_with_the_worker_processes_the_run_asked_for_and_they_end_with_it(
        tmp_path):
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 60, filler=40_000)
    run, part = _start_in_parts(feed, tmp_path / "out", ["--direct_num_workers=2",
                                                         "--direct_running_mode=multi_processing"])
    try:
        deadline = time.monotonic() + 120
        workers = []
        while not workers and Path(f"/proc/{part}").exists() and time.monotonic() < deadline:
            workers = _processes_of_parts(part, b"storywire.pipeline.worker")
            time.sleep(0.1)
        assert workers, "the part ran without worker processes"
        # Killed from outside (the kernel's out-of-memory killer, say), the part takes its
        # workers with it: none lives on, printing the errors of its lost connection.
        os.kill(part, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(_alive, workers)), "a worker outlived its part"
        assert run.wait(timeout=120) != 0
        assert "was ended by SIGKILL" in run.stderr.read().decode()
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_run_killed_while_a_part_runs_stops_the_part_which_leaves_no_scratch_behind(
        tmp_path):
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 60, filler=40_000)
    out, temp = tmp_path / "out", tmp_path / "temp"
    temp.mkdir()
    run, part = _start_in_parts(feed, out, temp=temp)
    os.kill(run.pid, signal.SIGKILL)  # the run's own process only, as `kill -9` does
    run.wait()
    # Told by the kernel that its run is gone, the part stops, rather than commit unseen
    # with no run left to go on to the next part; and removes the run's scratch folders.
    deadline = time.monotonic() + 30
    while _alive(part) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(part), "the part outlived its run"
    assert sorted(p.name for p in temp.iterdir()) == [], run.stderr.read().decode()
    # A rerun finishes the input, each record once.
    assert main(["run", "--input", str(feed), "--output", str(out), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    assert sorted(r["article_id"] for r in rows(out, "articles", "line")) == sorted(
        f"r{n}" for n in range(60))


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm", "hang-up", "ctrl-c twice"])
def test_a_stop_signal_stops_a_run_in_parts_and_its_part_and_frees_the_output(
        tmp_path, capsys, stop):
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 60, filler=40_000)
    out = tmp_path / "out"
    run, part = _start_in_parts(feed, out)
    if stop == "sigterm":
        os.kill(run.pid, signal.SIGTERM)  # as a scheduler's: the run's process only
    else:  # as a terminal's (a key, a closed window): the whole process group
        os.killpg(run.pid, signal.SIGHUP if stop == "hang-up" else signal.SIGINT)
    if stop == "ctrl-c twice":  # while the part stops: it is not killed, leaving workers
        time.sleep(0.1)
        os.killpg(run.pid, signal.SIGINT)
    assert run.wait(timeout=120) == 130
    err = run.stderr.read().decode()
    assert err.count("interrupted") == 1 and "Traceback" not in err, err
    assert not Path(f"/proc/{part}").exists() and _processes_of_parts(run.pid) == []
    assert main(["run", "--input", str(feed), "--output", str(out), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0  # not locked
    assert len(rows(out, "articles", "line")) == 60


def test_a_part_without_articles_does_not_fail_a_run_whose_parts_together_have_them(
        tmp_path, capsys):
    feed = tmp_path / "feed.jsonl"
    with open(feed, "w", encoding="utf-8") as out:
        out.writelines("not a record " + "x" * 30_000 + "\n" for _ in range(75))  # > 2 MiB
    with open(feed, "a", encoding="utf-8") as out:
        for n in range(10):
            out.write(json.dumps({"id": f"g{n}", "text": f"Good report {n} on the harbour "
                                  "works that closed the quay for a week. " * 3}) + "\n")
    out_dir = tmp_path / "out"
    status = main(["run", "--input", str(feed), "--output", str(out_dir), "--quiet",
                   "--max_batch_articles", "50", "--max_reject_fraction", "1", *FAST])
    captured = capsys.readouterr()
    assert "part 2 of 2" in captured.err
    assert status == 0, captured.err
    assert "all 2 parts:" in captured.out and "  read:       85 input units" in captured.out
    assert len(rows(out_dir, "articles", "line")) == 10
    assert len(rows(out_dir, "rejects", "line")) == 75


def test_a_file_named_twice_is_read_once(tmp_path, capsys, monkeypatch):
    # A folder and a file in it: the file was read twice, each of its records a duplicate
    # of itself, and a bad line or a copy of another file's record a reject row twice. So
    # was a file named by a relative and an absolute path, or by a (hard) link to it. A
    # path that names nothing, named twice, was two reject rows.
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(
        {"id": "only", "text": "The harbour works closed the quay for a week, the port "
                               "authority said on Monday."}) + "\n{oops\n", encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(folder / "a.jsonl")
    os.link(folder / "a.jsonl", tmp_path / "hard.jsonl")
    monkeypatch.chdir(tmp_path)
    for parts in ("0", "1"):  # in one piece, and in parts of one record
        out_dir = tmp_path / f"out{parts}"
        assert main(["run", "--input", str(folder), str(folder / "a.jsonl"),
                     str(folder / "*.jsonl"), "in/a.jsonl", "link.jsonl", "hard.jsonl",
                     "gone.jsonl", "gone.jsonl", "--output",
                     str(out_dir), "--max_batch_articles",
                     parts, "--max_reject_fraction", "1", *FAST]) == 0
        whole = capsys.readouterr().out.rsplit("all 2 parts:", 1)[-1]  # in parts: the total
        assert "read:       3 input units (1 files matched)" in whole
        assert [r["article_id"] for r in rows(out_dir, "articles", "line")] == ["only"]
        # Of its names, the first in sort order, in one piece and in parts alike.
        assert [(r["input_uri"], r["line"], r["stage"])
                for r in rows(out_dir, "rejects", "line")] == [
            (str(folder / "a.jsonl"), 2, "parse"), ("gone.jsonl", None, "match")]
        assert [r["article_id"] for r in rows(out_dir, "story_index", "article_id")] == [
            "only"]


def _index_row(article: str, story: str, assigned_at: int, ingested_at: int) -> dict:
    return {"article_id": article, "published_at": None, "ingested_at": ingested_at,
            "simhash": 1, "story_vector": b"", "dup_group_id": article, "story_id": story,
            "assigned_at": assigned_at, "text_length": 100, "title": None, "source": None}


def test_the_summary_of_all_parts_counts_stories_as_a_run_in_one_piece(tmp_path):
    # Earlier articles a and b made story S; the run (from `since` on) split b off with its
    # new article n into a story of a new id, and its new article m joined S. In one piece
    # the new id is a new story and S an extended one (continuation.py); the summary of all
    # parts counted the new id as extended, as it holds an earlier article.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from storywire.pipeline.report import RunSummary, whole_run
    from storywire.schemas import TABLES
    from storywire.transforms.metrics import STORIES, STORIES_EXTENDED, STORY_ARTICLES_MOVED

    earlier, since = 1_000_000, 2_000_000
    index = [_index_row("a", "S", earlier, earlier), _index_row("b", "S", earlier, earlier),
             _index_row("b", "T", since, earlier), _index_row("n", "T", since, since),
             _index_row("m", "S", since, since)]
    folder = tmp_path / "story_index" / "index_date=2026-01-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(index, TABLES["story_index"].schema),
                   folder / "part.parquet")
    summary = whole_run([RunSummary()], str(tmp_path), since)
    assert (summary.get(STORIES), summary.get(STORIES_EXTENDED)) == (1, 1)
    assert summary.get(STORY_ARTICLES_MOVED) == 1


def test_a_part_ended_by_a_signal_says_which():
    from storywire.pipeline.part import ended

    assert ended(-signal.SIGKILL) == "was ended by SIGKILL"
    assert ended(-signal.SIGSEGV) == "was ended by SIGSEGV"
    assert ended(130) == "was stopped by SIGUSR2"
    assert ended(1).startswith("stopped with exit status 1")


def test_closing_the_terminal_of_a_run_in_parts_stops_it_and_its_part(tmp_path):
    feed = tmp_path / "feed.jsonl"
    _feed(feed, 60, filler=40_000)
    out, temp = tmp_path / "out", tmp_path / "temp"
    temp.mkdir()
    # Writing to the closed terminal failed (exit 1, with the part's work abandoned).
    status, shown = hang_up_once(
        ["run", "--input", str(feed), "--output", str(out), "--max_batch_articles", "50",
         *FAST], "part 1 of", env=dict(os.environ, TMPDIR=str(temp)))
    assert status == 130, shown
    assert sorted(p.name for p in temp.iterdir()) == []
    assert main(["run", "--input", str(feed), "--output", str(out), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    assert len(rows(out, "articles", "line")) == 60


def test_a_sigterm_to_the_whole_group_stops_a_watch_after_its_batch_in_parts(tmp_path):
    # A service manager stops a service so; the part and its workers took it as theirs,
    # and the batch was lost (exit 2).
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    _feed(inbox / "feed.jsonl", 60, filler=40_000)
    os.utime(inbox / "feed.jsonl", (time.time() - 60, time.time() - 60))
    watch = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "watch", "--input", str(inbox),
         "--output", str(out), "--interval", "1", "--max_batch_articles", "50", "--quiet",
         *FAST], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while (watch.poll() is None and time.monotonic() < deadline
               and not _processes_of_parts(watch.pid)):
            time.sleep(0.05)
        os.killpg(watch.pid, signal.SIGTERM)
        _, err = watch.communicate(timeout=180)
    finally:
        if watch.poll() is None:
            os.killpg(watch.pid, signal.SIGKILL)
            watch.wait()
    assert watch.returncode == 0, err
    assert "stopping after the batch in flight" in err and "1 files ingested" in err, err
    assert len(rows(out, "articles", "line")) == 60


def test_the_summary_of_all_parts_is_counted_while_the_run_holds_its_lock(tmp_path, capsys,
                                                                         monkeypatch):
    # It was counted from the story index after the lock was let go: a run waiting for
    # the lock could commit in between, and its articles were counted as this run's.
    import storywire.pipeline.report as report

    feed, out = tmp_path / "feed.jsonl", tmp_path / "out"
    _feed(feed, 60, filler=40_000)  # parts of 2 MiB: two parts under a limit of 50
    counted_whole = report.whole_run
    other_run = []

    def whole_run(*args, **kwargs):
        other_run.append(main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]))
        return counted_whole(*args, **kwargs)

    monkeypatch.setattr(report, "whole_run", whole_run)
    assert main(["run", "--input", str(feed), "--output", str(out), "--quiet",
                 "--max_batch_articles", "50", *FAST]) == 0
    assert other_run == [2]  # refused: the run in parts still held the output
    assert "all 2 parts:" in capsys.readouterr().out


def test_a_stop_that_lands_in_the_import_machinery_comes_again_past_it():
    # Raised in a module lock's weakref callback, the part's KeyboardInterrupt was printed
    # as "Exception ignored" with a traceback, and the part ran on.
    from types import SimpleNamespace

    from storywire.pipeline.part import _raise_where_it_lands

    came = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: came.append(signum))
    try:
        importlib_frame = SimpleNamespace(
            f_code=SimpleNamespace(co_filename="<frozen importlib._bootstrap>"))
        _raise_where_it_lands(KeyboardInterrupt, signal.SIGUSR2, importlib_frame)
        deadline = time.monotonic() + 5
        while not came and time.monotonic() < deadline:
            time.sleep(0.01)
        assert came == [signal.SIGUSR2]
        with pytest.raises(KeyboardInterrupt):  # anywhere else, at once
            _raise_where_it_lands(KeyboardInterrupt, signal.SIGUSR2, sys._getframe())
    finally:
        signal.signal(signal.SIGUSR2, previous)
