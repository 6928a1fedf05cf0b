"""`storywire run`: one batch run into an output folder, from checked options to the
summary of what it did.

A run checks its words and settings, takes the output's lock, finishes or drops what
interrupted runs left, checks the stored tables, builds the graph (graph.py), runs it while
showing progress, and prints what it did from the run's metrics. Its exit status tells a
scheduler how it went (see EXIT_STATUS in cli.py).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import sys
import tempfile
from datetime import datetime, timezone

from storywire.pipeline.cli import (
    check_output,
    fail,
    help_parser,
    lock_output,
    new_pipeline,
)
from storywire.transforms.paths import is_local
from storywire.transforms.records import printable_name, shell_word


def launcher_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the storywire process itself, which no worker sees."""
    parser.add_argument("--detach", action="store_true",
                        help="Submit a cloud job and return (a template launcher, a "
                             "scheduler) instead of waiting to print what it did; the job "
                             "releases the output's lock when it commits.")
    parser.add_argument("--quiet", action="store_true",
                        help="No progress line while the run goes on.")


def run(argv: list[str], lock=None, keep_output: bool = True, command: str = "run",
        typed: list[str] | None = None) -> int:
    """`storywire run`. `lock`: the output's lock when the caller (watch) holds it already;
    `keep_output`: False when the output is a scratch folder about to go (eval), so the
    run does not point the user at it; `command` and `typed`: what the user typed (watch
    and eval run batches), which the run's failure lines and the lock's holder name."""
    # Imported here, after logging is set up: Beam logs while it imports.
    from storywire.pipeline.options import (
        IN_PROCESS_BELOW_BYTES,
        OptionsError,
        StorywireOptions,
        StreamOptions,
        check_settings,
        check_words,
        in_process_by_size,
        pipeline_options,
    )
    from storywire.transforms.read.matching import local_input_bytes

    launcher = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    launcher_flags(launcher)
    if any(a in ("-h", "--help") for a in argv):
        parser = help_parser("run", "Read articles, clean them, fingerprint them, group "
                             "copies and stories, and write the tables into --output.",
                             StorywireOptions)
        launcher_flags(parser)
        parser.print_help()
        return 0
    try:
        flags, argv = launcher.parse_known_args(argv)
    except argparse.ArgumentError as err:  # "--quiet=1": a flag takes no value
        return fail(command, f"{err}; `storywire run --help` lists the options")
    try:
        check_words(argv, exclude=(StreamOptions,))
        inputs = pipeline_options(argv).view_as(StorywireOptions).input
        input_bytes = local_input_bytes(inputs, IN_PROCESS_BELOW_BYTES)
        options = pipeline_options(argv, input_bytes)
        check_settings(options)
    except OptionsError as err:
        return fail(command, f"{err}; `storywire run --help` lists the options")
    return _run_checked(options, flags, lock, keep_output, typed or argv,
                        in_process_by_size(argv, input_bytes), command)


def _run_checked(options, flags, lock, keep_output: bool, typed: list[str],
                 small: bool = False, command: str = "run") -> int:
    """A run whose options are checked: lock the output, run, commit, report. `typed`:
    the words the lock names its holder by; `small`: a small local input, run in-process
    (its graphs solved in one place: RunContext.gathered)."""
    from storywire.pipeline.options import StorywireOptions
    from storywire.pipeline.scratch import NoScratch, Scratch

    opts = options.view_as(StorywireOptions)
    dry_run = bool(options.get_all_options().get("dry_run"))
    if flags.detach and is_local(opts.output) and not dry_run:
        return fail(command, "--detach needs an --output on an object store (gs://...): a "
                             "local output is locked by this process, which must then wait "
                             "for the job")
    try:  # before the output is made, and before Beam, which would fail with a traceback
        scratch = Scratch("run")
    except NoScratch as err:
        return fail(command, str(err))
    # Beam's own temporary folders go in it too: a killed run's are removed with it.
    before, tempfile.tempdir = tempfile.tempdir, scratch.path
    try:
        status = check_output(command, opts.input, opts.output)
        if status is not None:
            return status
        return _run_in(scratch, options, flags, lock, keep_output, typed, small, command)
    finally:
        tempfile.tempdir = before
        scratch.remove()


