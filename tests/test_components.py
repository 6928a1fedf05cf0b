"""Connected components across workers agree with a union-find on the same edges."""

import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

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
