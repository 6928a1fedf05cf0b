"""`storywire watch`: ingest files as they land in a folder, each exactly once.

Beam's local runners cannot watch a folder in streaming mode, so this loop does it: every
`--interval` seconds it lists the folder, takes the files that are complete and not yet
ingested, and runs the batch pipeline on them into the output (an incremental run: new
articles join the stories already there). The files ingested are recorded in
`<output>/_watch/ingested.json` after each committed batch, so a restart picks up where
the last run left off; a batch whose commit landed but whose record did not is read again
and adds nothing (its article ids are already stored).

SIGINT or SIGTERM stops the loop: between batches at once; during a batch, after the batch
has committed. A second signal abandons the batch in flight; its staged files are dropped
by the next run and the tables stay as they were.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from storywire.pipeline.lostworkers import STOP_SIGNALS
from storywire.transforms.paths import delete_files, is_local
from storywire.transforms.read.inputs import is_supported
from storywire.transforms.read.matching import match_input_path
from storywire.transforms.records import Reject, printable_name
from storywire.transforms.write.parquet import make_parent

RECORD = "_watch/ingested.json"
# Names that editors, downloads and copy tools give files they are still writing.
PARTIAL_MARKERS = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp",
                   "._COPYING_", "~")


@dataclass(frozen=True)
class Seen:
    size: int
    modified: float


def is_partial(path: str) -> bool:
    """A file still being written, judged by its name: hidden, or a temporary suffix."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith((".", "_")) or name.endswith(PARTIAL_MARKERS)


def ready_files(listing: dict[str, Seen], previous: dict[str, Seen],
                ingested: dict[str, Seen], now: float, settle: float) -> list[str]:
    """The files to ingest now: of a supported format, not partial, not ingested as they
    are, and settled (unchanged since the previous listing, or untouched for `settle`
    seconds), so a file being copied in is not read half-written."""
    ready = []
    for path, seen in sorted(listing.items()):
        if is_partial(path) or not is_supported(path):
            continue
        if ingested.get(path) == seen:
            continue
        if previous.get(path) == seen or now - seen.modified >= settle:
            ready.append(path)
    return ready


def list_files(folders: list[str], output: str) -> dict[str, Seen]:
    """The files in the folders, as `storywire run` matches them (none under the output
    folder). What is there but cannot be read (a named pipe, a dangling link) is listed
    too, unchanging, so that a run of it records why it was not read."""
    listing = {}
    for folder in folders:
        for found in match_input_path(folder, exclude=output):
            if isinstance(found, Reject):
                listing[found.input_uri] = Seen(0, 0.0)
            else:
                listing[found.path] = Seen(found.size_in_bytes, found.last_updated_in_seconds)
    return listing


def load_record(output: str) -> dict[str, Seen]:
    path = FileSystems.join(output, RECORD)
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as handle:
        saved = json.loads(handle.read().decode("utf-8"))
    return {p: Seen(s["size"], s["modified"]) for p, s in saved.items()}


def save_record(output: str, ingested: dict[str, Seen]) -> None:
    """Write the record of ingested files atomically (a new file renamed over the old)."""
    path = FileSystems.join(output, RECORD)
    data = {p: {"size": s.size, "modified": s.modified} for p, s in sorted(ingested.items())}
    make_parent(path)
    with FileSystems.create(path + ".new") as handle:
        handle.write(json.dumps(data, indent=1).encode("utf-8"))
    if FileSystems.exists(path):
        delete_files([path])
    FileSystems.rename([path + ".new"], [path])


# A batch this small runs in this process: starting worker processes would take longer
# than the work (a trickle of files should show up in seconds).
SMALL_BATCH_FILES = 50
SMALL_BATCH_BYTES = 8 * 1024 * 1024
IN_PROCESS = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]


def batch_options(ready: list[str], listing: dict[str, Seen], run_options: list[str]
                  ) -> list[str]:
    """The run options of one batch: the user's, and for a small batch without a runner
    choice of the user's, the local runner in this process."""
    chosen = any(o.startswith(("--runner", "--direct_")) for o in run_options)
    size = sum(listing[p].size for p in ready)
    if chosen or len(ready) > SMALL_BATCH_FILES or size > SMALL_BATCH_BYTES:
        return run_options
    return [*run_options, *IN_PROCESS]


class _Stop:
    """SIGINT/SIGTERM/SIGHUP: the first asks the loop to stop after the batch in flight, the
    second abandons that batch."""

    def __init__(self):
        self.requested = False
        self.in_batch = False

    def __call__(self, signum, frame):
        if signum == signal.SIGHUP:
            from storywire.pipeline.cli import leave_the_terminal

            leave_the_terminal()
        if self.requested or not self.in_batch:
            self.requested = True
            if self.in_batch:
                raise KeyboardInterrupt
            return
        self.requested = True
        print(f"\nstorywire watch: {signal.Signals(signum).name}: stopping after the batch "
              "in flight (signal again to abandon it)", file=sys.stderr, flush=True)


