"""A run killed with SIGKILL while it writes leaves the output as it was, or as a completed
run leaves it; the next run finishes the job and adds no duplicate."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import FAST, SEEDS
from test_portable import corpus

from storywire.pipeline.cli import main


def snapshot(output: Path) -> dict[str, list]:
    tables = {}
    for name in ("articles", "stories", "rejects", "story_index"):
        glob = "*.parquet" if name in ("stories", "rejects") else "**/*.parquet"
        rel = duckdb.sql(f"SELECT * FROM read_parquet('{output}/{name}/{glob}')")
        drop = {"ingested_at", "assigned_at"}
        columns = [c for c in rel.columns if c not in drop]
        tables[name] = sorted(rel.select(*columns).fetchall(), key=repr)
    return tables


def test_sigkill_during_the_write_stage_loses_and_duplicates_nothing(tmp_path):
    before = tmp_path / "before"
    first = tmp_path / "first"
    first.mkdir()
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, first / seed.name)
    assert main(["run", "--input", str(first), "--output", str(before), *FAST]) == 0
    new = corpus(tmp_path / "new")

    # What a completed second run leaves, for reference.
    completed = tmp_path / "completed"
    shutil.copytree(before, completed)
    assert main(["run", "--input", str(new), "--output", str(completed), *FAST]) == 0

    killed = tmp_path / "killed"
    shutil.copytree(before, killed)
    run = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(new),
         "--output", str(killed)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    staging = killed / "_staging"
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        if any(staging.glob("run-*/**/*.parquet")):
            break  # the write stage has begun
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)  # the run and its worker processes
    run.wait()

    assert snapshot(killed) in (snapshot(before), snapshot(completed))
    assert main(["run", "--input", str(new), "--output", str(killed), *FAST]) == 0
    assert snapshot(killed) == snapshot(completed)
    assert not staging.exists()


def _workers_of(run_pid: int) -> list[int]:
    """The pids of the worker processes a run started (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == run_pid and b"storywire.pipeline.worker" in command:
            found.append(int(entry.name))
    return found


def test_the_workers_of_a_run_killed_with_sigkill_end_without_a_word(tmp_path):
    # Their threads printed the lost connection's gRPC errors, tracebacks and all, after
    # the run's own process was gone: noise under a terminal's prompt.
    feed = tmp_path / "feed.jsonl"
    texts = [seed.read_text(encoding="utf-8") for seed in sorted(SEEDS.glob("*.txt"))]
    feed.write_text("".join(json.dumps({"id": f"r{n}", "text": f"{n} {texts[n % 5]}"}) + "\n"
                            for n in range(600)), encoding="utf-8")
    errors = tmp_path / "stderr.txt"
    with open(errors, "w") as stderr:
        run = subprocess.Popen(
            [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(feed),
             "--output", str(tmp_path / "out"), "--direct_num_workers=2",
             "--direct_running_mode=multi_processing"],
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_workers_of(run.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _workers_of(run.pid)
        assert len(workers) == 2
        while not any((tmp_path / "out" / "_staging").glob("run-*/**/*.parquet")) and (
                time.monotonic() < deadline):
            time.sleep(0.05)  # until the workers have staged articles: at work
        os.kill(run.pid, signal.SIGKILL)  # the run's own process only
        run.wait()
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and (
                time.monotonic() < deadline):
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}/cmdline").exists() for pid in workers)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    printed = errors.read_text()
    assert "Traceback" not in printed and "Exception in thread" not in printed, printed
    assert "Logging client failed" not in printed, printed
