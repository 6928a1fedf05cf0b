"""One part of a run in parts, in a process of its own (run.py runs each part so).

The local runner's main process keeps, from one part to the next, memory its steps freed
but Python's allocator did not hand back: in a million-article run made in one process,
part 2 held 1,271 MiB, where the same part in a process of its own peaked at 893. A part
in a fresh process hands all of it back when it ends, so a run holds what its largest part
holds, however many parts it has.

The part's process inherits the output's lock (a local lock's descriptor: the kernel keeps
a flock while any process holding it lives, so no other run starts while the part may
still commit, even if the run's own process was killed). It ignores Ctrl-C, SIGTERM and
SIGHUP, as the runner's workers do: the run decides what stops (`storywire watch`
finishes its batch first), and stops a part with a signal of its own (PART_STOP,
lostworkers.py), on which Beam stops the part's workers. A part whose run's process is
gone (killed, even by SIGKILL) is sent RUN_GONE by the kernel: it stops rather than commit
unseen, with no run left to go on to the next part, and removes the run's scratch
folders, which nobody else will.

    python -m storywire.pipeline.part JOB RESULT

runs the PartJob pickled in JOB and writes to RESULT its RunSummary, or the one line that
says why it failed (a failure storywire foresees). Anything else is raised: its traceback
is printed, and RESULT is not written.
"""

from __future__ import annotations

import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# How long a part asked to stop may take before it is killed.
STOP_SECONDS = 60
_PR_SET_PDEATHSIG = 1  # prctl(2)


class RunGone(KeyboardInterrupt):
    """The run's process ended: nobody is left to clean up after this part."""


def _stop_here(signum, frame):
    _raise_where_it_lands(KeyboardInterrupt, signum, frame)


def _run_gone(signum, frame):
    _raise_where_it_lands(RunGone, signum, frame)


def _raise_where_it_lands(error: type[BaseException], signum: int, frame) -> None:
    """Raise `error` where the signal came, unless that is in the import machinery: a
    module lock's weakref callback there swallows it (Python prints "Exception ignored"
    and a traceback, and the part ran on until killed). The signal comes again shortly,
    to land past it."""
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        import threading

        again = threading.Timer(0.05, os.kill, (os.getpid(), signum))
        again.daemon = True
        again.start()
        return
    raise error


if __name__ == "__main__":
    # From its first moment, a part's process leaves Ctrl-C, SIGTERM and SIGHUP to the
    # run (its command ignores them, see run_in_own_process; after a hang-up it writes no
    # more to the terminal), stops on the run's PART_STOP or the kernel's RUN_GONE as it
    # would on Ctrl-C (Beam stops the workers as it unwinds), and logs as the run does
    # before Beam, which warns as it is imported.
    from storywire.pipeline.cli import keep_standard_streams, leave_the_terminal, setup_logging
    from storywire.pipeline.lostworkers import PART_STOP, RUN_GONE

    for ignored in (signal.SIGINT, signal.SIGTERM):
        signal.signal(ignored, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, lambda signum, frame: leave_the_terminal())
    signal.signal(PART_STOP, _stop_here)
    signal.signal(RUN_GONE, _run_gone)
    keep_standard_streams()
    setup_logging()

if TYPE_CHECKING:
    from storywire.pipeline.graph import RunContext


@dataclass(frozen=True)
class PartJob:
    """What a part's process runs: the run's checked options (PipelineOptions), the part's
    RunContext, whether its progress line is shown, the run's process id and its scratch
    folder (scratch.py), in which the part keeps its own."""

    options: Any
    context: RunContext
    quiet: bool
    run_pid: int
    scratch: str


class PartFailed(Exception):
    """A part that failed; its message says why, in one line."""


def run_part(job: PartJob):
    """Build and run one part's pipeline here; its RunSummary."""
    from storywire.pipeline.cli import new_pipeline
    from storywire.pipeline.graph import build_pipeline
    from storywire.pipeline.options import StorywireOptions, make_runner
    from storywire.pipeline.report import run_summary
    from storywire.pipeline.run import run_with_progress

    pipeline, _ = new_pipeline(job.options, make_runner(job.options))
    try:
        build_pipeline(pipeline, job.options.view_as(StorywireOptions), job.context)
        result = run_with_progress(pipeline, job.context.progress, quiet=job.quiet, wait=True)
    finally:  # Beam removes it as the pipeline runs: not if stopped before
        shutil.rmtree(pipeline.local_tempdir, ignore_errors=True)
    return run_summary(result)


