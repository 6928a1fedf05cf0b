"""A stream groups a window in one process (grouping.py) as a batch run groups across
workers (LinkStories): the same labels for the same articles."""

import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import SHARED_DATA, seed_text

from storywire.transforms.copies.fingerprint import simhash64
from storywire.transforms.copies.neardup import CopyGroups, NearDuplicatePairs
from storywire.transforms.stories.frequencies import frequency_table
from storywire.transforms.stories.grouping import StorySettings, copy_groups, story_groups
from storywire.transforms.stories.links import LinkStories
from storywire.transforms.stories.vectors import (
    StoryVector,
    candidate_keys,
    pack,
    story_terms,
    tfidf_vector,
)


def articles() -> list[tuple[str, str, int | None]]:
    """(id, text, published_at): the seeds, a copy of one, and ECB+ reports when present."""
    day = 86_400 * 1_000_000
    found = [(f"s{p}", seed_text(p), None) for p in ("000", "001", "002", "003", "004")]
    found.append(("s003-copy", seed_text("003") + "\nShared from the wire.", 5 * day))
    ecb = SHARED_DATA / "ecbplus_dev.jsonl"
    if ecb.exists():
        with ecb.open(encoding="utf-8") as lines:
            for n, line in zip(range(160), lines):
                record = json.loads(line)
                found.append((record["id"], record["text"], (n % 7) * day if n % 3 else None))
    return found


@pytest.fixture(scope="module")
def window():
    frequencies = frequency_table("en")
    vectors, fingerprints = [], []
    for article_id, text, published_at in articles():
        packed = pack(tfidf_vector(story_terms(text), frequencies))
        vectors.append(StoryVector(article_id, published_at, packed, candidate_keys(packed)))
        fingerprints.append((article_id, simhash64(text)))
    return vectors, fingerprints


def test_one_process_groups_as_the_batch_transforms_do(window):
    vectors, fingerprints = window
    settings = StorySettings()
    expected = story_groups(vectors, copy_groups(fingerprints, settings.dup_max_distance),
                            settings)
    assert expected["s003-copy"] == expected["s003"]
    assert len(set(expected.values())) < len(vectors)  # some articles were linked
    with BeamPipeline() as p:
        copies = (p | "Fingerprints" >> beam.Create(fingerprints)
                  | NearDuplicatePairs(settings.dup_max_distance) | CopyGroups())
        labels = ((p | "Vectors" >> beam.Create(vectors), copies)
                  | LinkStories(settings))
        # LinkStories leaves out articles without links: they are groups of their own.
        linked = {v.article_id for v in vectors if expected[v.article_id] != v.article_id
                  or list(expected.values()).count(v.article_id) > 1}
        assert_that(labels, equal_to([(a, expected[a]) for a in sorted(linked)]))
