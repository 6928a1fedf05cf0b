"""storywire's pipeline options, parsed alongside Beam's own (--runner and the rest)."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import sys
from collections import Counter
from dataclasses import dataclass

from apache_beam.options.pipeline_options import (
    DirectOptions,
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    TestOptions,
    WorkerOptions,
    _BeamArgumentParser,
)

from storywire.transforms.clean.timelimit import DEFAULT_TIMEOUT_SECONDS
from storywire.transforms.copies.neardup import DEFAULT_MAX_DISTANCE
from storywire.transforms.paths import is_local
from storywire.transforms.read.inputs import SUPPORTED_EXTENSIONS
from storywire.transforms.read.parts import DEFAULT_MAX_BATCH_RECORDS
from storywire.transforms.stories.grouping import DEFAULT_REFINE_SIMILARITY
from storywire.transforms.stories.neighbours import (
    DEFAULT_MAX_COMPARED,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_NEIGHBOURS,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_DAYS,
)
from storywire.transforms.stories.vectors import DEFAULT_LANGUAGE
from storywire.transforms.streaming import DEFAULT_ALLOWED_LATENESS_HOURS, DEFAULT_WINDOW_MINUTES
from storywire.transforms.write.parquet import DEFAULT_ROWS_PER_FILE

DEFAULT_MAX_REJECT_FRACTION = 0.5
DEFAULT_WAIT_FOR_LOCK_SECONDS = 0.0
DEFAULT_REPLAY_INTERVAL_SECONDS = 60.0  # one undated record a minute

# The local runner, chosen explicitly: Beam's DirectRunner would first try to download the
# Prism runner. FnApiRunner runs the same portable graph, in worker processes.
LOCAL_RUNNER = "FnApiRunner"
# Below this much input, worker processes cost more than they save (a run of 500 text
# articles, 2 MB, took as long in one process as on two workers; at 3,000 articles,
# 13 MB, two workers saved 10%): the local runner then runs in-process.
IN_PROCESS_BELOW_BYTES = 4 * 1024 * 1024


def in_process_by_size(argv: list[str], input_bytes: int | None) -> bool:
    """Whether a run is in-process because its local input is small: no runner and no
    worker options given, and under IN_PROCESS_BELOW_BYTES of input. Such a run also
    solves its graphs, which are then few edges, in one place (components.py)."""
    given = flags_given(argv)
    return (input_bytes is not None and input_bytes < IN_PROCESS_BELOW_BYTES
            and not given & {"--runner", "--direct_num_workers", "--direct_running_mode"})


@dataclass(frozen=True)
class Bounds:
    """The values an option allows: [low, high], the low end excluded when `above`."""

    low: float | None = None
    high: float | None = None
    above: bool = False

    def allows(self, value: float) -> bool:
        # Written so that NaN is allowed nowhere.
        low_ok = self.low is None or (value > self.low if self.above else value >= self.low)
        high_ok = self.high is None or value <= self.high
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        above = "over" if self.above else "at least"
        low = "" if self.low is None else f"{above} {_number(self.low)}"
        high = "" if self.high is None else f"at most {_number(self.high)}"
        return " and ".join(part for part in (low, high) if part)


def _number(value: float) -> str:
    """1000000 as "1,000,000", 0.5 as "0.5"."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Setting:
    """One storywire option: its flag, type, default, allowed values and meaning."""

    name: str
    type: type
    default: object
    help: str
    bounds: Bounds | None = None

    def add_to(self, parser) -> None:
        allowed = f" Allowed: {self.bounds}." if self.bounds else ""
        parser.add_argument(f"--{self.name}", type=ascii_number(self.type), default=self.default,
                            help=self.help + allowed)


def ascii_number(kind: type):
    """`kind` (int or float) of a value written in ASCII only: Python's own reads digits
    of any script ("١٠" as 10) and full-width ones, which no one types on purpose. The
    type of every numeric option of storywire's commands."""
    def parse(text: str):
        if not text.isascii():
            raise ValueError(text)
        return kind(text)

    parse.__name__ = kind.__name__  # argparse names it: "invalid int value: '١٠'"
    return parse


