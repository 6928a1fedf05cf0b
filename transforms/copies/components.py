"""Connected components of an edge list, computed across workers.

Hash-to-Min (Rastogi et al., "Finding connected components in map-reduce in logarithmic
rounds", 2013): every node v holds a set C(v), at first itself and its neighbours. Each
round, v sends C(v) to m = min(C(v)) and {m} to every member of C(v); each node's new set
is the union of what it received. The smallest node of a component ends up holding the
whole component and every other node holds it, so min(C(v)) labels v's component whatever
the order the edges arrived in. Each round is one GroupByKey; nothing gathers the graph on
one worker.

The rounds are fixed when the graph is built. A chain of n nodes settles in about
log2(n) + 4 rounds, and the groups this project links (copies of an article, articles of a
story) are far smaller and shallower. A last round counts the nodes whose label would still
change (in a counter the caller names), so a graph that needed more rounds does not pass
unnoticed.

A graph known to be small (`gathered`) is solved on one worker instead: that of a local
run, or of each part of a run in parts, of at most GATHERED_AT_MOST_RECORDS records. Its
edges fit there, and the rounds, each a step of its own, cost more than the work they
spread: on 1,000 HTML pages with two workers, 23.0 s and 40.0 s of CPU with the rounds,
21.6 s and 38.3 s solved on one worker (the same tables). A cloud run, whose input has no
such bound, passes labels in rounds.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from storywire.transforms.metrics import counter

DEFAULT_ROUNDS = 12
# A run reading at most this many records solves its graphs on one worker. The edges are
# a few per article (its copies, its story links): 50,000 syndicated text articles in one
# part took 133.9 s and 854 MiB at most in a process this way, 159.1 s and 912 MiB with
# the rounds. A run in parts has parts of --max_batch_articles (20,000).
GATHERED_AT_MOST_RECORDS = 50_000


def components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each node of the edges to its component's smallest id, in one process: what
    ConnectedComponents computes across workers (a stream groups a window with this)."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: root(node) for node in parent}


def _endpoints(edge):
    a, b = edge
    for node in (a, b):
        yield node, a
        yield node, b


def _hash_to_min(node_cluster):
    _, cluster = node_cluster
    smallest = min(cluster)
    yield smallest, cluster
    for member in cluster:
        if member != smallest:
            yield member, (smallest,)


def _union(node_parts):
    node, parts = node_parts
    return node, frozenset(member for part in parts for member in part)


def one_round(clusters, label: str):
    return (
        clusters
        | f"Send{label}" >> beam.FlatMap(_hash_to_min)
        | f"Gather{label}" >> beam.GroupByKey()
        | f"Union{label}" >> beam.Map(_union)
    )


class _Settle(beam.DoFn):
    def __init__(self, unsettled_counter: str):
        self.unsettled = counter(unsettled_counter)

    def process(self, joined):
        node, grouped = joined
        (label,) = grouped["after"]
        if grouped["before"] and grouped["before"][0] != label:
            self.unsettled.inc()
        yield node, label


class ConnectedComponents(beam.PTransform):
    """(a, b) edges to (node, component label) for every node on an edge.

    The label is the smallest node id of the component. Nodes on no edge are not in the
    output: they are components of their own. Nodes whose label would still change after
    the last round are counted in the metric `unsettled_counter`. `gathered`: all edges
    are brought to one worker and solved there, for graphs known to be small.
    """

    def __init__(self, unsettled_counter: str, rounds: int = DEFAULT_ROUNDS,
                 gathered: bool = False):
        super().__init__()
        self._unsettled_counter = unsettled_counter
        self._rounds = rounds
        self._gathered = gathered

    def expand(self, edges):
        if self._gathered:
            return (edges
                    # No edges, no components: nothing to solve.
                    | "AllEdges" >> beam.CombineGlobally(
                        beam.combiners.ToListCombineFn()).without_defaults()
                    | "Solve" >> beam.FlatMap(lambda all_edges: components(all_edges).items()))
        clusters = (
            edges
            | "Endpoints" >> beam.FlatMap(_endpoints)
            | "Neighbourhoods" >> beam.GroupByKey()
            | "Start" >> beam.Map(lambda kv: (kv[0], frozenset(kv[1])))
        )
        for r in range(self._rounds):
            clusters = one_round(clusters, str(r))
        labels = {
            "before": clusters | "LabelsBefore" >> beam.Map(lambda kv: (kv[0], min(kv[1]))),
            "after": one_round(clusters, "Check")
            | "LabelsAfter" >> beam.Map(lambda kv: (kv[0], min(kv[1]))),
        }
        return labels | "Compare" >> beam.CoGroupByKey() | "Settle" >> beam.ParDo(
            _Settle(self._unsettled_counter))
