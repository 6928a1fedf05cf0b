"""deploy/: the Flex Template matches the pipeline, and the schedule, DAG and Flink recipe
are consistent with it."""

import json
import re
import shutil
import subprocess
import sys

import apache_beam
import pytest
import yaml
from conftest import ROOT

from storywire.pipeline.options import StorywireOptions, option_names

DEPLOY = ROOT / "deploy"
METADATA = json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())
PARAMETERS = {p["name"] for p in METADATA["parameters"]}


def test_template_parameters_are_exactly_the_pipeline_options():
    assert PARAMETERS == option_names(StorywireOptions)
    sys.path.insert(0, str(DEPLOY / "dataflow"))
    try:
        from make_metadata import metadata
    finally:
        sys.path.pop(0)
    assert METADATA == metadata(), "run python deploy/dataflow/make_metadata.py"
    required = {p["name"] for p in METADATA["parameters"] if not p["isOptional"]}
    assert required == {"input", "output"}


def test_dockerfile_installs_this_project_for_the_launcher_and_the_workers():
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    assert f"ARG BEAM_VERSION={apache_beam.__version__}" in dockerfile
    assert "python311-template-launcher-base" in dockerfile
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
    (entry,) = re.findall(r"FLEX_TEMPLATE_PYTHON_PY_FILE=/template/(\S+)", dockerfile)
    assert (ROOT / entry).is_file()
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile


def test_template_entry_point_builds_the_dataflow_job(tmp_path):
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "dataflow" / "main.py"),
         "--input=gs://my-bucket/raw/*.jsonl", "--output=gs://my-bucket/out",
         "--project=my-project", "--region=us-central1",
         "--temp_location=gs://my-bucket/tmp", "--dry_run=True"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "runner DataflowRunner" in done.stderr and "job built" in done.stderr


def test_launch_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(DEPLOY / "dataflow" / "build_and_run.sh")], check=True)


def test_scheduler_launches_the_template_with_its_parameters():
    main_tf = (DEPLOY / "terraform" / "main.tf").read_text()
    assert "flexTemplates:launch" in main_tf
    assert "templates/storywire.json" in main_tf
    block = main_tf[main_tf.index("parameters = {"):]
    keys = re.findall(r"^\s+(\w+)\s+=", block[:block.index("}")], re.MULTILINE)
    assert set(keys) <= PARAMETERS and {"input", "output"} <= set(keys)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not installed")
def test_terraform_is_formatted():
    done = subprocess.run(["terraform", "fmt", "-check", "-recursive", str(DEPLOY / "terraform")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_flink_recipe_wires_job_server_cluster_and_worker_pool():
    session = list(yaml.safe_load_all((DEPLOY / "flink" / "flink-session.yaml").read_text()))
    server = list(yaml.safe_load_all((DEPLOY / "flink" / "beam-job-server.yaml").read_text()))
    (flink,) = [d for d in session if d["kind"] == "FlinkDeployment"]
    (deployment,) = [d for d in server if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--flink-master={flink['metadata']['name']}-rest:8081" in args
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":{apache_beam.__version__}")
    assert flink["spec"]["flinkVersion"] == "v1_" + re.search(r"flink1\.(\d+)", image).group(1)
    (sidecar,) = flink["spec"]["taskManager"]["podTemplate"]["spec"]["containers"]
    assert sidecar["args"] == ["--worker_pool"]
    assert {"containerPort": 50000, "name": "worker-pool"} in sidecar["ports"]
    readme = (DEPLOY / "README.md").read_text()
    assert "--environment_config=localhost:50000" in readme


def test_airflow_dag_uses_the_template_parameters():
    dag = (DEPLOY / "airflow" / "storywire_dag.py").read_text()
    block = dag[dag.index('"parameters": {'):]
    keys = re.findall(r'^\s+"(\w+)":', block[:block.index("},")], re.MULTILINE)
    assert set(keys) <= PARAMETERS and {"input", "output"} <= set(keys)