SHARE = Bounds(0.0, 1.0)  # a similarity, overlap or fraction
# About a minute and a half: a window of less tells nothing of news, and one of no width
# at all cannot cut time into buckets.
MIN_WINDOW_DAYS = 0.001
RUN_SETTINGS = (
    Setting("dup_max_distance", int, DEFAULT_MAX_DISTANCE,
            "Simhash bits two articles may differ in and still be near-duplicates (more "
            "bits make the simhash buckets so coarse that the search turns quadratic).",
            Bounds(0, 12)),
    Setting("story_threshold", float, DEFAULT_THRESHOLD,
            "Overlap (Jaccard) of two articles' nearest-neighbour sets at which they are "
            "linked into one story.", Bounds(0.0, 1.0, above=True)),
    Setting("story_neighbours", int, DEFAULT_NEIGHBOURS,
            "Nearest neighbours in an article's neighbourhood.",
            Bounds(1, DEFAULT_MAX_COMPARED)),
    Setting("story_min_similarity", float, DEFAULT_MIN_SIMILARITY,
            "TF-IDF cosine similarity below which an article is no neighbour.", SHARE),
    Setting("story_window_days", float, DEFAULT_WINDOW_DAYS,
            "Dated articles further apart than this are not compared directly.",
            Bounds(MIN_WINDOW_DAYS, 366.0)),
    Setting("story_refine_similarity", float, DEFAULT_REFINE_SIMILARITY,
            "Average TF-IDF cosine similarity the parts of one story must keep; linked "
            "groups below it are split (average linkage).", SHARE),
    Setting("language", str, DEFAULT_LANGUAGE,
            "The feed's main language (a wordfreq code: en, de, fr, es, zh, ar, ...): "
            "story terms of an article are weighed in its own language, in this one when "
            "its language is not known; articles in different languages never share a "
            "story."),
    Setting("max_batch_articles", int, DEFAULT_MAX_BATCH_RECORDS,
            "A local run over more input records than this is made of parts of at most "
            "about this many, in input order, each committed before the next starts, so "
            "its memory does not grow with the input; 0: one part whatever the size.",
            Bounds(0, 1_000_000_000)),
    Setting("rows_per_file", int, DEFAULT_ROWS_PER_FILE,
            "About this many rows go to one Parquet file.", Bounds(1, 10_000_000)),
    Setting("clean_timeout_seconds", float, DEFAULT_TIMEOUT_SECONDS,
            "Longest time cleaning one HTML page may take; a page that takes longer is a "
            "reject (extraction can stall on pathological pages).",
            Bounds(0.0, 86_400.0, above=True)),
    Setting("max_reject_fraction", float, DEFAULT_MAX_REJECT_FRACTION,
            "A run whose new rows are more than this fraction rejects exits with status 3 "
            "(its tables are still written), so a scheduler notices a bad feed.", SHARE),
    Setting("wait_for_lock", float, DEFAULT_WAIT_FOR_LOCK_SECONDS,
            "Seconds to wait for another run writing to the same --output to finish; 0: "
            "exit at once with status 2, naming that run.", Bounds(0.0, 7 * 86_400.0)),
)
WATCH_SETTINGS = (
    Setting("interval", float, 5.0, "Seconds between looks at the folders.",
            Bounds(0.0, 86_400.0, above=True)),
    *(s for s in RUN_SETTINGS if s.name == "wait_for_lock"),
)
STREAM_SETTINGS = (
    Setting("window_minutes", float, DEFAULT_WINDOW_MINUTES,
            "Length of the fixed event-time windows a stream is grouped and written in.",
            Bounds(0.0, 7 * 24 * 60.0, above=True)),
    Setting("allowed_lateness_hours", float, DEFAULT_ALLOWED_LATENESS_HOURS,
            "How long after its window a record is still taken (a late pane); older "
            "publication dates are taken as this late.", Bounds(0.0, 30 * 24.0)),
    Setting("replay_interval_seconds", float, DEFAULT_REPLAY_INTERVAL_SECONDS,
            "With --replay: seconds between an undated record and the one before it "
            "(a dated record arrives at its published time).",
            Bounds(0.0, 86_400.0, above=True)),
)


def option_names(*classes) -> set[str]:
    """The names of the options the given PipelineOptions classes declare."""
    parser = argparse.ArgumentParser(add_help=False)
    for options_class in classes:
        options_class._add_argparse_args(parser)
    return set(vars(parser.parse_args([])))