def watch(argv: list[str]) -> int:
    from storywire.pipeline.cli import check_output, fail, lock_output
    from storywire.pipeline.options import (
        WATCH_SETTINGS,
        OptionsError,
        StreamOptions,
        check_bounds,
        check_settings,
        check_words,
        parse_command_words,
        pipeline_options,
    )
    from storywire.pipeline.run import launcher_flags, run

    parser = argparse.ArgumentParser(
        prog="storywire watch", exit_on_error=False,  # a bad value is one line, as a run's
        allow_abbrev=False,  # as a run: no option by a shortened name
        description="Ingest files as they land in folders; each file once, across restarts. "
                    "Other options are those of `storywire run`.")
    parser.add_argument("--input", nargs="+", help="Folders to watch.")
    parser.add_argument("--output", default="output/", help="Output folder, as for run.")
    parser.add_argument("--once", action="store_true",
                        help="Ingest what is there now (files untouched for --interval "
                             "seconds) and exit, for cron and the like.")
    for setting in WATCH_SETTINGS:
        setting.add_to(parser)
    launcher_flags(parser)
    try:
        args, run_options = parse_command_words(parser, argv)
    except OptionsError as err:
        return fail("watch", f"{err}; `storywire watch --help` lists the options")
    if args.detach:
        return fail("watch", "--detach is for `storywire run`: a watch runs its batches "
                             "itself, one after another")
    try:  # the run options of every batch, checked once before any work
        check_bounds(vars(args), WATCH_SETTINGS)
        check_words(run_options, exclude=(StreamOptions,))
        check_settings(pipeline_options(run_options))
    except OptionsError as err:
        return fail("watch", f"{err}; `storywire run --help` lists the run options")
    if not args.input:  # one line, where argparse's own check prints its usage too
        return fail("watch", "give the folders to watch: `storywire watch --input FOLDER... "
                             "[--output DIR]`")
    if args.quiet:
        run_options = [*run_options, "--quiet"]
    missing = [f for f in args.input if is_local(f) and not FileSystems.exists(f)]
    if missing:
        return fail("watch", f"no folder {missing[0]!r}")
    status = check_output("watch", args.input, args.output)
    if status is not None:
        return status
    # One writer at a time: the watch holds the output's lock while it watches.
    lock = lock_output("watch", argv, args.output, args.wait_for_lock)
    if lock is None:
        return 2
    try:
        return _watch(args, run_options, lock, run)
    finally:
        lock.release()


def _watch(args, run_options: list[str], lock, run) -> int:
    """The watching loop, under the output's lock; its exit status."""
    from storywire.pipeline.cli import fail

    try:
        ingested = load_record(args.output)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        return fail("watch", f"cannot read the record of ingested files "
                             f"{FileSystems.join(args.output, RECORD)}: {err}; remove it, and "
                             "the next watch reads every file again (what is stored is "
                             "skipped)")
    stop = _Stop()
    previous_handlers = {s: signal.signal(s, stop) for s in STOP_SIGNALS
                         if signal.getsignal(s) is not signal.SIG_IGN}  # (nohup's SIGHUP)
    previous: dict[str, Seen] = {}
    print(f"storywire watch: {printable_name(' '.join(args.input))} -> "
          f"{printable_name(args.output)}, every "
          f"{args.interval:g} s ({len(ingested)} files already ingested); Ctrl-C stops",
          file=sys.stderr, flush=True)
    status = 0
    try:
        while not stop.requested:
            listing = list_files(args.input, args.output)
            # With --once too, a file touched in the last interval may still be being
            # written: it waits for the next look.
            ready = ready_files(listing, previous, ingested, time.time(), args.interval)
            previous = listing
            if ready:
                print(f"storywire watch: {len(ready)} new file(s)", file=sys.stderr,
                      flush=True)
                stop.in_batch = True
                try:
                    code = run(["--input", *ready, "--output", args.output,
                                *batch_options(ready, listing, run_options)], lock=lock,
                               command="watch")
                except KeyboardInterrupt:
                    print("storywire watch: batch abandoned; the output is as it was",
                          file=sys.stderr)
                    status = 130  # as a run stopped so
                    break
                finally:
                    stop.in_batch = False
                if code == 4:
                    # Input units lost on the way: the files are not recorded, so the next
                    # look reads them again (what was stored is skipped then).
                    previous = {}
                elif code not in (0, 1, 3):  # 1, 3: (mostly) rejects, recorded too
                    status = code
                    break
                else:
                    ingested.update({p: listing[p] for p in ready})
                    save_record(args.output, ingested)
            if args.once:
                break
            deadline = time.monotonic() + args.interval
            while not stop.requested and time.monotonic() < deadline:
                time.sleep(min(0.2, args.interval))
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    print(f"storywire watch: stopped; {len(ingested)} files ingested in all",
          file=sys.stderr, flush=True)
    return status
