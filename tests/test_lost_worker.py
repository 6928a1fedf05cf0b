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

import apache_beam as beam
import duckdb
import pytest
from conftest import FAST, ctrl_c_twice
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


@pytest.mark.parametrize("parts", [[], ["--max_batch_articles", "300"]],
                         ids=["one-run", "in-parts"])
def test_a_run_stopped_while_a_worker_cannot_connect_ends_and_says_it_was_interrupted(
        tmp_path, parts):
    # A worker frozen as it starts never connects: Beam, stopping the run, would wait for
    # it for good. The run ends its workers instead.
    feed = corpus(tmp_path / "feed")
    run = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(feed),
         "--output", str(tmp_path / "out"), "--direct_num_workers=2",
         "--direct_running_mode=multi_processing", *parts],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while run.poll() is None and not workers and time.monotonic() < deadline:
            workers = _processes_of_parts(run.pid, b"storywire.pipeline.worker")
            time.sleep(0.02)
        assert workers, "the run started no worker process"
        os.kill(workers[0], signal.SIGSTOP)
        os.kill(run.pid, signal.SIGINT)  # Ctrl-C
        _, err = run.communicate(timeout=60)
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()

    assert run.returncode == 130, err
    assert "Traceback" not in err, err
    assert "storywire: interrupted" in err
    assert _processes_of_parts(run.pid, b"storywire.pipeline.worker") == []


def _reapers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "storywire-end-workers"]


def test_only_a_signal_that_stops_the_run_ends_its_workers(monkeypatch):
    _record_thread_errors(monkeypatch)
    seen = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        # `storywire watch` takes a first Ctrl-C as "finish the batch": the run goes on.
        with WatchWorkers(stop_seconds=0.1):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)
            assert seen == [signal.SIGINT] and _reapers() == []
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with pytest.raises(KeyboardInterrupt), WatchWorkers(stop_seconds=5):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    time.sleep(1.2)  # the run unwound: the thread that would end its workers ends first
    assert _reapers() == []


def test_a_second_ctrl_c_does_not_break_off_the_clean_up_of_a_stopping_run(monkeypatch):
    _record_thread_errors(monkeypatch)
    cleaned_up = []
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), WatchWorkers(stop_seconds=5):
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            finally:  # Beam stopping its threads and workers
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.3)
                cleaned_up.append(True)
        assert cleaned_up == [True]
        with pytest.raises(KeyboardInterrupt):  # once the run has unwound, Ctrl-C stops
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_run_stopped_by_two_quick_ctrl_cs_ends_at_once_and_leaves_no_worker(tmp_path):
    # The second Ctrl-C used to break off Beam's clean-up: its threads kept the process
    # waiting for good.
    feed = corpus(tmp_path / "feed")
    started = []

    def workers_at_work(run) -> bool:
        started.append(run.pid)
        return bool(_processes_of_parts(run.pid, b"storywire.pipeline.worker"))

    status, _, err = ctrl_c_twice(
        ["run", "--input", str(feed), "--output", str(tmp_path / "out"),
         "--direct_num_workers=2", "--direct_running_mode=multi_processing"],
        ready=workers_at_work, settle=1.5)
    assert status == 130, err
    assert "Traceback" not in err, err
    assert err.count("storywire: interrupted") == 1, err
    assert _processes_of_parts(started[0], b"storywire.pipeline.worker") == []


class _StopHere(beam.DoFn):
    def process(self, element):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while a step of the run works
        time.sleep(1)
        yield element


def test_ctrl_c_inside_a_step_of_an_in_process_run_is_an_interrupt(monkeypatch):
    # Beam's in-process runner reports it as RuntimeError("KeyboardInterrupt [while
    # running ...]"), which storywire took for a crash: exit 1 and a traceback.
    from apache_beam.runners.portability import fn_api_runner

    from storywire.pipeline.run import run_with_progress

    _record_thread_errors(monkeypatch)
    pipeline = beam.Pipeline(runner=fn_api_runner.FnApiRunner())
    pipeline | beam.Create(["article"]) | beam.ParDo(_StopHere())
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_with_progress(pipeline, None, quiet=True, wait=True)
    finally:
        signal.signal(signal.SIGINT, before)
