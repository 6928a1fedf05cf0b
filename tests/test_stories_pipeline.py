"""Story tagging through Beam: similar events stay apart, copies and rewrites join, and the
result does not depend on input order, file split or worker count."""

import json
import random
from pathlib import Path

from storywire.pipeline.cli import main
from storywire.transforms.stories.frequencies import frequency_table
from storywire.transforms.stories.neighbours import DEFAULT_MIN_SIMILARITY
from storywire.transforms.stories.vectors import (
    cosine,
    story_terms,
    tfidf_vector,
)

FAST = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]
FILLER = ("the officials said on the day that the people in the city were waiting for more "
          "news from the government and the police about what happened next").split()


def made_up_words(rng, n):
    return ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4))
            for _ in range(n)]


def two_similar_events(seed=11, per_event=8):
    """Two events sharing a protagonist and a place (the core words) but with details of
    their own, as two fights of one boxer or two arrests of one team's players are."""
    rng = random.Random(seed)
    core = made_up_words(rng, 5)
    details = {"a": made_up_words(rng, 24), "b": made_up_words(rng, 24)}
    records = []
    for event, words in details.items():
        for i in range(per_event):
            picked = core + rng.sample(words, 12) + rng.sample(FILLER, 10)
            rng.shuffle(picked)
            sentences = [" ".join(picked[j:j + 9]).capitalize() + "." for j in range(0, 27, 9)]
            # Made-up words are no language (a detector may take them for Shona or
            # Bosnian), so the feed says which one weighs them, as a feed may.
            records.append({"id": f"{event}{i}", "text": " ".join(sentences), "event": event,
                            "language": "en"})
    return records


def run_and_read(tmp_path, name, files, *options):
    import duckdb

    inbox = tmp_path / f"{name}-in"
    inbox.mkdir()
    for i, records in enumerate(files):
        with open(inbox / f"part{i}.jsonl", "w") as handle:
            for record in records:
                clean = {k: v for k, v in record.items() if k != "event"}
                handle.write(json.dumps(clean) + "\n")
    out = tmp_path / f"{name}-out"
    assert main(["run", "--input", str(inbox), "--output", str(out), *options]) == 0
    rel = duckdb.sql(f"SELECT article_id, story_id, dup_group_id, is_canonical FROM "
                     f"read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)")
    return {r[0]: r[1:] for r in rel.fetchall()}


def test_events_that_share_names_are_candidates_yet_stay_apart(tmp_path, capsys):
    records = two_similar_events()
    frequencies = frequency_table("en")
    vectors = {r["id"]: tfidf_vector(story_terms(r["text"]), frequencies) for r in records}
    across = [cosine(vectors[f"a{i}"], vectors[f"b{j}"]) for i in range(8) for j in range(8)]
    # The premise: linking every similar pair would lump the two events together.
    assert max(across) >= DEFAULT_MIN_SIMILARITY
    rows = run_and_read(tmp_path, "events", [records], *FAST)
    stories = {event: {rows[r["id"]][0] for r in records if r["event"] == event}
               for event in ("a", "b")}
    assert len(stories["a"]) == 1 and len(stories["b"]) == 1
    assert stories["a"] != stories["b"]
    assert "largest: 8 articles" in capsys.readouterr().out


def test_copies_and_rewrites_join_one_story(tmp_path):
    records = two_similar_events()
    copies = [{"id": f"copy{i}", "text": records[0]["text"], "event": "a"} for i in range(6)]
    rows = run_and_read(tmp_path, "copies", [records + copies], *FAST)
    assert {rows[f"copy{i}"][1] for i in range(6)} == {rows["a0"][1]}  # one dup group
    assert rows["a1"][1] != rows["a0"][1]  # a rewrite is no copy...
    assert {rows[r["id"]][0] for r in records + copies if r["event"] == "a"} == {rows["a0"][0]}
    assert sum(rows[r["id"]][2] for r in records + copies if r["event"] == "a") == 1


def dated(records):
    start = {"a": "2024-03-0{}T09:00:00Z", "b": "2027-06-0{}T18:30:00Z"}
    return [dict(r, published=start[r["event"]].format(1 + i % 3))
            for i, r in enumerate(records)]


def test_same_ids_whatever_the_order_split_and_workers(tmp_path):
    records = dated(two_similar_events(seed=5))
    records += [{"id": f"c{i}", "text": records[3]["text"], "event": "a", "language": "en"}
                for i in range(3)]
    # Worker options given: copies and stories are grouped in rounds across workers.
    first = run_and_read(tmp_path, "ordered", [records], *FAST)
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    # None given, a small input: in-process, each graph solved in one place.
    second = run_and_read(tmp_path, "shuffled", [shuffled[:9], shuffled[9:]])
    assert first == second
    assert len({v[0] for v in first.values()}) == 2


def test_stories_are_local_in_time(tmp_path):
    records = two_similar_events(seed=5)
    one_event = [r for r in records if r["event"] == "a"]
    spread = [dict(r, published=f"20{10 + i}-01-01T00:00:00Z") for i, r in enumerate(one_event)]
    rows = run_and_read(tmp_path, "years", [spread], *FAST)
    # Eight reports a year apart each are never compared: eight stories, not one.
    assert len({v[0] for v in rows.values()}) == len(spread)


def test_six_languages_two_events_one_story_per_event_and_language(tmp_path):
    """Floods in Valencia and Valencia's football club sacking its coach, each reported
    twice in English, German, Spanish, French, Chinese and Arabic: the name is everywhere,
    yet each event in each language is one story of its own."""
    import duckdb

    fixture = Path(__file__).parent / "fixtures" / "valencia_six_languages.jsonl"
    records = [json.loads(line) for line in fixture.read_text(encoding="utf-8").splitlines()]
    inbox = tmp_path / "in"
    inbox.mkdir()
    with open(inbox / "feed.jsonl", "w", encoding="utf-8") as handle:
        for r in records:  # the feed does not say the language: it is detected
            handle.write(json.dumps({k: r[k] for k in ("id", "text", "published", "source")},
                                    ensure_ascii=False) + "\n")
    out = tmp_path / "out"
    assert main(["run", "--input", str(inbox), "--output", str(out), *FAST]) == 0
    found = {row[0]: row[1:] for row in duckdb.sql(
        f"SELECT article_id, language, story_id FROM "
        f"read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)").fetchall()}
    assert {i: language for i, (language, _) in found.items()} == {
        r["id"]: r["lang"] for r in records}
    stories = {}
    for r in records:
        stories.setdefault(found[r["id"]][1], set()).add((r["lang"], r["event"]))
    assert sorted(map(len, stories.values())) == [1] * 12  # no story mixes two
    assert len(stories) == 12  # and each (language, event) is one story
