"""storywire's pipeline options, parsed alongside Beam's own (--runner and the rest)."""

from __future__ import annotations

import os
import re
import sys

from apache_beam.options.pipeline_options import (
    DirectOptions,
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    WorkerOptions,
)

from storywire.transforms.neardup import DEFAULT_MAX_DISTANCE
from storywire.transforms.neighbours import (
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_NEIGHBOURS,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_DAYS,
)
from storywire.transforms.parquet import DEFAULT_ROWS_PER_FILE
from storywire.transforms.registry import DEFAULT_JOIN_SIMILARITY
from storywire.transforms.stories import DEFAULT_REFINE_SIMILARITY
from storywire.transforms.streaming import DEFAULT_ALLOWED_LATENESS_HOURS, DEFAULT_WINDOW_MINUTES
from storywire.transforms.timelimit import DEFAULT_TIMEOUT_SECONDS
from storywire.transforms.vectors import DEFAULT_LANGUAGE

DEFAULT_MAX_REJECT_FRACTION = 0.5

# The local runner, chosen explicitly: Beam's DirectRunner would first try to download the
# Prism runner. FnApiRunner runs the same portable graph, in worker processes.
LOCAL_RUNNER = "FnApiRunner"


def option_names(*classes) -> set[str]:
    """The names of the options the given PipelineOptions classes declare."""
    import argparse

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
                 "(gs://, s3://). Formats by extension: .txt, .html/.htm, .jsonl, .jsonl.gz.")
        parser.add_argument(
            "--output", default="output/",
            help="Folder of the articles/, stories/, rejects/ and story_index/ tables. A run "
                 "into a folder that holds them adds its new articles and updates stories/.")
        parser.add_argument(
            "--dup_max_distance", type=int, default=DEFAULT_MAX_DISTANCE,
            help="Simhash bits two articles may differ in and still be near-duplicates.")
        parser.add_argument(
            "--story_threshold", type=float, default=DEFAULT_THRESHOLD,
            help="Overlap (Jaccard) of two articles' nearest-neighbour sets at which they are "
                 "linked into one story.")
        parser.add_argument(
            "--story_neighbours", type=int, default=DEFAULT_NEIGHBOURS,
            help="Nearest neighbours in an article's neighbourhood.")
        parser.add_argument(
            "--story_min_similarity", type=float, default=DEFAULT_MIN_SIMILARITY,
            help="TF-IDF cosine similarity below which an article is no neighbour.")
        parser.add_argument(
            "--story_window_days", type=float, default=DEFAULT_WINDOW_DAYS,
            help="Dated articles further apart than this are not compared directly.")
        parser.add_argument(
            "--story_refine_similarity", type=float, default=DEFAULT_REFINE_SIMILARITY,
            help="Average TF-IDF cosine similarity the parts of one story must keep; linked "
                 "groups below it are split (average linkage).")
        parser.add_argument(
            "--language", default=DEFAULT_LANGUAGE,
            help="Language of the word frequencies that weigh story terms (wordfreq code).")
        parser.add_argument(
            "--rows_per_file", type=int, default=DEFAULT_ROWS_PER_FILE,
            help="About this many rows go to one Parquet file.")
        parser.add_argument(
            "--clean_timeout_seconds", type=float, default=DEFAULT_TIMEOUT_SECONDS,
            help="Longest time cleaning one HTML page may take; a page that takes longer is "
                 "a reject (extraction can stall on pathological pages).")
        parser.add_argument(
            "--max_reject_fraction", type=float, default=DEFAULT_MAX_REJECT_FRACTION,
            help="A run whose new rows are more than this fraction rejects exits with status "
                 "3 (its tables are still written), so a scheduler notices a bad feed.")


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
            "--window_minutes", type=float, default=DEFAULT_WINDOW_MINUTES,
            help="Length of the fixed event-time windows a stream is grouped and written in.")
        parser.add_argument(
            "--allowed_lateness_hours", type=float, default=DEFAULT_ALLOWED_LATENESS_HOURS,
            help="How long after its window a record is still taken (a late pane); older "
                 "publication dates are taken as this late.")
        parser.add_argument(
            "--story_join_similarity", type=float, default=DEFAULT_JOIN_SIMILARITY,
            help="Cosine similarity of story centroids at which a window's story joins a "
                 "story of an earlier window.")


def pipeline_options(argv: list[str]) -> PipelineOptions:
    """Options from command-line words; without --runner, the local runner on every core."""
    options = PipelineOptions(argv)
    standard = options.view_as(StandardOptions)
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    if standard.runner is None:
        standard.runner = LOCAL_RUNNER
        direct = options.view_as(DirectOptions)
        if "--direct_num_workers" not in given:
            direct.direct_num_workers = os.cpu_count() or 1
        if "--direct_running_mode" not in given:
            direct.direct_running_mode = "multi_processing"
    if "--default_sdk_harness_log_level" not in given:
        # Workers log every bundle at INFO; a user wants their warnings, not that.
        options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
    return options


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


def describe_runner(options: PipelineOptions) -> str:
    """The runner in words, for the line a run starts with."""
    runner = options.view_as(StandardOptions).runner
    if runner != LOCAL_RUNNER:
        return f"runner {runner}"
    direct = options.view_as(DirectOptions)
    return f"local runner, {direct.direct_num_workers} worker(s)"


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
        # which only means "use the environment given".
        environment = SubprocessSDKEnvironment.from_command_string(
            f"{sys.executable} -m storywire.pipeline.worker")
        direct.direct_running_mode = "in_memory"
    return fn_runner.FnApiRunner(default_environment=environment, provision_info=provision_info)
