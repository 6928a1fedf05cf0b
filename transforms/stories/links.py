"""Stories: articles that report the same news event, one story_id each.

The phases, each in a module of its own:

1. representatives: each dup group is represented by its smallest article id (a story's
   many copies would otherwise fill every neighbourhood with themselves);
2. vectors (`vectors.py`): TF-IDF vectors of content words;
3. links (`neighbours.py`): shared-nearest-neighbour links between representatives,
   found among candidates that share a strong term and a time bucket;
4. components: connected groups of links;
5. refinement: inside each component, average-linkage clustering on cosine similarity
   keeps only groups whose articles are similar on average, so a chain of links through
   related events (a war's battles, a trial's hearings) does not make one giant story;
6. copies join the story of their group's representative.

Each story has exactly one canonical article, chosen by `canonical_order`: the earliest
published, then the longest text (the most complete version), then the smallest
article_id. The story_id is derived from the canonical article's id.
"""

from __future__ import annotations

import apache_beam as beam

from storywire.transforms.copies.components import ConnectedComponents
from storywire.transforms.metrics import (
    STORIES_UNSETTLED,
    STORY_COMPONENTS_SPLIT,
    STORY_COMPONENTS_UNREFINED,
    counter,
)
from storywire.transforms.stories.grouping import (
    MAX_REFINED_COMPONENT,
    StorySettings,
    average_linkage,
)
from storywire.transforms.stories.neighbours import SharedNeighbourLinks


def _representatives(joined):
    """Vectors of the articles that stand for their dup group: those without copies, and
    each group's smallest article id."""
    article_id, grouped = joined
    if grouped["vector"] and (not grouped["group"] or grouped["group"][0] == article_id):
        # One vector per article, even if an id were both new and stored.
        yield min(grouped["vector"], key=lambda v: v[2])


class _Refine(beam.DoFn):
    def __init__(self, threshold: float):
        self._threshold = threshold
        self.unrefined = counter(STORY_COMPONENTS_UNREFINED)
        self.split = counter(STORY_COMPONENTS_SPLIT)

    def process(self, keyed):
        component, members = keyed
        members = list(members)
        if len(members) > MAX_REFINED_COMPONENT:
            self.unrefined.inc()
            for article_id, _ in members:
                yield article_id, component
            return
        labels = average_linkage(members, self._threshold)
        if len(set(labels.values())) > 1:
            self.split.inc()
        yield from labels.items()


def _by_component(joined):
    article_id, grouped = joined
    for component in grouped["component"]:
        for vector in grouped["vector"]:
            yield component, (article_id, vector)


def _copy_story(joined):
    """A copy's story is its representative's (or the representative itself, unlinked)."""
    representative, grouped = joined
    story = grouped["story"][0] if grouped["story"] else representative
    for copy in grouped["copies"]:
        yield copy, story


class LinkStories(beam.PTransform):
    """Story vectors and dup-group labels to (article_id, story label).

    `vectors` holds (article_id, published_at, packed vector, candidate keys) of every
    article to compare (the run's, and those read back from the story index);
    `copy_groups` holds (article_id, smallest article id of its dup group) for articles
    with copies. Articles missing from the output are stories of their own. `gathered`:
    the links are few, and grouped on one worker (ConnectedComponents).
    """

    def __init__(self, settings: StorySettings = StorySettings(), gathered: bool = False):
        super().__init__()
        self._gathered = gathered
        self._links = SharedNeighbourLinks(settings.threshold, settings.neighbours,
                                           settings.min_similarity, settings.window_days,
                                           settings.max_compared)
        self._refine_similarity = settings.refine_similarity

    def expand(self, pcolls):
        all_vectors, copy_groups = pcolls
        vectors = (
            {"vector": all_vectors | "ById" >> beam.Map(lambda v: (v[0], v)),
             "group": copy_groups}
            | "JoinGroups" >> beam.CoGroupByKey()
            | "Representatives" >> beam.FlatMap(_representatives)
        )
        components = (
            vectors
            | "Links" >> self._links
            | "Components" >> ConnectedComponents(STORIES_UNSETTLED, gathered=self._gathered)
        )
        stories = (
            {"component": components,
             "vector": vectors | "VectorById" >> beam.Map(lambda v: (v[0], v[2]))}
            | "JoinVectors" >> beam.CoGroupByKey()
            | "ByComponent" >> beam.FlatMap(_by_component)
            | "GroupComponents" >> beam.GroupByKey()
            | "Refine" >> beam.ParDo(_Refine(self._refine_similarity))
        )
        copies = (copy_groups
                  | "Copies" >> beam.Filter(lambda kv: kv[0] != kv[1])
                  | "ByRepresentative" >> beam.Map(lambda kv: (kv[1], kv[0])))
        copy_stories = (
            {"story": stories, "copies": copies}
            | "JoinCopies" >> beam.CoGroupByKey()
            | "CopyStories" >> beam.FlatMap(_copy_story)
        )
        return (stories, copy_stories) | "AllStories" >> beam.Flatten()
