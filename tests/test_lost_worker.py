"""A worker process that ends during a run: the run fails with one line that says so (no
wall of Beam's tracebacks), and a rerun writes every record."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import FAST
from test_parts import _processes_of_parts
from test_portable import corpus

from storywire.pipeline.cli import main
from storywire.pipeline.lostworkers import ABANDON_SIGNAL, RunAbandoned, WatchWorkers

RUNNER_LOG = logging.getLogger("apache_beam.runners.worker.data_plane")


def _raise_in_thread(error: Exception) -> None:
    def fail():
        raise error

    thread = threading.Thread(target=fail)
    thread.start()
    thread.join()


def _record_thread_errors(monkeypatch) -> list[str]:
    """Thread errors as they would be printed, recorded (WatchWorkers hands on to the
    hook it found)."""
    printed = []
    monkeypatch.setattr(threading, "excepthook", lambda args: printed.append(str(args.exc_value)))
    return printed


def test_a_worker_exit_is_recorded_and_the_errors_that_follow_it_are_not_printed(
        monkeypatch, caplog):
    printed = _record_thread_errors(monkeypatch)
    with WatchWorkers() as workers:
        RUNNER_LOG.error("Failed to read inputs in the data plane.")
        _raise_in_thread(ConnectionError("Socket closed"))
        _raise_in_thread(RuntimeError("Worker subprocess exited with return code -9"))
    assert workers.lost.startswith("a worker process was ended by SIGKILL during the run")
    assert "dmesg" in workers.lost
    assert printed == []
    assert "Failed to read inputs" not in caplog.text


def test_without_a_worker_exit_the_held_errors_are_printed_a_moment_later(
        monkeypatch, caplog):
    printed = _record_thread_errors(monkeypatch)
    with WatchWorkers(hold_seconds=0.2) as workers:
        _raise_in_thread(ConnectionError("Socket closed"))
        RUNNER_LOG.error("Failed to read inputs in the data plane.")
        assert printed == [] and "Failed to read inputs" not in caplog.text
        time.sleep(1.5)  # while the run goes on
        assert printed == ["Socket closed"]
        assert "Failed to read inputs" in caplog.text
    assert workers.lost is None
    assert threading.excepthook is not None and threading.excepthook.__name__ == "<lambda>"
    RUNNER_LOG.error("After the run.")  # no longer held
    assert "After the run." in caplog.text


@pytest.mark.parametrize("parts", [[], ["--max_batch_articles", "300"]],
                         ids=["one-run", "in-parts"])
def test_a_worker_killed_as_it_starts_fails_the_run_in_one_line_and_a_rerun_writes_all(
        tmp_path, parts):
    # Killed before it connects: the runner would wait for it for good.
    feed = corpus(tmp_path / "feed")
    output = tmp_path / "out"
    run = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(feed),
         "--output", str(output), "--direct_num_workers=2",
         "--direct_running_mode=multi_processing", *parts],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        workers = []
        while run.poll() is None and not workers and time.monotonic() < deadline:
            workers = _processes_of_parts(run.pid, b"storywire.pipeline.worker")
            time.sleep(0.02)
        assert workers, "the run started no worker process"
        os.kill(workers[0], signal.SIGKILL)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()

    assert run.returncode == 2
    assert "Traceback" not in err
    failure = [line for line in err.splitlines() if line.startswith("storywire run: ")]
    assert len(failure) == 1
    assert "a worker process was ended by SIGKILL during the run" in failure[0]
    assert "Run again" in failure[0]

    assert main(["run", "--input", str(feed), "--output", str(output), *FAST]) == 0
    reference = tmp_path / "reference"
    assert main(["run", "--input", str(feed), "--output", str(reference), *FAST]) == 0
    assert _article_ids(output) == _article_ids(reference)


def _article_ids(output: Path) -> list[tuple]:
    return duckdb.sql(f"SELECT article_id, count(*) FROM read_parquet('{output}/articles/**/"
                      "*.parquet') GROUP BY 1 ORDER BY 1").fetchall()


def test_the_abandon_signal_stops_only_a_run_that_lost_a_worker(monkeypatch):
    _record_thread_errors(monkeypatch)
    before = signal.getsignal(ABANDON_SIGNAL)
    with WatchWorkers() as workers:
        os.kill(os.getpid(), ABANDON_SIGNAL)  # sent by someone else to a healthy run
        time.sleep(0.1)  # (delivered at once; handled between two bytecodes)
    assert workers.lost is None

    with pytest.raises(RunAbandoned), WatchWorkers(hold_seconds=0.2):
        _raise_in_thread(RuntimeError("Worker subprocess exited with return code -9"))
        time.sleep(5)  # the runner waiting for the worker that is gone
    assert signal.getsignal(ABANDON_SIGNAL) == before


def test_a_run_in_parts_stopped_after_its_first_part_says_what_is_committed():
    from storywire.pipeline.run import committed_before
    from storywire.transforms.read.parts import InputPart

    second, fourth = InputPart(2, 5, (), 100), InputPart(4, 5, (), 100)
    assert committed_before(second) == "part 1 of 5 is committed; a rerun skips its records"
    assert committed_before(fourth) == ("parts 1 to 3 of 5 are committed; a rerun skips "
                                        "their records")
