"""One writer at a time: a run, a watch and a scheduled job never write into one output
together, a run that finds the output taken says who has it, and a dead run's lock is
taken over."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import FAST, SEEDS, rows

from storywire.pipeline.cli import main
from storywire.transforms.write import lock as locks
from storywire.transforms.write.lock import (
    Holder,
    LockHeld,
    LockLost,
    OutputLock,
    check_held,
    current_holder,
)
from storywire.transforms.write.parquet import commit_tables, table_files

HOLD = """
import sys, time
from storywire.transforms.write.lock import OutputLock
lock = OutputLock(sys.argv[1], "storywire run --input feed/ (held by a test)")
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def hold_in_another_process(output: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(output)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_into_a_locked_output_exits_2_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = hold_in_another_process(out)
    try:
        assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid} on {os.uname().nodename}" in err
        assert "storywire run --input feed/ (held by a test)" in err
        assert "started 20" in err and "--wait_for_lock" in err
        assert not (out / "articles").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = hold_in_another_process(out)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert f"took over the lock on {out} from" in err and f"pid {holder.pid}" in err
    assert "no longer running" in err
    assert current_holder(str(out)) is None  # released at the end of the run


def test_wait_for_lock_waits_for_the_holder_to_finish(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    other = OutputLock(str(out), "storywire run (another)")
    other.acquire()
    threading.Timer(2.0, other.release).start()
    assert main(["run", "--input", str(SEEDS), "--output", str(out), "--wait_for_lock", "60",
                 *FAST]) == 0
    err = capsys.readouterr().err
    assert "waiting up to 60 s for `storywire run (another)`" in err
    assert len(rows(out, "articles", "article_id")) == 5


def test_two_runs_at_once_leave_one_consistent_output(tmp_path):
    out = tmp_path / "out"
    inboxes = []
    for name, seeds in (("a", "00[0-2]"), ("b", "00[3-4]")):
        inbox = tmp_path / name
        inbox.mkdir()
        for seed in SEEDS.glob(f"{seeds}_*.txt"):
            (inbox / seed.name).write_bytes(seed.read_bytes())
        inboxes.append(inbox)
    command = [sys.executable, "-m", "storywire.pipeline.cli", "run", "--output", str(out),
               "--wait_for_lock", "120", "--quiet", *FAST]
    started = [subprocess.Popen([*command, "--input", str(inbox)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for inbox in inboxes]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in started]
    assert [status for status, _ in results] == [0, 0], results
    assert sum("waiting up to 120 s" in err for _, err in results) >= 1
    articles = rows(out, "articles", "article_id")
    assert len(articles) == len({a["article_id"] for a in articles}) == 5
    stories = rows(out, "stories", "story_id")
    # Every article's story has its row, with the right count and one canonical article.
    assert {a["story_id"] for a in articles} == {s["story_id"] for s in stories}
    for story in stories:
        members = [a for a in articles if a["story_id"] == story["story_id"]]
        assert story["article_count"] == len(members)
        assert sum(a["is_canonical"] for a in members) == 1


def test_watch_holds_the_lock_while_it_watches(tmp_path, capsys):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "watch", "--input", str(inbox),
         "--output", str(out), "--interval", "0.5", *FAST],
        stderr=subprocess.PIPE, text=True)
    try:
        assert "Ctrl-C stops" in watcher.stderr.readline()
        assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 2
        assert "storywire watch --input" in capsys.readouterr().err
    finally:
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=60) == 0
    assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 0


