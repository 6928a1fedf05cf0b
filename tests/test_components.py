"""Connected components, in rounds across workers or on one worker, agree with a
union-find on the same edges; a local run of bounded input solves its graphs on one worker."""

import json
import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import SEEDS, rows

from storywire.pipeline.cli import main
from storywire.transforms.copies import components as components_module
from storywire.transforms.copies.components import ConnectedComponents, components


def union_find_labels(edges):
    """The components of a union-find in one process (components()), as the oracle."""
    return components(edges)


def test_components_match_union_find():
    rng = random.Random(7)
    nodes = [f"n{i:03d}" for i in range(300)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(200)]
    # A long chain in shuffled order: the hardest shape for label propagation.
    chain = [f"c{i:03d}" for i in range(64)]
    rng.shuffle(chain)
    edges += list(zip(chain, chain[1:]))
    expected = union_find_labels(edges)
    with BeamPipeline(runner="FnApiRunner") as p:
        labels = p | beam.Create(edges) | ConnectedComponents("test_unsettled")
        assert_that(labels, equal_to(sorted(expected.items())))


def test_too_few_rounds_are_counted_not_hidden():
    from apache_beam.metrics.metric import MetricsFilter

    chain = [f"c{i:03d}" for i in range(200)]
    random.Random(3).shuffle(chain)
    p = BeamPipeline(runner="FnApiRunner")
    edges = list(zip(chain, chain[1:]))
    _ = p | beam.Create(edges) | ConnectedComponents("chain_unsettled", rounds=1)
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_name("chain_unsettled"))["counters"]
    assert counters and counters[0].committed > 0


def test_components_solved_on_one_worker_match_union_find():
    rng = random.Random(11)
    nodes = [f"n{i:03d}" for i in range(200)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(150)]
    with BeamPipeline(runner="FnApiRunner") as p:
        labels = p | beam.Create(edges) | ConnectedComponents("test_unsettled", gathered=True)
        assert_that(labels, equal_to(sorted(union_find_labels(edges).items())))
    with BeamPipeline(runner="FnApiRunner") as p:  # no edges: no components, no failure
        none = p | beam.Create([]) | ConnectedComponents("test_unsettled", gathered=True)
        assert_that(none, equal_to([]))


def _graph_steps(tmp_path, *options: str, feed=SEEDS) -> tuple[bool, int]:
    """Whether a local run with `options` solves its graphs on one worker, and how many
    steps of Hash-to-Min rounds its pipeline has."""
    from storywire.pipeline.graph import RunContext, build_pipeline
    from storywire.pipeline.options import StorywireOptions, pipeline_options
    from storywire.pipeline.run import fits_one_worker, planned_parts

    options = pipeline_options(["--input", str(feed), "--output", str(tmp_path / "out"),
                                "--direct_num_workers=2", *options])
    gathered = fits_one_worker(planned_parts(options))
    p = beam.Pipeline(runner="FnApiRunner", options=options)
    build_pipeline(p, options.view_as(StorywireOptions),
                   RunContext(str(tmp_path / "staging"), 0, gathered=gathered))
    rounds = sum(1 for node in _walk(p.transforms_stack[0]) if "/Gather0" in node.full_label)
    return gathered, rounds


def _walk(node):
    yield node
    for part in node.parts:
        yield from _walk(part)


def test_a_local_run_of_bounded_input_solves_its_graphs_on_one_worker(tmp_path, monkeypatch):
    # Planned (a local run, parts of --max_batch_articles): gathered, no rounds.
    assert _graph_steps(tmp_path) == (True, 0)
    # In one piece whatever its size (0), the input's size is not known: rounds, for the
    # copy groups and the story links.
    assert _graph_steps(tmp_path, "--max_batch_articles", "0") == (False, 2)
    # A planned run whose parts read more records than one worker's graphs allow: rounds.
    monkeypatch.setattr(components_module, "GATHERED_AT_MOST_RECORDS", 4)
    assert _graph_steps(tmp_path) == (False, 2)


def test_a_run_whose_records_are_only_estimated_solves_its_graphs_in_rounds(tmp_path):
    # A compressed JSONL file in UTF-16 is not unpacked to be cut, and its records are
    # estimated from its first 256 KiB: long records there, 120,000 short ones after,
    # were estimated at a few hundred, and the run would have gathered them all.
    import gzip

    feed = tmp_path / "feed.jsonl.gz"
    import hashlib

    noise = " ".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(1_000))
    long = "".join(json.dumps({"id": f"L{n}", "text": f"{n} {noise}"}) + "\n"
                   for n in range(30))
    short = "".join(json.dumps({"id": f"S{n}", "text": "a short one"}) + "\n"
                    for n in range(120_000))
    feed.write_bytes(gzip.compress((long + short).encode("utf-16"), compresslevel=1))
    from storywire.transforms.read.parts import plan_parts

    (part,) = plan_parts([str(feed)], None, 200_000)
    assert part.records < 50_000 and part.estimated  # the estimate is far off
    assert _graph_steps(tmp_path, "--max_batch_articles", "200000", feed=feed) == (False, 2)


def test_graphs_solved_on_one_worker_or_in_rounds_give_the_same_tables(tmp_path, capsys):
    # Each seed twice (a copy under another id) and once rewritten: copy groups and
    # stories across the seeds, as the tables hold them.
    feed = tmp_path / "feed.jsonl"
    with open(feed, "w", encoding="utf-8") as out:
        for n, path in enumerate(sorted(SEEDS.glob("*.txt"))):
            text = path.read_text(encoding="utf-8")
            for copy in ("a", "b"):
                out.write(json.dumps({"id": f"{n}{copy}", "text": text}) + "\n")
            out.write(json.dumps({"id": f"{n}c", "text": text.replace(".", ";", 3)}) + "\n")
    outputs = {}
    for name, extra in (("gathered", []), ("rounds", ["--max_batch_articles", "0"])):
        outputs[name] = tmp_path / name
        assert main(["run", "--input", str(feed), "--output", str(outputs[name]), "--quiet",
                     "--direct_num_workers=2", "--direct_running_mode=multi_processing",
                     *extra]) == 0
    capsys.readouterr()
    for table, order in (("story_index", "article_id"), ("stories", "story_id")):
        gathered, rounds = (rows(outputs[name], table, order) for name in outputs)
        drop = {"ingested_at", "assigned_at", "index_date"}  # when the runs started
        assert ([{k: v for k, v in r.items() if k not in drop} for r in gathered]
                == [{k: v for k, v in r.items() if k not in drop} for r in rounds])
    index = rows(outputs["gathered"], "story_index", "article_id")
    assert len({r["dup_group_id"] for r in index}) < len(index)  # copies were grouped
