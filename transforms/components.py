"""Connected components of an edge list, computed across workers.

Each node starts labelled with itself. A round sends every label to the node's neighbours
and keeps the smallest, then lets each node take its label's label (pointer jumping), so
labels travel along long paths in few rounds. The label a node ends with is the smallest
node id in its component, whatever the order the edges arrived in. Nothing gathers the
graph on one worker; every step is a keyed join.

The number of rounds is fixed when the graph is built. The components this project makes
(near-duplicate groups, story candidates) are small and shallow, so they settle in a few
rounds; a last check counts nodes that were still moving (`components_unsettled`), which
would mean more rounds are needed.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

NAMESPACE = "storywire"
DEFAULT_ROUNDS = 8


def _both_ways(edge):
    a, b = edge
    if a != b:
        yield a, b
        yield b, a


def _spread(joined):
    """Send a node's label to itself and to each neighbour."""
    node, grouped = joined
    labels, neighbours = grouped["label"], grouped["adjacent"]
    label = min(labels) if labels else node
    yield node, label
    for adjacent in neighbours:
        for other in adjacent:
            yield other, label


def _jump(joined):
    """Every node whose label is `label_node` takes that node's own label (never larger)."""
    label_node, grouped = joined
    own = grouped["own"]
    members = grouped["members"]
    new = min([label_node, *own])
    for member in members:
        yield member, new


class _CountUnsettled(beam.DoFn):
    def __init__(self, name: str):
        self.unsettled = Metrics.counter(NAMESPACE, f"{name}_unsettled")

    def process(self, joined):
        node, grouped = joined
        now, nxt = grouped["now"], grouped["next"]
        if now and nxt and min(nxt) < now[0]:
            self.unsettled.inc()
        yield node, now[0] if now else min(nxt)


class ConnectedComponents(beam.PTransform):
    """(a, b) edges to (node, component label) for every node on an edge.

    The label is the smallest node id of the component. Nodes on no edge are not in the
    output: they are components of their own.
    """

    def __init__(self, name: str = "components", rounds: int = DEFAULT_ROUNDS):
        super().__init__()
        self._name = name
        self._rounds = rounds

    def expand(self, edges):
        adjacency = (
            edges
            | "BothWays" >> beam.FlatMap(_both_ways)
            | "Distinct" >> beam.Distinct()
            | "Adjacency" >> beam.GroupByKey()
        )
        labels = adjacency | "Start" >> beam.Map(lambda kv: (kv[0], kv[0]))
        for r in range(self._rounds):
            labels = (
                {"label": labels, "adjacent": adjacency}
                | f"Join{r}" >> beam.CoGroupByKey()
                | f"Spread{r}" >> beam.FlatMap(_spread)
                | f"Smallest{r}" >> beam.CombinePerKey(min)
            )
            labels = (
                {"members": labels | f"ByLabel{r}" >> beam.Map(lambda kv: (kv[1], kv[0])),
                 "own": labels}
                | f"JoinLabel{r}" >> beam.CoGroupByKey()
                | f"Jump{r}" >> beam.FlatMap(_jump)
            )
        following = (
            {"label": labels, "adjacent": adjacency}
            | "JoinCheck" >> beam.CoGroupByKey()
            | "SpreadCheck" >> beam.FlatMap(_spread)
            | "SmallestCheck" >> beam.CombinePerKey(min)
        )
        return (
            {"now": labels, "next": following}
            | "JoinSettled" >> beam.CoGroupByKey()
            | "CountUnsettled" >> beam.ParDo(_CountUnsettled(self._name))
        )
