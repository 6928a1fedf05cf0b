"""The `storywire` command: `run` the pipeline, print the `stories` of an output folder."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime, timezone


class _QuietImports(logging.Filter):
    """Beam warns at import time that BigQuery clients are missing (the `gcp` extra);
    storywire does not use them, so the warning only confuses."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # ... and the local runner's worker processes are started in Beam's in_memory mode
        # with a subprocess environment (see options.make_runner), which Beam warns about.
        return ("apitools not found" not in message
                and "direct_running_mode should be" not in message)

USAGE = """storywire run [--input PATH ...] [--output DIR] [--detach] [storywire and Beam options]
storywire stream --input_subscription projects/P/subscriptions/S --output gs://B/out --runner=...
storywire watch --input DIR ... [--output DIR] [--interval S] [--once] [run options]
storywire stories [DIR]
storywire eval LABELLED.jsonl [--gold_field story] [run options]
storywire schema [articles|stories|rejects]

  run       read articles, clean, fingerprint, group copies and stories, write Parquet
  stream    the same pipeline on a Pub/Sub stream, on Dataflow or another streaming runner
  watch     ingest files as they land in folders, each once; Ctrl-C stops
  stories   print the stories table of an output folder (default output/)
  eval      run on a labelled JSONL file and score the stories against its gold field
  schema    print the columns of the output tables, with their types and meaning

Run `storywire run --help` for every option."""


def run(argv: list[str]) -> int:
    # Imported here, after logging is set up: Beam logs while it imports.
    from storywire.pipeline.graph import build_pipeline
    from storywire.pipeline.options import (
        StorywireOptions,
        describe_runner,
        make_runner,
        pipeline_options,
    )
    from storywire.pipeline.report import run_summary
    from storywire.transforms.cleaning import to_micros
    from storywire.transforms.inputs import input_output_overlap
    from storywire.transforms.parquet import STAGING_DIR, recover_commits
    from storywire.transforms.records import storable_text

    if any(a in ("-h", "--help") for a in argv):
        StorywireOptions(["--help"])
        return 0
    # --detach: submit a cloud job and return (a template launcher, a scheduler), instead
    # of waiting to print what it did.
    detach = "--detach" in argv
    argv = [a for a in argv if a != "--detach"]
    options = pipeline_options(argv)
    opts = options.view_as(StorywireOptions)
    problem = local_output_problem(opts.output)
    if problem:
        print(f"storywire: cannot write to --output {opts.output}: {problem}", file=sys.stderr)
        return 2
    overlap = input_output_overlap(opts.input, opts.output)
    if overlap:
        print(f"storywire: {overlap.message}", file=sys.stderr)
        if overlap.fatal:
            return 2
    runner = make_runner(options)
    pipeline, problem = new_pipeline(options, runner)
    if problem:
        print(f"storywire: {problem}", file=sys.stderr)
        return 2
    dry_run = bool(options.get_all_options().get("dry_run"))
    if not dry_run:
        # A dry run builds the job and touches no storage.
        finished, dropped = recover_commits(opts.output)
        if finished or dropped:
            print(f"storywire: finished {finished} interrupted commit(s) and dropped {dropped} "
                  f"unfinished run(s) in {opts.output}", file=sys.stderr)
    started = datetime.now(timezone.utc)
    # The staging folder is named after the run's start; the data ids never depend on it.
    staging = "/".join([opts.output.rstrip("/"), STAGING_DIR,
                        started.strftime("run-%Y%m%dT%H%M%S%fZ")])
    build_pipeline(pipeline, opts, staging=staging, ingested_at=to_micros(started))
    # Names as the tables store them: a name that is not UTF-8 cannot be printed as it is.
    inputs = (storable_text(" ".join(opts.input)) if len(opts.input) <= 3
              else f"{len(opts.input)} paths")
    print(f"storywire: {inputs} -> {opts.output} "
          f"({describe_runner(options)})", file=sys.stderr, flush=True)
    result = pipeline.run()
    if dry_run:
        print("storywire: job built (dry run: nothing submitted, nothing read or written)",
              file=sys.stderr)
        return 0
    if detach and runner is None:
        job = getattr(result, "job_id", lambda: None)()
        print(f"storywire: job submitted{f' as {job}' if job else ''}; not waiting for it",
              file=sys.stderr)
        return 0
    result.wait_until_finish()
    summary = run_summary(result)
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    print(summary.text(), flush=True)
    print(f"storywire: done in {elapsed:.1f} s; `storywire stories {opts.output}` "
          "prints the stories", file=sys.stderr, flush=True)
    rejects_at = f"{opts.output.rstrip('/')}/rejects/"
    if summary.get("articles") == 0 and summary.get("skipped_already_stored") == 0:
        print(f"storywire: no article came out of {summary.get('input_units')} input units; "
              f"the reasons are in {rejects_at}", file=sys.stderr)
        return 1
    if summary.reject_fraction > opts.max_reject_fraction:
        new_rows = summary.get("articles") + summary.get("rejects")
        print(f"storywire: {summary.get('rejects')} of {new_rows} new rows are rejects "
              f"({summary.reject_fraction:.0%}, over --max_reject_fraction "
              f"{opts.max_reject_fraction:g}); the reasons are in {rejects_at}",
              file=sys.stderr)
        return 3
    return 0


def stream(argv: list[str]) -> int:
    """`storywire stream`: the pipeline on a Pub/Sub stream, on a streaming runner."""
    from apache_beam.options.pipeline_options import StandardOptions

    from storywire.pipeline.graph import build_stream_pipeline
    from storywire.pipeline.options import (
        StorywireOptions,
        StreamOptions,
        pipeline_options,
    )
    from storywire.transforms.cleaning import to_micros

    if any(a in ("-h", "--help") for a in argv):
        StreamOptions(["--help"])
        return 0
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
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
    print(f"storywire stream: {source} -> {opts.output} running"
          + (f" as job {job}" if job else ""), file=sys.stderr)
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


def local_output_problem(output: str) -> str | None:
    """Why a local --output folder cannot be written, found before any work is done.
    Cloud paths are checked by the runner."""
    if "://" in output and not output.startswith("file://"):
        return None
    path = output.removeprefix("file://")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        return err.strerror or str(err)
    if not os.access(path, os.W_OK):
        return "permission denied"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=os.environ.get("STORYWIRE_LOG", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietImports())
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
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

        return print_schema(rest)
    if command == "stories":
        parser = argparse.ArgumentParser(prog="storywire stories")
        parser.add_argument("output", nargs="?", default="output/")
        parser.add_argument("--limit", type=int, default=50, help="rows to print (0: all)")
        args = parser.parse_args(rest)
        from storywire.pipeline.report import print_stories

        return print_stories(args.output, args.limit)
    print(f"storywire: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
