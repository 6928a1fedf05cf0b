"""The run summary reads the counters the steps count, and says when a bound cut work."""

import ast
import json
import random
from pathlib import Path

from conftest import FAST, ROOT, seed_text

from storywire.pipeline.cli import main
from storywire.pipeline.report import SUMMARY_COUNTERS, RunSummary
from storywire.transforms import metrics
from storywire.transforms.stories.neighbours import DEFAULT_MAX_COMPARED


def counted_names() -> set[str]:
    """The metric names some step of transforms/ counts, read from the source: every
    `counter(NAME)` or `distribution(NAME)` call with a constant of the metrics module, and
    the counters handed to ConnectedComponents."""
    names = set()
    for path in (ROOT / "transforms").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("counter", "distribution", "ConnectedComponents")
                    and node.args
                    and isinstance(node.args[0], ast.Name)
                    and hasattr(metrics, node.args[0].id)):
                names.add(getattr(metrics, node.args[0].id))
    return names


def test_every_counter_the_summary_reads_is_counted_by_a_step():
    counted = counted_names()
    assert metrics.INPUT_UNITS in counted  # the scan finds the calls at all
    assert set(SUMMARY_COUNTERS) - counted == set()


def test_no_step_names_a_metric_of_its_own():
    for path in list((ROOT / "transforms").rglob("*.py")) + list((ROOT / "pipeline").glob("*.py")):
        if path.name != "metrics.py":
            assert "Metrics.counter" not in path.read_text(), path.name
            assert "Metrics.distribution" not in path.read_text(), path.name


def test_the_summary_names_each_bound_that_was_hit():
    summary = RunSummary({metrics.STORY_BUCKETS_OVER_MAX_COMPARED: 2,
                          metrics.DUP_BUCKETS_CAPPED: 0})
    text = summary.text()
    assert "2 story candidate buckets over their bound" in text
    assert metrics.DUP_BUCKETS_CAPPED not in text


def test_a_run_that_cuts_a_story_bucket_says_so(tmp_path, capsys):
    # More undated articles sharing one rare term than a bucket compares: the same event
    # told in words drawn at random from a seed article, so no two are copies.
    rng = random.Random(5)
    vocabulary = sorted(set(seed_text("003").split()))
    lines = []
    for i in range(DEFAULT_MAX_COMPARED + 5):
        words = " ".join(rng.choice(vocabulary) for _ in range(30))
        lines.append(json.dumps({"id": f"a{i:03d}", "text": f"Zanzibarian Zanzibarian {words}."}))
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    assert main(["run", "--input", str(feed), "--output", str(tmp_path / "out"), *FAST]) == 0
    out = capsys.readouterr().out
    assert "story candidate buckets over their bound" in out


def test_metric_names_are_unique():
    values = [v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)
              and k != "NAMESPACE"]
    assert len(values) == len(set(values))
    assert Path(metrics.__file__).name == "metrics.py"