def _run_in(scratch, options, flags, lock, keep_output: bool, typed: list[str], small: bool,
            command: str) -> int:
    """_run_checked's run, with `scratch` (a Scratch, scratch.py) as its own folder for the
    progress line's tallies, the stored ids a run in parts skips and its parts' jobs."""
    from storywire.pipeline.graph import RunContext, build_pipeline
    from storywire.pipeline.options import (
        StorywireOptions,
        describe_runner,
        is_local_runner,
        job_finished_checker,
        make_runner,
    )
    from storywire.pipeline.part import PartFailed, PartJob, run_in_own_process
    from storywire.transforms.clean.cleaning import to_micros
    from storywire.transforms.write.parquet import drop_staging, recover_commits
    from storywire.transforms.write.settings import keep_language, language_problem
    from storywire.transforms.write.stored import (
        SavedStoredIds,
        StoredTableError,
        check_stored_tables,
    )

    opts = options.view_as(StorywireOptions)
    dry_run = bool(options.get_all_options().get("dry_run"))
    # A part of a run in parts makes its own runner (part.py) from the options as given:
    # make_runner tells them in_memory (for the local runner, whose workers it starts
    # itself), and from those a part's runner would start no worker process.
    given = copy.deepcopy(options)
    runner = make_runner(options)
    pipeline, problem = new_pipeline(options, runner)
    if problem:
        return fail(command, problem)
    # Names as the tables store them (a name that is not UTF-8 cannot be printed as it is),
    # with no control character for the terminal to act on.
    inputs = (printable_name(" ".join(opts.input)) if len(opts.input) <= 3
              else f"{len(opts.input)} paths")
    where = f"{inputs} -> {printable_name(opts.output)}"
    if dry_run:  # builds the job and touches no storage: no lock, no recovery
        started = datetime.now(timezone.utc)
        build_pipeline(pipeline, opts, RunContext(staging_folder(opts.output, started),
                                                  to_micros(started), gathered=small))
        print(f"storywire: {where} ({describe_runner(options)})",
              file=sys.stderr, flush=True)
        if not is_local_runner(options):  # the local runner would run the job
            pipeline.run()
        print("storywire: job built (dry run: nothing submitted, nothing read or written)",
              file=sys.stderr)
        return 0

    own_lock = lock is None
    if own_lock:
        try:
            lock = lock_output(command, typed, opts.output, opts.wait_for_lock,
                               job_finished_checker(options))
        except KeyboardInterrupt:  # while it waited for another run
            _discard([pipeline])
            raise
        if lock is None:
            _discard([pipeline])
            return 2
    # The run starts once it holds the lock. Its staging folder is named after its start;
    # the data ids never depend on it.
    started = datetime.now(timezone.utc)
    progress_folder = (scratch.folder("progress")
                       if is_local_runner(options) and not flags.quiet else None)
    try:
        try:
            finished, dropped = recover_commits(opts.output)
        except (OSError, ValueError) as err:  # BeamIOError is an OSError
            return fail(command, f"cannot finish what an interrupted run left in "
                                 f"{opts.output}: {' '.join(str(err).split())}")
        if finished or dropped:
            print(f"storywire {command}: finished {finished} interrupted commit(s) and "
                  f"dropped {dropped} unfinished run(s) in {printable_name(opts.output)}",
                  file=sys.stderr)
        if is_local(opts.output):  # on object stores, each file is checked as it is read
            try:
                check_stored_tables(opts.output, settled=True)  # under the lock
            except StoredTableError as err:
                return fail(command, stored_table_advice(str(err)))
        problem = language_problem(opts.output, opts.language)
        if problem:
            return fail(command, problem)
        keep_language(opts.output, opts.language)
        plan = None if flags.detach else planned_parts(options)
        parts = plan if plan and len(plan) > 1 else [None]
        gathered = small or fits_one_worker(plan)
        if parts != [None]:  # each part makes its own pipeline
            _discard([pipeline])
        print(f"storywire: {where} ({describe_runner(options)})"
              + (f", in {len(parts)} parts of at most about {opts.max_batch_articles:,} "
                 "records" if len(parts) > 1 else ""),
              file=sys.stderr, flush=True)
        stored_ids = None
        if parts != [None]:
            stored_ids = SavedStoredIds(opts.output, os.path.join(scratch.path, "ids.npy"))
        run_started, summaries = started, []
        for part in parts:
            if part is not None:
                started = datetime.now(timezone.utc)
                print(f"storywire: part {part.number} of {part.of} (about {part.records:,} "
                      "records)", file=sys.stderr, flush=True)
                if progress_folder:  # the progress line shows this part's figures
                    progress_folder = scratch.folder("progress")
                committed = f" ({committed_before(part)})" if part.number > 1 else ""
                try:
                    stored_ids.update()
                except StoredTableError as err:
                    return fail(command, stored_table_advice(str(err)) + committed)
                except OSError as err:  # the temporary folder is full, say
                    return fail(command, "cannot keep the stored ids in the temporary "
                                         f"folder: {err.strerror or err}{committed}")
            context = RunContext(
                staging_folder(opts.output, started), to_micros(started),
                lock_token=lock.token, release_lock=flags.detach, progress=progress_folder,
                part=part, gathered=gathered, stored_ids=stored_ids and stored_ids.path)
            try:
                if part is None:
                    build_pipeline(pipeline, opts, context)
                    result = run_with_progress(pipeline, progress_folder, quiet=flags.quiet,
                                               wait=not flags.detach)
                else:  # in a process of its own (part.py), which holds the lock with us
                    summaries.append(report_part(run_in_own_process(
                        PartJob(given, context, flags.quiet, os.getpid(), scratch.path),
                        lock.descriptors() + scratch.descriptors()),
                        part, started))
            except Exception as err:  # noqa: BLE001 - known failures get one line
                known = str(err) if isinstance(err, PartFailed) else known_failure(err)
                if known is None:
                    raise
                if known.startswith(StoredTableError.PREFIX):  # the run holds the lock still
                    drop_staging(context.staging, opts.output)
                if part is not None and part.number > 1:
                    known += f" ({committed_before(part)})"
                return fail(command, known)
            except KeyboardInterrupt:
                if part is not None and part.number > 1:
                    print(f"\nstorywire: {committed_before(part)}", file=sys.stderr)
                raise
        if flags.detach:
            job = getattr(result, "job_id", lambda: None)()
            lock.hand_over(job or context.staging)
            own_lock = False  # the job releases it
            print(f"storywire: job submitted{f' as {job}' if job else ''}; not waiting for "
                  "it (the job holds the lock on the output until it commits)",
                  file=sys.stderr)
            return 0
        if summaries:
            from storywire.pipeline.report import whole_run

            # Counted from the story index while the lock is held: a run waiting for it
            # would otherwise commit in between, and its articles be counted as this run's.
            total = whole_run(summaries, opts.output, to_micros(run_started))
    finally:
        if own_lock:
            lock.release()
        _discard([pipeline])  # one a refusal, a failure or a run in parts left unrun
    if summaries:
        return report(total, opts, run_started, keep_output, f"all {len(summaries)} parts")
    from storywire.pipeline.report import run_summary

    return report(run_summary(result), opts, run_started, keep_output)