def run_in_own_process(job: PartJob, keep_fds: tuple[int, ...] = ()):
    """Run one part in a new process; its RunSummary. Raises PartFailed when it failed,
    and stops it (then re-raises) when this process is interrupted while it runs.
    `keep_fds`: descriptors the part's process inherits (the output's lock, the run's
    scratch folder's)."""
    with tempfile.TemporaryDirectory(prefix="part-", dir=job.scratch) as scratch:
        job_path = os.path.join(scratch, "job.pickle")
        result_path = os.path.join(scratch, "result.pickle")
        with open(job_path, "wb") as handle:
            pickle.dump(job, handle)
        from storywire.pipeline.lostworkers import IGNORING_STOPS

        command = " ".join(map(shlex.quote, [sys.executable, "-m", "storywire.pipeline.part",
                                             job_path, result_path]))
        child = subprocess.Popen(["/bin/sh", "-c", IGNORING_STOPS + command],
                                 pass_fds=keep_fds)
        try:
            status = child.wait()
        except BaseException:
            _stop(child)
            raise
        if not os.path.exists(result_path):
            raise PartFailed(f"part {job.context.part.number} of {job.context.part.of} "
                             f"{ended(status)}")
        with open(result_path, "rb") as handle:
            outcome = pickle.load(handle)
    if isinstance(outcome, str):
        raise PartFailed(outcome)
    return outcome


def ended(status: int) -> str:
    """How a part's process that wrote no result ended, from its exit status."""
    from storywire.pipeline.lostworkers import signal_name

    if status < 0:
        return f"was ended by {signal_name(-status)}"
    if status == 130:  # its way out when stopped (main)
        from storywire.pipeline.lostworkers import PART_STOP

        return f"was stopped by {signal_name(PART_STOP)}"
    return f"stopped with exit status {status} (its error is printed above)"


def _stop(child: subprocess.Popen) -> None:
    """Stop a part's process and wait until it has ended: the run releases the lock next,
    and the part must not commit after that. Another Ctrl-C or SIGTERM meanwhile is let go:
    the part ends within seconds, and killed, it would leave its workers and temporary
    folders behind. One that does not end within STOP_SECONDS is killed."""
    from storywire.pipeline.lostworkers import PART_STOP, stop_signals_let_go

    with stop_signals_let_go():
        child.send_signal(PART_STOP)
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _end_with_the_run() -> bool:
    """Have the kernel send this process RUN_GONE when the process that started it ends
    (Linux); False if that one had ended already (this process was handed to another)."""
    from storywire.pipeline.lostworkers import RUN_GONE

    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(RUN_GONE))
    except (OSError, AttributeError):
        pass  # not Linux: a part may then outlive its run
    return os.getppid() == parent and parent != 1


def _clean_up_for(job_path: str) -> None:
    """Remove the scratch folder of a run whose process is gone (the part's job, result
    and temporary files; the progress line's figures; the stored ids the parts skip): the
    folder the part's own is in (run_in_own_process), known even before the job is read."""
    shutil.rmtree(os.path.dirname(os.path.dirname(os.path.abspath(job_path))),
                  ignore_errors=True)


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    run = os.getppid()
    run_is_there = _end_with_the_run()
    job = None
    try:
        from storywire.pipeline.memory import hand_back_freed_memory
        from storywire.pipeline.run import known_failure

        hand_back_freed_memory()
        try:
            with open(job_path, "rb") as handle:
                job = pickle.load(handle)
        except FileNotFoundError:  # stopped as it started: the run took its scratch away
            raise KeyboardInterrupt from None
        if not run_is_there or os.getppid() != job.run_pid:
            raise KeyboardInterrupt
        # What Beam and the workers make in TMPDIR goes in the run's scratch folder for
        # this part, which the run removes even if this process is killed.
        os.environ["TMPDIR"] = os.path.dirname(job_path)
        tempfile.tempdir = None
        outcome = run_part(job)
    except KeyboardInterrupt as stop:
        if isinstance(stop, RunGone) or not run_is_there or os.getppid() != run:
            from storywire.pipeline.lostworkers import stop_signals_let_go

            with stop_signals_let_go():  # not to be broken off by another stop
                _clean_up_for(job_path)  # no run left to do it
        return 130
    except Exception as err:  # noqa: BLE001 - known failures get one line
        outcome = known_failure(err)
        if outcome is None:
            raise
    written = result_path + ".tmp"
    try:
        with open(written, "wb") as handle:
            pickle.dump(outcome, handle)
        os.replace(written, result_path)
    except OSError as err:  # the temporary folder is full, say: the run is told in a line
        part = job.context.part
        said = ("is committed (a rerun skips its records), but cannot hand its summary to "
                "the run" if not isinstance(outcome, str) else f"failed: {outcome}; and")
        print(f"storywire: part {part.number} of {part.of} {said}: cannot write to the "
              f"temporary folder: {err.strerror or err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    from storywire.pipeline.cli import exit_with

    exit_with(main(sys.argv[1:]))