def _storywire_keys() -> set[str]:
    """The names of storywire's own options (not Beam's)."""
    return option_names(StorywireOptions, StreamOptions)


class StorywireOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input", nargs="+", default=["seeds/"],
            help="Files, folders (read recursively) or globs, local or any Beam filesystem "
                 "(gs://, s3://). Formats by extension, in any case: "
                 f"{', '.join(sorted(SUPPORTED_EXTENSIONS))}.")
        parser.add_argument(
            "--output", default="output/",
            help="Folder of the articles/, stories/, rejects/ and story_index/ tables. A run "
                 "into a folder that holds them adds its new articles and updates stories/.")
        for setting in RUN_SETTINGS:
            setting.add_to(parser)


class StreamOptions(PipelineOptions):
    """Options of `storywire stream` only (a batch run takes StorywireOptions alone)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input_subscription", default=None,
            help="Pub/Sub subscription to read (projects/P/subscriptions/S): messages are "
                 "article records as JSON, or Cloud Storage notifications naming files.")
        parser.add_argument(
            "--input_topic", default=None,
            help="Pub/Sub topic to read through a subscription of the job's own "
                 "(projects/P/topics/T), instead of --input_subscription.")
        parser.add_argument(
            "--replay", default=None,
            help="Instead of Pub/Sub, replay the records of this JSONL file on Beam's local "
                 "streaming runner, in file order: try a stream job before deploying it.")
        for setting in STREAM_SETTINGS:
            setting.add_to(parser)


class OptionsError(ValueError):
    """Command-line words that do not make a run: one line saying which and why."""


def all_options_parser(exclude=()) -> argparse.ArgumentParser:
    """A parser of every option Beam and storywire know (as Beam collects them: one class of
    each name among PipelineOptions' subclasses) but those of `exclude`, raising instead
    of exiting."""
    parser = _BeamArgumentParser(allow_abbrev=False, exit_on_error=False, add_help=False)
    classes = {str(cls): cls for cls in PipelineOptions.__subclasses__() if cls not in exclude}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    for action in parser._actions:  # Beam's numeric options too (--direct_num_workers)
        if action.type in (int, float):
            action.type = ascii_number(action.type)
    return parser


def refuse_dash_values(argv: list[str]) -> None:
    """Raise OptionsError for a value "--" (`--limit=--`): argparse drops it, as its mark
    of the end of options, and leaves the option an empty list that no check of a number
    or a path sees. Words after a bare "--" are not options."""
    for word in argv:
        if word == "--":
            return
        flag, equals, value = word.partition("=")
        if flag.startswith("--") and equals and value == "--":
            raise OptionsError(f"{flag}=--: '--' is no value; give {flag} one")


def parse_command_words(parser: argparse.ArgumentParser, argv: list[str]
                        ) -> tuple[argparse.Namespace, list[str]]:
    """A command's own options (`parser`, made with exit_on_error=False) from its words,
    and the words left: with the checks a run's words get (no value "--"), and a bad value
    an OptionsError, one line, where argparse would print its usage too."""
    refuse_dash_values(argv)
    try:
        return parser.parse_known_args(argv)
    except argparse.ArgumentError as err:
        raise OptionsError(str(err)) from None


def check_words(argv: list[str], exclude=(), not_offered: tuple[str, ...] = (),
                offered: tuple[str, ...] = ()) -> None:
    """Raise OptionsError for a word no option takes (a typo such as --inptu, a stray
    path, an option of another command: those of the classes in `exclude`) or a value of
    the wrong type; Beam would drop the first with a warning and run on defaults. A typo
    is told the option it is closest to, other than those `not_offered` (the command's
    caller gives them itself), or among the caller's own `offered`."""
    refuse_dash_values(argv)
    parser = all_options_parser(exclude)
    try:
        _, unknown = parser.parse_known_args(argv)
    except argparse.ArgumentError as err:
        message = str(err)
        if "expected at least one argument" in message and message.startswith(
                "argument --input"):
            message += (" (a path that starts with a dash reads as an option: give it as "
                        "./-name)")
        raise OptionsError(message) from None
    ours = {f"--{name}" for name in option_names(StorywireOptions, StreamOptions)}
    given = Counter(word.split("=", 1)[0] for word in argv if word.startswith("--"))
    for flag in sorted(ours):
        if given[flag] > 1:
            more = " with every path after it" if flag == "--input" else ""
            raise OptionsError(f"{flag} is given {given[flag]} times; give it once{more}")
    for word in unknown:
        if not word.startswith("-"):
            raise OptionsError(f"unexpected argument {word!r} (input paths go after --input)")
        flag = word.split("=", 1)[0]
        known = [o for action in parser._actions for o in action.option_strings
                 if o not in not_offered] + list(offered)
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise OptionsError(f"unknown option {flag}{hint}")


# Options of a batch run that a stream has no use for: it reads Pub/Sub messages (or a
# --replay file), and has no parts and no exit status by its rejects.
BATCH_ONLY = ("--input", "--max_batch_articles", "--max_reject_fraction")


def check_stream_words(argv: list[str]) -> None:
    """Raise OptionsError for an option of a batch run given to a stream, where it would
    do nothing."""
    given = flags_given(argv)
    for flag in BATCH_ONLY:
        if flag in given:
            raise OptionsError(f"{flag} does not apply to a stream, which reads Pub/Sub "
                               "messages (or a --replay file), and has no parts and no exit "
                               "status by its rejects")


def check_settings(options: PipelineOptions, settings=RUN_SETTINGS) -> None:
    """Raise OptionsError for a storywire option outside its allowed values."""
    values = options.get_all_options()
    check_bounds(values, settings)
    language = values.get("language")
    if language is not None:
        from storywire.transforms.languages import wordfreq_languages

        known = wordfreq_languages()
        if language not in known:
            if language.strip().lower() in known:  # codes are written in lower case
                raise OptionsError(f"--language {language!r}: did you mean "
                                   f"{language.strip().lower()!r}?")
            raise OptionsError(f"--language {language!r} has no word frequencies; one of "
                               f"{', '.join(sorted(known))}")
    if "input" in values:
        if not values["input"]:
            raise OptionsError("--input needs at least one path")
        if any(not path.strip() for path in values["input"]):
            raise OptionsError("--input has an empty path (an unset variable?)")
    workers = values.get("direct_num_workers")
    if workers is not None and workers < 0:  # Beam's own option; 0 is one per core
        raise OptionsError(f"--direct_num_workers {workers} is out of range: allowed at "
                           "least 0 (0: one per core)")


def check_bounds(values: dict, settings) -> None:
    """Raise OptionsError for a value of `values` outside its setting's bounds."""
    for setting in settings:
        value = values[setting.name]
        if setting.bounds and not setting.bounds.allows(value):
            raise OptionsError(f"--{setting.name} {_number(value) if value == value else value}"
                               f" is out of range: allowed {setting.bounds}")


def flags_given(argv: list[str]) -> set[str]:
    """The options among command-line words, without their values ("--input=x": "--input")."""
    return {a.split("=", 1)[0] for a in argv if a.startswith("--")}


def pipeline_options(argv: list[str], input_bytes: int | None = None) -> PipelineOptions:
    """Options from command-line words; without --runner, the local runner on every core,
    or in-process when `input_bytes` (the size of a local input, when known) is small."""
    options = PipelineOptions(argv)
    standard = options.view_as(StandardOptions)
    given = flags_given(argv)
    if standard.runner is None:
        standard.runner = LOCAL_RUNNER
        direct = options.view_as(DirectOptions)
        small = in_process_by_size(argv, input_bytes)
        if "--direct_num_workers" not in given:
            direct.direct_num_workers = 1 if small else os.cpu_count() or 1
        if "--direct_running_mode" not in given:
            direct.direct_running_mode = "in_memory" if small else "multi_processing"
    elif "Direct" not in str(standard.runner):
        # A portable runner's workers start in a folder of their own (a Flink or Spark
        # cluster's, a worker pool's): a relative path would name another file there.
        opts = options.view_as(StorywireOptions)
        opts.input = [_absolute(path) for path in opts.input]
        opts.output = _absolute(opts.output)
    test = options.view_as(TestOptions)
    test.dry_run = dry_run_value(test.dry_run)
    if "--default_sdk_harness_log_level" not in given:
        # Workers log every bundle at INFO; a user wants their warnings, not that.
        options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
    return options


def dry_run_value(value) -> bool:
    """Beam's --dry_run as the bool it means: Beam keeps the word given, so "False" would
    be taken as true. Raises OptionsError for a word that is neither."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    word = str(value).strip().lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    raise OptionsError(f"--dry_run {value!r}: give True or False")


def _absolute(path: str) -> str:
    """A local path from the folder the command was run in; any other as it is."""
    return os.path.abspath(path) if path and is_local(path) else path


# A Cloud Storage bucket name: 3 to 63 lower-case letters, digits, dots, dashes, underscores.
_GCS_PATH = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/.*)?$")


def dataflow_problem(options: PipelineOptions) -> str | None:
    """What stops a Dataflow job from being built, found before Beam would look for (or
    try to create) a default bucket over the network."""
    if "dataflow" not in str(options.view_as(StandardOptions).runner or "").lower():
        return None
    cloud = options.view_as(GoogleCloudOptions)
    locations = {"temp_location": cloud.temp_location,
                 "staging_location": cloud.staging_location}
    for name, value in locations.items():
        if value and not _GCS_PATH.match(value):
            return (f"--{name} {value} is not gs://BUCKET/PATH with a valid bucket name "
                    "(3 to 63 lower-case letters, digits, dots, dashes or underscores)")
    if not any(locations.values()):
        return "a Dataflow job needs --temp_location gs://BUCKET/PATH"
    if not cloud.project or not cloud.region:
        return "a Dataflow job needs --project and --region"
    return None


def is_local_runner(options: PipelineOptions) -> bool:
    return options.view_as(StandardOptions).runner == LOCAL_RUNNER


def job_finished_checker(options: PipelineOptions):
    """For a Dataflow run: a function that tells whether a Dataflow job has ended (True,
    False, or None when the service cannot be asked), so a lock a detached job left is
    known to be free once its job is over. For other runners: one that cannot tell."""
    if "dataflow" not in str(options.view_as(StandardOptions).runner or "").lower():
        return lambda job: None

    def finished(job: str) -> bool | None:
        try:
            from apache_beam.runners.dataflow.internal.apiclient import (
                DataflowApplicationClient,
            )

            state = str(DataflowApplicationClient(options).get_job(job).currentState)
        except Exception:  # noqa: BLE001 - no network, no rights: cannot tell
            return None
        return any(s in state for s in ("DONE", "FAILED", "CANCELLED", "DRAINED", "UPDATED"))

    return finished


def describe_runner(options: PipelineOptions) -> str:
    """The runner in words, for the line a run starts with."""
    runner = options.view_as(StandardOptions).runner
    if runner != LOCAL_RUNNER:
        return f"runner {runner}"
    return f"local runner, {local_workers(options)} worker(s)"


def local_workers(options: PipelineOptions) -> int:
    """The worker processes of the local runner."""
    return options.view_as(DirectOptions).direct_num_workers or os.cpu_count() or 1


def make_runner(options: PipelineOptions):
    """The runner to use: for the local runner, one that hands the options to its workers
    and starts them through storywire's quiet entry point."""
    if options.view_as(StandardOptions).runner != LOCAL_RUNNER:
        return None  # Beam builds the one --runner names
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    # As Beam's DirectRunner does: without this the worker processes see no options. Only
    # Beam's own options that were set go: workers do not parse storywire's (the transforms
    # carry their settings) and would warn about every one of them.
    ours = _storywire_keys()
    beam_options = {k: v for k, v in options.get_all_options(drop_default=True).items()
                    if k not in ours}
    encoded = JobServiceHandle.encode_pipeline_options(beam_options)
    provision_info = fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    direct = options.view_as(DirectOptions)
    environment = None
    if direct.direct_running_mode == "multi_processing":
        # The same worker processes Beam's multi_processing mode starts, through our entry
        # point. FnApiRunner replaces the environment in that mode, so it is told in_memory,
        # which only means "use the environment given". Beam runs the command through a
        # shell: `exec` makes the worker the shell's process, so the worker is the child
        # of the process that runs the pipeline, and is the process Beam stops.
        from storywire.pipeline.lostworkers import IGNORING_STOPS

        environment = SubprocessSDKEnvironment.from_command_string(
            f"{IGNORING_STOPS}{shlex.quote(sys.executable)} -m storywire.pipeline.worker")
        direct.direct_running_mode = "in_memory"
    return fn_runner.FnApiRunner(default_environment=environment, provision_info=provision_info)
