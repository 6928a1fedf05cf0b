"""The `storywire` command: its subcommands, their help, and what they share (one-line
failures, checks of the output folder and of cloud options). `run` is in run.py, `watch` in
watch.py, `eval` in evaluate.py."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import NoReturn

from storywire.pipeline.memory import hand_back_freed_memory
from storywire.transforms.records import printable_name

# The exit status of a command stopped by Ctrl-C (or SIGTERM, SIGHUP), as shells give it.
INTERRUPTED = 130


class _ConsoleLogs(logging.Filter):
    """What of Beam's logging reaches the terminal, and how it reads there."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # Beam warns at import time that BigQuery clients are missing (the `gcp` extra),
        # which storywire does not use; and that the local runner's workers are started
        # in in_memory mode with a subprocess environment (see options.make_runner).
        if ("apitools not found" in message or "direct_running_mode should be" in message):
            return False
        if record.name == "apache_beam.runners.common" and record.levelno >= logging.ERROR:
            # A step's error, logged where it happened in an in-process run: a full disk or
            # a folder it may not write to is said in one line when the run fails.
            from storywire.pipeline.run import storage_failure

            return storage_failure(message) is None
        if not (record.name.startswith("apache_beam.runners.portability")
                and message.startswith("Worker: ")):
            return True
        # A worker's error that fails the run is relayed by the local runner as a log line
        # holding the whole traceback; the run's failure carries the same message, and is
        # either said in one line (a failure storywire foresees) or raised.
        if record.levelno >= logging.ERROR:
            return False
        # A worker's warning arrives as a log entry in protobuf text: its message alone.
        record.msg, record.args = f"worker: {worker_message(message)}", ()
        return True


def worker_message(relayed: str) -> str:
    """The message of a worker's log entry as the local runner relays it ("Worker:
    severity: WARN timestamp {...} message: "..." log_location: ...")."""
    import codecs
    import re

    found = re.search(r'message: "((?:[^"\\]|\\.)*)"', relayed)
    if not found:
        return relayed
    return codecs.escape_decode(found.group(1).encode())[0].decode("utf-8", "replace")

USAGE = """storywire run [--input PATH ...] [--output DIR] [--detach] [storywire and Beam options]
storywire stream --input_subscription projects/P/subscriptions/S --output gs://B/out --runner=...
storywire watch --input DIR ... [--output DIR] [--interval S] [--once] [run options]
storywire stories [DIR]
storywire eval LABELLED.jsonl [--gold_field story] [--output DIR] [run options]
storywire schema [{tables}]

  run       read articles, clean, fingerprint, group copies and stories, write Parquet
  stream    the same pipeline on a Pub/Sub stream, on Dataflow or another streaming runner
  watch     ingest files as they land in folders, each once; Ctrl-C stops
  stories   print the stories table of an output folder (default output/)
  eval      run on a labelled JSONL file and score the stories against its gold field
  schema    print the columns of the output tables, with their types and meaning

Run `storywire COMMAND --help` for a command's options."""

EXIT_STATUS = """exit status:
  0  the tables were written (a run with some rejects says how many)
  1  no article came out of the input, and none was in the output already
  2  the command cannot run: an unknown option or a value out of range, an --output that
     cannot be written, another run writing to the same --output, stored tables written
     by another version of storywire or damaged; nothing is read or written. Also a run
     stopped by a worker that ended or a write its output's filesystem refused: one line
     says what, and the next run finishes or drops what it left
  3  more than --max_reject_fraction of the run's new rows are rejects (the tables are
     written all the same; the reasons are in OUTPUT/rejects/)
  4  input units were lost on the way (read is not articles + rejects + skipped): the
     tables hold what was counted; run again to read what is missing"""

BEAM_OPTIONS = """Beam's own options (--runner, --direct_num_workers, --project, --region,
--temp_location, ...) are taken too and go to Beam. Without --runner, storywire runs
Beam's local runner with one worker process per core (in its own process for a local
input under 4 MiB). Any other option is an error."""


def usage() -> str:
    from storywire.schemas import TABLES

    return USAGE.format(tables="|".join(TABLES))