def test_a_watch_into_a_locked_output_exits_2(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(str(out), "storywire run (another)") as other:
        other.acquire()
        assert main(["watch", "--input", str(tmp_path), "--output", str(out), "--once"]) == 2
    assert "being written by `storywire run (another)`" in capsys.readouterr().err


def test_a_run_whose_lock_was_taken_over_does_not_commit(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = OutputLock(str(out), "storywire run (mine)")
    mine.acquire()
    check_held(str(out), mine.token)
    mine.release()
    with OutputLock(str(out), "storywire run (theirs)") as theirs:
        theirs.acquire()
        staging = out / "_staging" / "run-1"
        with pytest.raises(LockLost, match="theirs"):
            commit_tables([], str(staging), str(out), lock_token=mine.token)
    assert table_files(str(out), "stories") == []  # nothing committed


class FakeStore:
    """An object store with Cloud Storage's semantics: generations, and writes and deletes
    that succeed only if the object is at the generation given (0: absent)."""

    def __init__(self):
        self.data, self.generation = None, 0
        self.lock = threading.Lock()

    def read(self):
        with self.lock:
            return None if self.data is None else (self.data, self.generation)

    def write(self, data, if_generation):
        with self.lock:
            current = self.generation if self.data is not None else 0
            if current != if_generation:
                return None
            self.data, self.generation = data, self.generation + 1
            return self.generation

    def delete(self, if_generation):
        with self.lock:
            if self.data is not None and self.generation == if_generation:
                self.data = None


def object_lock(store, command, job_finished=lambda job: None):
    lock = OutputLock("gs://bucket/out", command, job_finished=job_finished)
    lock._backend = locks._ObjectLock(store, lock._is_live)
    return lock


def test_on_an_object_store_a_live_lock_holds_and_a_stale_one_is_taken_over(monkeypatch):
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 3600)  # no heartbeat thread at work
    store = FakeStore()
    first = object_lock(store, "storywire run (first)")
    assert first.acquire() is None
    second = object_lock(store, "storywire run (second)")
    with pytest.raises(LockHeld, match="first"):
        second.acquire()
    # The first run dies: no heartbeat for longer than the lock stays fresh.
    now = time.time() + locks.STALE_AFTER_SECONDS + 1
    monkeypatch.setattr(locks.time, "time", lambda: now)
    previous = second.acquire()
    assert previous is not None and previous.command == "storywire run (first)"
    assert Holder.decode(store.read()[0]).token == second.token
    # The first run comes back: its heartbeat finds the lock is no longer its own.
    assert first._backend.refresh(first.holder) is False
    second.release()
    assert store.read() is None


def test_on_an_object_store_two_runs_taking_a_stale_lock_cannot_both_win(monkeypatch):
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 3600)
    store = FakeStore()
    dead = Holder("dead", "storywire run (dead)", "h", 1, "2026-01-01 00:00:00 UTC", 0.0)
    store.write(dead.encode(), 0)
    contenders = [object_lock(store, f"storywire run ({i})") for i in range(8)]
    won, barrier = [], threading.Barrier(len(contenders))

    def contend(lock):
        barrier.wait()
        try:
            lock.acquire()
            won.append(lock)
        except LockHeld:
            pass

    threads = [threading.Thread(target=contend, args=(c,)) for c in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert Holder.decode(store.read()[0]).token == won[0].token


def test_a_detached_job_holds_the_lock_until_its_job_ends(monkeypatch):
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 3600)
    store = FakeStore()
    launcher = object_lock(store, "storywire run --detach")
    launcher.acquire()
    launcher.hand_over("job-42")
    assert Holder.decode(store.read()[0]).job == "job-42"
    ended = {"job-42": False}
    later = time.time() + 10 * locks.STALE_AFTER_SECONDS  # long past any heartbeat
    monkeypatch.setattr(locks.time, "time", lambda: later)
    next_run = object_lock(store, "storywire run (next)", job_finished=ended.get)
    with pytest.raises(LockHeld, match="job job-42"):
        next_run.acquire()
    ended["job-42"] = True
    assert next_run.acquire().job == "job-42"


def test_a_lock_file_that_is_a_link_is_never_followed(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (out / locks.LOCK_NAME).symlink_to(precious)
    assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 2
    assert "is a symbolic link, not a lock file" in capsys.readouterr().err
    assert precious.read_text() == "keep me"


def test_a_lock_file_of_garbage_names_no_one_and_is_taken(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / locks.LOCK_NAME).write_text("[" * 60_000)
    assert Holder.decode(b"[" * 60_000) is None
    assert main(["run", "--input", str(SEEDS), "--output", str(out), "--quiet", *FAST]) == 0