def _discard(pipelines: list) -> None:
    """Remove the temporary folders of pipelines (Beam removes a pipeline's own when it
    runs; one refused before running would leave it)."""
    for made in pipelines:
        shutil.rmtree(made.local_tempdir, ignore_errors=True)


def committed_before(part) -> str:
    """What a run in parts stopped during `part` (not the first) has committed."""
    if part.number == 2:
        return f"part 1 of {part.of} is committed; a rerun skips its records"
    return (f"parts 1 to {part.number - 1} of {part.of} are committed; a rerun skips their "
            "records")


def report_part(summary, part, started: datetime):
    """Print what one part of a run in parts did (its RunSummary); the summary."""
    from storywire.pipeline.report import say

    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    files = len({chunk.path for chunk in part.chunks})
    say(summary.text(files=f"from {files} file{'s' * (files != 1)}"))
    print(f"storywire: part done in {elapsed:.1f} s", file=sys.stderr, flush=True)
    return summary


def planned_parts(options) -> list | None:
    """The parts a local run over local input is made of (transforms/read/parts.py), one
    part for an input of at most `--max_batch_articles` records; None where the run is
    not planned: on a cloud runner, or in one piece whatever its size (0)."""
    from storywire.pipeline.options import StorywireOptions, is_local_runner, local_workers
    from storywire.transforms.read.parts import plan_parts, uncut_over

    opts = options.view_as(StorywireOptions)
    if (not opts.max_batch_articles or not is_local_runner(options)
            or not all(p and is_local(p) for p in opts.input)):
        return None
    parts = plan_parts(opts.input, opts.output, opts.max_batch_articles,
                       workers=local_workers(options))
    for line in uncut_over(parts, opts.max_batch_articles):
        print(f"storywire: note: {line}", file=sys.stderr, flush=True)
    return parts