class _Help(argparse.HelpFormatter):
    """Help with every option's default, and the epilog's line breaks kept."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, argparse.SUPPRESS, False) and "%(default)" not in text:
            default = action.default
            shown = " ".join(default) if isinstance(default, list) else default
            text += f" (default: {shown})"
        return text

    def _fill_text(self, text, width, indent):
        return "".join(indent + line for line in text.splitlines(keepends=True))


def help_parser(command: str, description: str, *option_classes,
                epilog: str = f"{BEAM_OPTIONS}\n\n{EXIT_STATUS}") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"storywire {command}", description=description,
                                     epilog=epilog, formatter_class=_Help)
    for options_class in option_classes:
        options_class._add_argparse_args(parser)
    return parser


def fail(command: str, message: str) -> int:
    """A command that cannot run: one line saying why, exit status 2. The line may name
    a file: no control character in it reaches the terminal."""
    print(f"storywire {command}: {printable_name(message)}", file=sys.stderr)
    return 2


def stream(argv: list[str], command: str = "stream", typed: list[str] | None = None,
           keep_output: bool = True) -> int:
    """`storywire stream`: the pipeline on a Pub/Sub stream, on a streaming runner.
    `command` and `typed`: what the user typed (eval replays streams), which failure lines
    and the lock's holder name; `keep_output` False: a replay's output is a scratch
    folder."""
    from apache_beam.options.pipeline_options import StandardOptions

    from storywire.pipeline.graph import build_stream_pipeline
    from storywire.pipeline.options import (
        BATCH_ONLY,
        STREAM_SETTINGS,
        OptionsError,
        StorywireOptions,
        StreamOptions,
        check_settings,
        check_stream_words,
        check_words,
        flags_given,
        pipeline_options,
    )
    from storywire.transforms.clean.cleaning import to_micros

    if any(a in ("-h", "--help") for a in argv):
        parser = help_parser("stream", "The same pipeline on a Pub/Sub stream, on Dataflow or "
                             "another streaming runner (--runner is required).", StreamOptions,
                             StorywireOptions)
        for action in parser._actions:
            if set(action.option_strings) & set(BATCH_ONLY):
                action.help = argparse.SUPPRESS
        parser.print_help()
        return 0
    if any(a == "--replay" or a.startswith("--replay=") for a in argv):
        # A replay prints one line when it ends: nothing for --quiet to silence.
        argv = [a for a in argv if a != "--quiet"]
    try:
        check_stream_words(argv)
        check_words(argv, not_offered=BATCH_ONLY)
        check_settings(pipeline_options(argv))
        check_settings(pipeline_options(argv), STREAM_SETTINGS)
    except OptionsError as err:
        return fail(command, f"{err}; `storywire stream --help` lists the options")
    given = flags_given(argv)
    if pipeline_options(argv).view_as(StreamOptions).replay:
        return replay_stream(argv, command, typed, keep_output)
    if "--runner" not in given:
        print("storywire stream: choose a streaming runner, e.g. --runner=DataflowRunner "
              "(Flink or Spark through --runner=PortableRunner). Beam's local runners "
              "cannot read Pub/Sub; locally, `storywire watch` ingests a folder as files "
              "land.", file=sys.stderr)
        return 2
    options = pipeline_options(argv)
    options.view_as(StandardOptions).streaming = True
    opts = options.view_as(StorywireOptions)
    stream_opts = options.view_as(StreamOptions)
    pipeline, problem = new_pipeline(options)
    if problem:
        print(f"storywire stream: {problem}", file=sys.stderr)
        return 2
    if bool(stream_opts.input_subscription) == bool(stream_opts.input_topic):
        print("storywire stream: give one of --input_subscription projects/P/subscriptions/S "
              "or --input_topic projects/P/topics/T", file=sys.stderr)
        return 2
    try:
        from apache_beam.io.gcp.pubsub import ReadFromPubSub
    except ImportError:
        print("storywire stream: reading Pub/Sub needs the gcp extra: "
              "pip install 'storywire[gcp]'", file=sys.stderr)
        return 2
    source = stream_opts.input_subscription or stream_opts.input_topic
    started = datetime.now(timezone.utc)
    try:
        read = ReadFromPubSub(subscription=stream_opts.input_subscription,
                              topic=stream_opts.input_topic, with_attributes=True)
    except ValueError as err:  # a malformed subscription or topic name
        print(f"storywire stream: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    messages = pipeline | "ReadPubSub" >> read
    build_stream_pipeline(messages, opts, stream_opts, source, to_micros(started))
    result = pipeline.run()
    if options.get_all_options().get("dry_run"):
        print(f"storywire stream: job built ({options.view_as(StandardOptions).runner}, "
              "dry run: nothing submitted)", file=sys.stderr)
        return 0
    job = getattr(result, "job_id", lambda: None)()
    print(f"storywire stream: {printable_name(source)} -> {printable_name(opts.output)} running"
          + (f" as job {job}" if job else ""), file=sys.stderr)
    return 0


def holds_tables(output: str) -> bool:
    """Whether an output folder (any filesystem) holds files of any table."""
    from storywire.schemas import TABLES
    from storywire.transforms.write.parquet import table_files

    return any(table_files(output, table) for table in TABLES)


def replay_stream(argv: list[str], command: str = "stream",
                  typed: list[str] | None = None, keep_output: bool = True) -> int:
    """`storywire stream --replay FILE.jsonl`: the stream on the local streaming runner.
    `keep_output` False: the output is a scratch folder (eval's), not the user's."""
    from storywire.pipeline.graph import build_stream_pipeline
    from storywire.pipeline.lostworkers import stop_signals_let_go
    from storywire.pipeline.options import (
        StorywireOptions,
        StreamOptions,
        pipeline_options,
    )
    from storywire.pipeline.replay import replay
    from storywire.transforms.clean.cleaning import to_micros
    from storywire.transforms.read.matching import input_name
    from storywire.transforms.write.parquet import remove_empty_folders
    from storywire.transforms.write.stored import current_story_ids

    options = pipeline_options(argv)
    opts, stream_opts = options.view_as(StorywireOptions), options.view_as(StreamOptions)
    path = stream_opts.replay
    if stream_opts.input_subscription or stream_opts.input_topic:
        return fail(command, "--replay reads a file instead of Pub/Sub: give it without "
                                "--input_subscription or --input_topic")
    if not os.path.isfile(path):
        from storywire.transforms.read.matching import not_a_file

        return fail(command, f"--replay {path}: {not_a_file(path)}")
    if holds_tables(opts.output):
        return fail(command, f"--output {opts.output} holds tables already: a replay writes "
                                "into a new or empty folder (it does not skip the articles "
                                "stored there, as `storywire run` does)")
    status = check_output(command, [path], opts.output)
    if status is not None:
        return status
    lock = lock_output(command, typed or argv, opts.output, opts.wait_for_lock)
    if lock is None:
        return 2
    started = datetime.now(timezone.utc)
    try:
        seconds = replay(options, path, lambda messages: build_stream_pipeline(
            messages, opts, stream_opts, input_name(path), to_micros(started), replayed=True))
    except (OSError, EOFError) as err:  # a damaged .gz, a file that went away
        return fail(command, f"--replay {path}: cannot be read: {err}")
    except KeyboardInterrupt:
        # What the windows wrote so far stays; a replay does not go on from it.
        with stop_signals_let_go():
            print(f"\nstorywire {command}: interrupted; " + (
                "nothing was kept" if not keep_output else
                f"{opts.output} holds what the replay wrote before it stopped: replay "
                "into a new or empty folder" if holds_tables(opts.output)
                else "nothing was written"), file=sys.stderr)
        return INTERRUPTED
    finally:
        with stop_signals_let_go():
            remove_empty_folders(opts.output)
            lock.release()
    stories = current_story_ids(opts.output)
    print(f"storywire {command}: replayed {printable_name(f'{path} -> {opts.output}')} in "
          f"{seconds:.1f} s: "
          f"{len(stories)} articles in {len(set(stories.values()))} stories")
    if not stories and command == "stream":  # as a run from which no article came (eval
        # says so itself, with what it could not score)
        where = (f"; the reasons are in {printable_name(os.path.join(opts.output, 'rejects'))}/"
                 if keep_output and os.path.isdir(os.path.join(opts.output, "rejects")) else "")
        print(f"storywire {command}: no article came out of the replay{where}", file=sys.stderr)
        return 1
    return 0


def new_pipeline(options, runner=None):
    """(pipeline, None), or (None, why not) for cloud options that cannot make a job: ours
    are checked before Beam's, which would reach for the network on a bad bucket name."""
    import apache_beam as beam

    from storywire.pipeline.options import dataflow_problem

    problem = dataflow_problem(options)
    if problem:
        return None, problem
    try:
        return beam.Pipeline(runner=runner, options=options), None
    except ValueError as err:  # Beam's validation of the cloud options
        return None, " ".join(str(err).split())


def check_output(command: str, inputs: list[str], output: str) -> int | None:
    """Before any work: exit status 2, after one line saying why, for an --output that
    cannot be written or an --input inside it; None to go on (with a note when the output
    is inside an input: its files are not read)."""
    from storywire.transforms.read.matching import input_output_overlap

    try:
        output.encode("utf-8")
    except UnicodeEncodeError:
        from storywire.transforms.records import storable_text

        return fail(command, f"--output {storable_text(output)} is not a UTF-8 name: the "
                             "tables' paths must be; choose another folder")
    outer = enclosing_output(output)
    if outer:
        return fail(command, f"--output {output} is inside the {outer[1]} table of the output "
                             f"{outer[0]}: its files would be read as rows of that table; "
                             f"give {outer[0]} itself, or a folder of its own")
    problem = local_output_problem(output)
    if problem:
        return fail(command, f"cannot write to --output {output}: {problem}")
    overlap = input_output_overlap(inputs, output)
    if overlap and overlap.fatal:
        return fail(command, overlap.message)
    if overlap:
        print(f"storywire {command}: {overlap.message}", file=sys.stderr)
    return None


def lock_output(command: str, argv: list[str], output: str, wait_seconds: float,
                job_finished=lambda job: None):
    """The output's lock, held for `storywire COMMAND argv` (see transforms/write/lock.py); it
    says so when it waits for another run, or takes over the lock of a run that died.
    None, after one line saying why, when the lock cannot be had."""
    from storywire.transforms.write.lock import LockHeld, OutputLock

    lock = OutputLock(output, command_line(command, argv), job_finished=job_finished)
    try:
        previous = lock.acquire(wait_seconds, on_wait=lambda holder: print(
            f"storywire {command}: waiting up to {wait_seconds:g} s for "
            + printable_name(f"{holder.describe() if holder else 'another run'} to finish "
                             f"writing to {output}"),
            file=sys.stderr, flush=True))
    except LockHeld as held:
        fail(command, f"{held}; wait for it with --wait_for_lock SECONDS")
        return None
    except OSError as err:  # a filesystem without flock, a bucket we may not write
        fail(command, f"cannot lock --output {output}: {err}")
        return None
    if previous is not None:
        print(f"storywire {command}: took over the lock on "
              + printable_name(f"{output} from {previous.describe()}")
              + ", which is no longer running", file=sys.stderr)
    return lock


def command_line(command: str, argv: list[str]) -> str:
    """The command a lock names as its holder, short enough to read."""
    words = " ".join(["storywire", command, *argv])
    return words if len(words) <= 160 else words[:159] + "…"


def enclosing_output(output: str) -> tuple[str, str] | None:
    """(an output folder, the table) when a local --output lies inside one of that output's
    table folders; None otherwise."""
    from pathlib import Path

    from storywire.schemas import TABLES
    from storywire.transforms.paths import is_local

    if not is_local(output):
        return None
    # As written and with links resolved: a link into a table folder is inside it too.
    for path in dict.fromkeys([Path(os.path.abspath(output)), Path(os.path.realpath(output))]):
        for folder in (path, *path.parents):
            if folder.name in TABLES and holds_tables(str(folder.parent)):
                outer = str(folder.parent)
                return (outer if os.path.isabs(output) else os.path.relpath(outer)), folder.name
    return None


def local_output_problem(output: str) -> str | None:
    """Why a local --output folder cannot be written, found before any work is done.
    Cloud paths are checked by the runner."""
    from storywire.transforms.paths import is_local

    if not is_local(output):
        return None
    path = output
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        return err.strerror or str(err)
    if not os.access(path, os.W_OK):
        return _not_writable(path)
    # A run stages its files in _staging and commits them into every table folder (and its
    # partition folders): one it may not write to would stop it after all the work.
    from storywire.schemas import TABLES
    from storywire.transforms.write.parquet import STAGING_DIR

    for table in (*TABLES, STAGING_DIR):
        folder = os.path.join(path, table)
        if not os.path.isdir(folder):
            continue
        try:
            folders = [folder, *(entry.path for entry in os.scandir(folder) if entry.is_dir())]
        except OSError as err:  # a folder it may not even list
            return f"{err.strerror or err} on its folder {table}"
        for inner in folders:
            if not os.access(inner, os.W_OK | os.X_OK):
                return f"{_not_writable(inner)} on its folder {os.path.relpath(inner, path)}"
    return None


def _not_writable(path: str) -> str:
    """Why a folder this user may not write to is so, as the system would say it."""
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return os.strerror(errno.EROFS) if read_only else "permission denied"


def raise_interrupt(signum, frame):
    """A signal handler that stops the process as Ctrl-C does."""
    raise KeyboardInterrupt


def leave_the_terminal() -> None:
    """Point stdout and stderr, where they are a terminal, at /dev/null. After a hang-up
    (SIGHUP: the terminal closed) every write to it fails, and nobody is there to read;
    a file or a pipe they go to is kept."""
    import stat

    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # what it held was for the terminal
            try:
                if stat.S_ISCHR(os.fstat(stream.fileno()).st_mode):
                    os.dup2(null, stream.fileno())
            except (OSError, ValueError):
                pass  # closed, or not a file
    finally:
        os.close(null)


def hang_up(signum, frame):
    """SIGHUP: the terminal closed; the run stops as on Ctrl-C, and says so to no one."""
    leave_the_terminal()
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (a scheduler's or `timeout`'s stop) and SIGHUP (the terminal closed) stop a
    # run as Ctrl-C does: a part under way is stopped with it, and the run says what is
    # committed. Under `nohup`, SIGHUP stays ignored.
    own_signals = threading.current_thread() is threading.main_thread()
    before = {}
    if own_signals:
        before = {signum: signal.getsignal(signum)
                  for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        signal.signal(signal.SIGTERM, raise_interrupt)
        if before[signal.SIGHUP] is not signal.SIG_IGN:
            signal.signal(signal.SIGHUP, hang_up)
    try:
        return _main(argv)
    except SystemExit as done:  # argparse's --help and usage errors: a status to return
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
    except KeyboardInterrupt:
        # Ctrl-C: nothing more is committed (a run in parts has said which parts are), and
        # a commit begun is finished by the next run; no traceback for a person who asked
        # to stop, nor for one who asks twice.
        from storywire.pipeline.lostworkers import stop_signals_let_go

        with stop_signals_let_go():
            print("\nstorywire: interrupted; what the run had not committed is not in the "
                  "tables (a commit under way is finished by the next run)", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`storywire stories out/ | head`): no
        # traceback about it. Python's advice: point stdout at devnull before exiting.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def setup_logging() -> None:
    """Logging as storywire's processes show it: warnings up, Beam's noise filtered."""
    logging.basicConfig(level=os.environ.get("STORYWIRE_LOG", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ConsoleLogs())


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    hand_back_freed_memory()
    setup_logging()
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        from storywire.pipeline.run import run

        return run(rest)
    if command == "stream":
        return stream(rest)
    if command == "watch":
        from storywire.pipeline.watch import watch

        return watch(rest)
    if command == "eval":
        from storywire.pipeline.evaluate import evaluate

        return evaluate(rest)
    if command == "schema":
        from storywire.pipeline.report import print_schema
        from storywire.schemas import TABLES

        parser = argparse.ArgumentParser(
            prog="storywire schema",
            description="Print the columns of the output tables, with their types and "
                        "meaning.")
        parser.add_argument("tables", nargs="*", metavar="TABLE",
                            help=f"tables to print (default: all of {', '.join(TABLES)})")
        return print_schema(parser.parse_args(rest).tables)
    if command == "stories":
        from storywire.pipeline.options import OptionsError, ascii_number, parse_command_words

        parser = argparse.ArgumentParser(prog="storywire stories", exit_on_error=False,
                                         description="Print the stories table of an output "
                                                     "folder, largest stories first.")
        parser.add_argument("output", nargs="?", default="output/")
        parser.add_argument("--limit", type=ascii_number(int), default=50,
                            help="rows to print (0: all)")
        try:
            args, unknown = parse_command_words(parser, rest)
        except OptionsError as err:
            return fail("stories", f"{err}; `storywire stories --help` lists the options")
        if unknown:  # one line, where parse_args would print its usage too
            return fail("stories", f"unexpected argument {unknown[0]!r}; `storywire stories "
                                   "--help` lists the options")
        if args.limit < 0:
            return fail("stories", f"--limit {args.limit}: give the number of rows to print "
                                   "(0: all)")
        from storywire.pipeline.report import print_stories

        return print_stories(args.output, args.limit)
    print(f"storywire: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
    return 2


def entry() -> None:
    """The `storywire` command. Once its work is done, Ctrl-C has nothing left to stop: one
    pressed as the process exits (Beam's threads end, files close) would end it by the
    signal, after its last line, instead of with the status it returned. `main` puts the
    Ctrl-C handler back as it returns; a second Ctrl-C landing between that and the line
    that ignores it (the second of two pressed to stop a run) is caught here, or Python
    would end the process by the signal (status -2)."""
    status = INTERRUPTED  # main was interrupted as it handed its status back
    keep_standard_streams()
    try:
        status = main()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with(status, at_once=sys.argv[1:2] in ([c] for c in READ_ONLY_COMMANDS))


def keep_standard_streams() -> None:
    """Standard streams a long run can count on, whatever it was started with.

    One started with a stream closed (`2>&-`, some service managers) would have the next
    file it opens take that descriptor: the output's lock file, which its lines and its
    workers' would then be written into. Its descriptor is /dev/null instead.
    Standard error whose reader goes away (`2>&1 | tee run.log`, tee killed) would end
    the run at its next progress line: its lines then go to /dev/null, and the run, its
    parts and workers started after, go on (the summary on standard output says what the
    run did; see report.say)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)  # inheritable, as dup2 makes it
                os.close(null)
            else:  # the processes it starts keep it too
                os.set_inheritable(fd, True)
    # Standard output stays None, as Python made it: a command whose output it is
    # (`storywire schema >&-`) says it cannot write it (report.print_output).
    sys.stderr = _ErrorsThatMayGoUnread(sys.stderr or open(os.devnull, "w"))


class _ErrorsThatMayGoUnread:
    """Standard error that, once a write to it fails, is pointed at /dev/null, for this
    process and those it starts after."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            self._unread()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._unread()

    def _unread(self) -> None:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, self._stream.fileno())
        except (OSError, ValueError):
            pass  # not a file: its writes fail quietly all the same
        finally:
            os.close(null)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


# Commands that only read: once their output is flushed they have nothing to clean up,
# and end at once. Ended by Python, `storywire stories` aborted after its last line about
# once in 60 runs on a loaded machine (status 134, "terminate called without an active
# exception"): a thread of Arrow's pool, which read the tables, torn down as the process
# exits (apache/arrow#34314).
READ_ONLY_COMMANDS = ("stories", "schema")


def exit_with(status: int, at_once: bool = False) -> NoReturn:
    """End the process with `status` (`at_once`: without Python's own ending, its output
    flushed). Run as `python -m`, Python would end it by SIGINT
    instead (status -2) once a KeyboardInterrupt was raised inside code run from a string,
    even one caught and handled: dataclasses and named tuples define their methods so, and
    a Ctrl-C can land as Beam or storywire defines one. Running a string of its own clears
    that mark."""
    exec("")  # an empty string: running it is what clears the mark
    if status == INTERRUPTED or at_once:
        # A Ctrl-C can land while Beam starts or stops a worker's state sampler, whose
        # thread (not a daemon) then runs on: Python would wait for it at exit, for ever,
        # deaf to Ctrl-C. What an interrupted command had to clean up, it has (its
        # `finally` blocks ran); it ends here, its output flushed.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):  # AttributeError: `>&-`, None
                pass  # closed, or its reader gone
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
