"""The same pipeline through Beam's portable runner (job service + external worker pool, the
Fn API path of Flink, Spark and Dataflow runner v2) and the Dataflow runner's job builder."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import FAST, FIXTURES, SEEDS
from test_stories_pipeline import two_similar_events

from storywire.pipeline.cli import main


def corpus(folder: Path) -> Path:
    """About 600 articles of ours: 30 pairs of similar events with dates and copies, plus
    the seed texts and an HTML page."""
    folder.mkdir()
    records = []
    for topic in range(30):
        for record in two_similar_events(seed=topic, per_event=8):
            day = 1 + topic % 20 + (3 if record["event"] == "b" else 0)
            record = {"id": f"t{topic}-{record['id']}", "text": record["text"],
                      "published": f"2025-03-{day:02d}T{topic % 24:02d}:00:00Z"}
            records.append(record)
            if record["id"].endswith(("0", "3")):
                # a syndicated copy: same text, another id and source
                records.append({**record, "id": record["id"] + "-copy", "source": "Wire"})
    with open(folder / "feed.jsonl", "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, folder / seed.name)
    shutil.copy(FIXTURES / "page.html", folder / "page.html")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service on port {port} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.fixture
def portable_services(tmp_path):
    """Beam's Python job service and an external worker pool, as separate processes. The
    pool starts workers with a bare `python`, so this environment's comes first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    job_port, pool_port = free_port(), free_port()
    services = [
        subprocess.Popen([sys.executable, "-m",
                          "apache_beam.runners.portability.local_job_service_main",
                          "--port", str(job_port)], env=env, cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                          "--service_port", str(pool_port)], env=env, cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_for_port(job_port, services[0])
        wait_for_port(pool_port, services[1])
        yield ["--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
               "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"]
    finally:
        for service in services:
            service.terminate()
        for service in services:
            service.wait(timeout=30)


def table(output: Path, name: str) -> list[tuple]:
    glob = "*.parquet" if name == "stories" else "**/*.parquet"
    rel = duckdb.sql(f"SELECT * EXCLUDE (ingested_at) FROM read_parquet('{output}/{name}/{glob}')"
                     if name == "articles" else
                     f"SELECT * FROM read_parquet('{output}/{name}/{glob}')")
    return sorted(rel.fetchall(), key=repr)


def test_portable_runner_single_and_multi_process_runs_agree(tmp_path, portable_services,
                                                             monkeypatch):
    inbox = corpus(tmp_path / "in")
    outputs = {}
    for name, options in (("default", []), ("single", FAST)):
        outputs[name] = tmp_path / name
        assert main(["run", "--input", str(inbox), "--output", str(outputs[name]),
                     *options]) == 0
    # Paths as a user types them, from a folder other than the one the workers start in.
    (tmp_path / "user").mkdir()
    monkeypatch.chdir(tmp_path / "user")
    outputs["portable"] = tmp_path / "portable"
    assert main(["run", "--input", "../in", "--output", "../portable",
                 *portable_services]) == 0
    articles = {name: table(out, "articles") for name, out in outputs.items()}
    assert len(articles["default"]) > 500
    assert articles["portable"] == articles["default"] == articles["single"]
    stories = {name: table(out, "stories") for name, out in outputs.items()}
    assert stories["portable"] == stories["default"] == stories["single"]
    # Not a trivial agreement: copies share groups, similar events stay apart.
    rows = duckdb.sql(f"SELECT article_id, dup_group_id, story_id FROM "
                      f"read_parquet('{outputs['portable']}/articles/**/*.parquet')").fetchall()
    by_id = {a: (d, s) for a, d, s in rows}
    assert by_id["t0-a0-copy"][0] == by_id["t0-a0"][0]
    assert by_id["t0-a1"][1] != by_id["t0-b1"][1]


DATAFLOW = ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
            "--temp_location=gs://my-bucket/tmp", "--dry_run=True"]


def test_dataflow_batch_job_builds_offline_with_every_stage(tmp_path):
    import apache_beam as beam
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    from storywire.pipeline.graph import RunContext, build_pipeline
    from storywire.pipeline.options import StorywireOptions, pipeline_options

    options = pipeline_options(["--input", "gs://my-bucket/raw/*.jsonl",
                                "--output", "gs://my-bucket/out", *DATAFLOW])
    runner = DataflowRunner()
    pipeline = beam.Pipeline(runner=runner, options=options)
    build_pipeline(pipeline, options.view_as(StorywireOptions),
                   RunContext("gs://my-bucket/out/_staging/run-test", 0))
    pipeline.run()
    stages = {t.unique_name.split("/")[0]
              for t in runner.proto_pipeline.components.transforms.values()}
    assert {"FindInputs", "Read", "Clean", "NearDuplicates", "LinkStories", "TagStories",
            "WriteArticles", "WriteStories", "WriteRejects", "Commit"} <= stages


def test_dataflow_batch_dry_run_from_the_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input",
         "gs://my-bucket/raw/*.jsonl", "--output", "gs://my-bucket/out", *DATAFLOW],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "job built" in done.stderr and "Traceback" not in done.stderr
