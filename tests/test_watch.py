"""`storywire watch`: files ingested as they land, each once, stopped cleanly by a signal."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import FAST, SEEDS

from storywire.pipeline.cli import main
from storywire.pipeline.watch import Seen, list_files, load_record, ready_files


def test_ready_files_skip_partial_unsettled_and_ingested_files():
    now = 1000.0
    listing = {
        "in/a.txt": Seen(10, now - 60),         # settled long ago
        "in/b.jsonl": Seen(10, now - 1),        # just written, first seen now
        "in/c.html": Seen(20, now - 1),         # just written, unchanged since last look
        "in/.d.txt": Seen(10, now - 60),        # hidden: an upload in progress
        "in/e.jsonl.part": Seen(10, now - 60),  # a download in progress
        "in/f.txt.tmp": Seen(10, now - 60),
        "in/g.csv": Seen(10, now - 60),         # not an article format
        "in/h.txt": Seen(10, now - 60),         # ingested as it is
        "in/i.txt": Seen(12, now - 60),         # ingested, then changed
    }
    previous = {"in/c.html": Seen(20, now - 1), "in/b.jsonl": Seen(5, now - 3)}
    ingested = {"in/h.txt": Seen(10, now - 60), "in/i.txt": Seen(10, now - 600)}
    assert ready_files(listing, previous, ingested, now, settle=5) == [
        "in/a.txt", "in/c.html", "in/i.txt"]


def test_the_listing_leaves_out_the_output_and_passes_on_what_cannot_be_read(tmp_path):
    folder = tmp_path / "inbox"
    (folder / "out" / "articles").mkdir(parents=True)
    (folder / "a.txt").write_text("x")
    (folder / "out" / "late.txt").write_text("x")
    (folder / "gone.txt").symlink_to("deleted.txt")
    os.mkfifo(folder / "pipe.jsonl")
    listing = list_files([str(folder)], str(folder / "out"))
    assert sorted(Path(p).name for p in listing) == ["a.txt", "gone.txt", "pipe.jsonl"]
    # Unchanging, so they are taken at once, and once: the run records why they are not read.
    assert listing[str(folder / "pipe.jsonl")] == listing[str(folder / "gone.txt")] == Seen(0, 0)
    ready = ready_files(listing, {}, {}, time.time(), settle=5)
    assert [Path(p).name for p in ready] == ["gone.txt", "pipe.jsonl"]


def articles(output: Path) -> list[tuple]:
    glob = output / "articles" / "**" / "*.parquet"
    if not list((output / "articles").rglob("*.parquet")):
        return []
    return duckdb.sql(f"SELECT input_uri, story_id FROM read_parquet('{glob}')").fetchall()


def test_watch_ingests_seeds_dropped_one_at_a_time_and_stops_on_sigint(tmp_path):
    folder, out = tmp_path / "inbox", tmp_path / "out"
    folder.mkdir()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "watch", "--input", str(folder),
         "--output", str(out), "--interval", "1"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        started = time.monotonic()
        for seed in sorted(SEEDS.glob("*.txt")):
            shutil.copy(seed, folder / seed.name)
            time.sleep(2)
        rows = []
        while time.monotonic() - started < 60:
            rows = articles(out)
            if len(rows) == 5:
                break
            time.sleep(1)
        assert len(rows) == 5, f"{len(rows)} articles after 60 s"
        assert len({story for _, story in rows}) == 1
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "5 files ingested" in err
    assert not (out / "_staging").exists()


def test_watch_once_ingests_each_file_once_across_restarts(tmp_path, capsys):
    folder, out = tmp_path / "inbox", tmp_path / "out"
    folder.mkdir()
    for seed in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(seed, folder / seed.name)
    watch = ["watch", "--input", str(folder), "--output", str(out), "--once", "--interval", "1"]
    # Touched within the last interval however long the run takes to start (a file's time
    # ahead of the clock is such a time too), then long untouched.
    for copied in folder.iterdir():
        os.utime(copied, (time.time() + 3600, time.time() + 3600))
    assert main([*watch, *FAST]) == 0  # just written: not settled yet
    assert "new file" not in capsys.readouterr().err
    for copied in folder.iterdir():
        os.utime(copied, (time.time() - 60, time.time() - 60))
    assert main([*watch, *FAST]) == 0
    assert "2 new file(s)" in capsys.readouterr().err
    assert main([*watch, *FAST]) == 0
    assert "new file" not in capsys.readouterr().err
    assert len(articles(out)) == 2


def test_watch_takes_names_that_are_not_utf8_and_never_reads_its_own_output(tmp_path, capsys):
    folder = tmp_path / "inbox"
    out = folder / "out"
    folder.mkdir()
    bad = folder / os.fsdecode(b"bad\xff.txt")
    seeds = sorted(SEEDS.glob("*.txt"))
    shutil.copy(seeds[0], bad)
    shutil.copy(seeds[1], folder / "b.txt")
    settled = time.time() - 60
    for path in (bad, folder / "b.txt"):
        os.utime(path, (settled, settled))
    watch = ["watch", "--input", str(folder), "--output", str(out), "--once", "--interval", "1",
             *FAST]
    assert main(watch) == 0
    err = capsys.readouterr().err
    assert "2 new file(s)" in err
    assert f"--output {out} is inside --input {folder}: its files are not read" in err
    assert str(bad) in load_record(str(out))  # the record keeps the real name
    assert main(watch) == 0
    assert "new file" not in capsys.readouterr().err
    assert sorted(Path(uri).name for uri, _ in articles(out)) == ["b.txt", "bad\\xff.txt"]


def test_watch_takes_runs_quiet_and_refuses_what_it_cannot_do(tmp_path, capsys):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    shutil.copy(next(SEEDS.glob("000_*.txt")), inbox)
    old = time.time() - 60
    os.utime(inbox / next(SEEDS.glob("000_*.txt")).name, (old, old))
    watch = ["watch", "--input", str(inbox), "--output", str(out), "--once", "--interval", "1"]
    assert main([*watch, "--quiet", *FAST]) == 0
    assert "input units read" not in capsys.readouterr().err
    assert main([*watch, "--detach"]) == 2
    assert "--detach is for `storywire run`" in capsys.readouterr().err
    for bad in (["--interval", "inf"], ["--wait_for_lock", "1e308"], ["--interval", "0"]):
        assert main(["watch", "--input", str(inbox), "--output", str(out), *bad]) == 2
        assert "is out of range" in capsys.readouterr().err


def test_a_damaged_record_of_ingested_files_is_one_line(tmp_path, capsys):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (out / "_watch").mkdir(parents=True)
    (out / "_watch" / "ingested.json").write_text('{"in/a.txt": {"size"')
    assert main(["watch", "--input", str(inbox), "--output", str(out), "--once"]) == 2
    err = capsys.readouterr().err
    assert "cannot read the record of ingested files" in err and "Traceback" not in err


def test_a_hang_up_stops_a_watch_after_its_batch_and_a_second_signal_abandons_it(
        tmp_path, capsys, monkeypatch):
    import storywire.pipeline.run as run_module

    folder, out = tmp_path / "inbox", tmp_path / "out"
    folder.mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], folder / "a.txt")
    os.utime(folder / "a.txt", (time.time() - 60, time.time() - 60))  # settled
    real_run, signals = run_module.run, []

    def batch_hit_by_signals(argv, **kwargs):
        for signum in signals:  # the terminal closes as the batch runs
            os.kill(os.getpid(), signum)
            time.sleep(0.1)
        return real_run(argv, **kwargs)

    monkeypatch.setattr(run_module, "run", batch_hit_by_signals)
    watch = ["watch", "--input", str(folder), "--output", str(out), "--interval", "1", *FAST]
    signals[:] = [signal.SIGHUP, signal.SIGHUP]
    assert main(watch) == 130
    err = capsys.readouterr().err
    assert "SIGHUP: stopping after the batch in flight" in err
    assert "batch abandoned; the output is as it was" in err and "0 files ingested" in err
    assert articles(out) == []
    signals[:] = [signal.SIGHUP]
    assert main(watch) == 0  # the batch commits, then the watch stops
    assert "1 files ingested" in capsys.readouterr().err
    assert len(articles(out)) == 1
