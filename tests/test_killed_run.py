"""A run killed with SIGKILL while it writes leaves the output as it was, or as a completed
run leaves it; the next run finishes the job and adds no duplicate."""

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