def fits_one_worker(plan: list | None) -> bool:
    """Whether each pipeline of a planned run reads few enough records for its graphs to
    be solved on one worker (components.py): counted, not estimated from a file's size."""
    from storywire.transforms.copies.components import GATHERED_AT_MOST_RECORDS

    return plan is not None and all(
        part.records <= GATHERED_AT_MOST_RECORDS and not part.estimated for part in plan)


def report(summary, opts, started: datetime, kept: bool, parts: str | None = None) -> int:
    """Print what the run did (with `parts`, the sum of its parts); its exit status. `kept`:
    the output is the user's to look at (not a scratch folder about to go)."""
    from storywire.pipeline.report import exit_status, say

    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    if parts:  # the sum, told apart from the parts' own lines
        say(f"{parts}:\n" + "\n".join("  " + line for line in summary.text().splitlines()))
    else:
        say(summary.text())
    then = (f"; `storywire stories {shell_word(opts.output)}` prints the "
            "stories" if kept else "")
    print(f"storywire: done in {elapsed:.1f} s{then}", file=sys.stderr, flush=True)
    reasons = (f"the reasons are in {printable_name(opts.output.rstrip('/'))}/rejects/" if kept
               else "run with --output DIR to keep the rejects table")
    status, message = exit_status(summary, opts.max_reject_fraction, reasons)
    if message:
        print(f"storywire: {message}", file=sys.stderr)
    return status


def run_with_progress(pipeline, progress_folder: str | None, quiet: bool, wait: bool):
    """Run the pipeline, showing progress on the terminal unless `quiet`; the result.

    The local runner runs the whole pipeline inside `pipeline.run()`: progress comes from
    the tallies its steps keep in `progress_folder` and from its stage log. Other runners
    return at once; while waiting, progress comes from the job's metrics. A run that fails
    because a worker process ended raises WorkerLost (lostworkers.py), which says how."""
    from storywire.pipeline.lostworkers import RunAbandoned, WatchWorkers, WorkerLost

    workers = WatchWorkers()
    try:
        with workers:
            return _run_and_show(pipeline, progress_folder, quiet, wait)
    except (Exception, RunAbandoned) as err:
        if workers.stopped:
            # Beam's in-process runner reports an interrupt inside a step as a
            # RuntimeError ("KeyboardInterrupt [while running ...]"): it is the user's stop.
            raise KeyboardInterrupt from err
        if workers.lost is None:
            raise
        raise WorkerLost(f"{workers.lost}. Run again") from err


def _run_and_show(pipeline, progress_folder: str | None, quiet: bool, wait: bool):
    from storywire.transforms.progress import Progress, StageLog, read_tallies

    if progress_folder is not None:
        with StageLog() as stages:
            progress = Progress(lambda: read_tallies(progress_folder), lambda: stages.steps)
            progress.start()
            try:
                return pipeline.run()
            finally:
                progress.stop()
    result = pipeline.run()
    if not wait:
        return result
    if quiet:
        result.wait_until_finish()
        return result
    progress = Progress(lambda: job_counts(result))
    progress.start()  # (for a runner whose metrics are not live, it shows the time)
    try:
        result.wait_until_finish()
    finally:
        progress.stop()
    return result


def job_counts(result):
    """Input units read and records cleaned so far, from a running job's metrics: those of
    a Dataflow job, which are live (a portable runner's result would keep the first, empty
    answer for good, and report it at the end); none for other runners."""
    from collections import Counter

    from apache_beam.metrics.metric import MetricsFilter

    from storywire.transforms.metrics import ARTICLES_CLEANED, INPUT_UNITS, NAMESPACE
    from storywire.transforms.progress import CLEANED, READ

    counts = Counter()
    if type(result).__name__ != "DataflowPipelineResult":
        return counts
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    except Exception:  # noqa: BLE001 - a runner that cannot say yet shows no figures
        return counts
    for counter in query["counters"]:
        key = {INPUT_UNITS: READ, ARTICLES_CLEANED: CLEANED}.get(counter.key.metric.name)
        if key:
            counts[key] += counter.attempted or 0
    return counts


def known_failure(err: BaseException) -> str | None:
    """The one line to say for a failure storywire foresees (a stored table this version
    cannot use, a lock taken over, a worker process that ended), found in the runner's
    error, which carries the worker's message; None for anything else."""
    import re

    from storywire.pipeline.lostworkers import WorkerLost
    from storywire.transforms.write.stored import StoredTableError

    if isinstance(err, WorkerLost):
        return str(err)
    text = str(err)
    causes = "|".join(re.escape(c) for c in StoredTableError.CAUSES.values())
    match = re.search(re.escape(StoredTableError.PREFIX) + rf"[^\n]*? \((?:{causes})\)", text)
    if match:
        return stored_table_advice(match.group(0))
    match = re.search(r"the lock on [^\n]*? this run does not commit[^\n]*", text)
    if match:
        return match.group(0)
    return storage_failure(text)


# What a filesystem says when it refuses what a run does (errno 28, 13, 30, 122), as an
# OSError says it ("[Errno 28] No space left on device: 'path'") and as Beam's
# BeamIOError carries one of a rename ("{('from', 'to'): OSError(PermissionError(13,
# '...'))}"; a path holding a quote is written in double quotes).
_ERRNOS = "(?:28|13|30|122)"
_STORAGE_ERRORS = re.compile(
    rf"\[Errno {_ERRNOS}\] (.*?)(?= \[while running '|$)"
    rf"""|\((['"]).*?\2, (['"])(.*?)\3\): (?:\w*Error\()?\w*Error\({_ERRNOS}, '([^'\n]*)'\)""",
    re.MULTILINE)
_STEP = re.compile(r"\[while running '(.*?)'\]")


def storage_failure(text: str) -> str | None:
    """One line for a run stopped because the filesystem refused what it did (a full disk,
    a folder it may not write to), found in the runner's error; None when the error is not
    that."""
    match = _STORAGE_ERRORS.search(text)
    if not match:
        return None
    what = match.group(1) or f"{match.group(5)}: '{match.group(4)}'"
    step = _STEP.search(text, match.start())
    if step and step.group(1).startswith("Commit"):
        return (f"the filesystem refused a write while the run committed its tables: "
                f"{what.strip()}. The tables hold part of this run until the next run "
                "finishes its commit: allow writing (or make room), and run again")
    where = f" (in step {step.group(1)})" if step else ""
    return (f"the filesystem refused: {what.strip()}{where}. Nothing of this run is in the "
            "tables: make room (or fix the permissions), and run again")


def staging_folder(output: str, started: datetime) -> str:
    from storywire.transforms.write.parquet import STAGING_DIR

    return "/".join([output.rstrip("/"), STAGING_DIR, started.strftime("run-%Y%m%dT%H%M%S%fZ")])


def stored_table_advice(problem: str) -> str:
    # Not "move it aside": the story index and the stories table still count the articles
    # of a file gone, so they would be stored and counted again (a copy is the exception,
    # and its message says so).
    return (f"{problem}; nothing was read or written. Write to a new --output, or restore "
            "the file from a backup and run again")


