"""The stream pipeline, driven by TestStream on Beam's local streaming runner."""

import gzip
import json
import os
import subprocess
import sys

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.utils.timestamp import Timestamp
from conftest import FAST, ctrl_c_twice, rows, run, seed_text

from storywire.pipeline.cli import main
from storywire.pipeline.graph import build_stream_pipeline
from storywire.pipeline.options import StorywireOptions, StreamOptions
from storywire.transforms.streaming import event_time
from storywire.transforms.write.stored import current_story_ids

pubsub = pytest.importorskip("apache_beam.io.gcp.pubsub", reason="needs the gcp extra")

BASE = Timestamp.from_rfc3339("2024-10-28T01:00:00Z").micros
MINUTE = 60 * 1_000_000


def message(record: dict, message_id: str):
    return pubsub.PubsubMessage(json.dumps(record).encode(), {}, message_id=message_id)


def seed_record(prefix: str) -> dict:
    return {"id": f"s{prefix}", "text": seed_text(prefix)}


def run_stream(events: list, output, *options) -> None:
    """events: ("at", minutes, record) adds a record arriving then; ("watermark", minutes)
    moves the watermark. Processing time then runs on, so late panes fire."""
    stream = BeamTestStream().advance_watermark_to(Timestamp(micros=BASE))
    for n, event in enumerate(events):
        if event[0] == "at":
            _, minutes, record = event
            arrival = Timestamp(micros=BASE + int(minutes * MINUTE))
            stream = stream.add_elements(
                [beam.window.TimestampedValue(message(record, f"m{n}"), arrival)])
        else:
            stream = stream.advance_watermark_to(
                Timestamp(micros=BASE + int(event[1] * MINUTE))).advance_processing_time(60)
    for _ in range(40):
        stream = stream.advance_processing_time(60)
    stream = stream.advance_watermark_to_infinity()
    pipeline_options = PipelineOptions(["--output", str(output), *options])
    pipeline_options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=pipeline_options) as p:
        build_stream_pipeline(p | stream, pipeline_options.view_as(StorywireOptions),
                              pipeline_options.view_as(StreamOptions),
                              "projects/p/subscriptions/test", 0)


def tags(output) -> dict[str, tuple]:
    return {r["article_id"]: (r["story_id"], r["dup_group_id"], r["is_canonical"])
            for r in rows(output, "articles", "article_id")}


def test_articles_arriving_over_a_window_get_the_batch_ids(tmp_path, capsys):
    records = [seed_record(p) for p in ("000", "001", "002", "003", "004")]
    feed = tmp_path / "in" / "feed.jsonl"
    feed.parent.mkdir()
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    run(capsys, "--input", str(feed), "--output", str(tmp_path / "batch"), *FAST)

    arrivals = [("at", 3 * i, r) for i, r in enumerate(records[::-1])]
    events = [e for a in arrivals for e in (a, ("watermark", a[1] + 1))]
    # One window holds them all: 000 is dated 00:00, the rest arrive undated from 01:00.
    run_stream(events, tmp_path / "stream", "--window_minutes", "120")
    assert tags(tmp_path / "stream") == tags(tmp_path / "batch")
    assert len({story for story, _, _ in tags(tmp_path / "stream").values()}) == 1


def test_late_records_are_written_and_join_their_story(tmp_path):
    on_time = [seed_record("003"), seed_record("004")]
    late_copy = {"id": "late", "text": seed_text("003"), "published": "2024-10-28T01:05:00Z"}
    old = {"id": "old", "text": seed_text("002"), "published": "2024-01-01T00:00:00Z"}
    events = [("at", 1, on_time[0]), ("at", 2, on_time[1]), ("watermark", 15),
              ("at", 16, late_copy),    # published in the first window, which has closed
              ("at", 17, old),          # far older than the allowed lateness
              ("at", 18, {"id": "bad"}),
              # no content word at all: no story terms, still an article of its own
              ("at", 19, {"id": "stop", "text": "It is what it is, and that was that."}),
              ("at", 20, {"id": "future", "text": seed_text("004"), "published": "9999-12-31"}),
              ("watermark", 30)]
    out = tmp_path / "stream"
    run_stream(events, out, "--window_minutes", "10", "--allowed_lateness_hours", "24")
    arts = {r["article_id"]: r for r in rows(out, "articles", "article_id")}
    assert sorted(arts) == ["future", "late", "old", "s003", "s004", "stop"]
    assert arts["future"]["published_at"] is None  # a placeholder date is no date
    assert arts["late"]["story_id"] == arts["s003"]["story_id"]
    assert str(arts["late"]["published_at"]) == "2024-10-28 01:05:00+00:00"
    assert str(arts["old"]["published_at"]) == "2024-01-01 00:00:00+00:00"  # kept as given
    # The late record's file is a late pane of the first window, next to the on-time one.
    late_files = list(out.glob("articles/published_date=2024-10-28/part-w20241028T010000Z-*"))
    assert late_files
    (reject,) = rows(out, "rejects", "input_uri")
    assert reject["stage"] == "parse" and "neither" in reject["reason"]
    assert not list(out.glob("_staging/**/*.parquet"))


def test_a_story_continues_across_windows_as_in_a_batch_run(tmp_path, capsys):
    # 003 and 000 arrive in one window, 004 a window later: the stream gives the three one
    # story, as one batch run over them does.
    events = [("at", 1, seed_record("003")), ("at", 2, seed_record("000")), ("watermark", 15),
              ("at", 16, seed_record("004")), ("watermark", 30)]
    out = tmp_path / "stream"
    run_stream(events, out, "--window_minutes", "10")
    assert len(set(current_story_ids(str(out)).values())) == 1
    index = rows(out, "story_index", "article_id")
    assert sorted(r["article_id"] for r in index) == ["s000", "s003", "s004"]
    canonical = {a for a, (_, _, c) in tags(out).items() if c}
    assert len(canonical) == 1


def test_event_time_is_the_publication_time_within_the_lateness():
    hour = 3600 * 1_000_000
    assert event_time(None, 10 * hour, 2 * hour) == 10 * hour
    assert event_time(9 * hour, 10 * hour, 2 * hour) == 9 * hour
    assert event_time(1 * hour, 10 * hour, 2 * hour) == 8 * hour   # older: as late as allowed
    assert event_time(12 * hour, 10 * hour, 2 * hour) == 10 * hour  # future: its arrival


def test_dataflow_streaming_job_builds_offline(tmp_path):
    command = [sys.executable, "-m", "storywire.pipeline.cli", "stream",
               "--input_subscription", "projects/my-project/subscriptions/articles",
               "--output", "gs://my-bucket/out", "--runner=DataflowRunner",
               "--project=my-project", "--region=us-central1",
               "--temp_location=gs://my-bucket/tmp", "--dry_run=True"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "job built" in done.stderr
    assert "Traceback" not in done.stderr


def test_placeholder_cloud_names_fail_fast_with_a_clear_error(tmp_path):
    command = [sys.executable, "-m", "storywire.pipeline.cli", "stream",
               "--input_subscription", "projects/P/subscriptions/S", "--output", "gs://B/out",
               "--runner=DataflowRunner", "--project=P", "--region=R",
               "--temp_location=gs://B/tmp", "--dry_run=True"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "--temp_location gs://B/tmp is not gs://BUCKET/PATH" in done.stderr
    assert "Traceback" not in done.stderr


def test_storage_notifications_name_the_finished_file():
    from storywire.transforms.streaming import gcs_notification_path

    finished = {"eventType": "OBJECT_FINALIZE", "bucketId": "news", "objectId": "raw/a.jsonl"}
    assert gcs_notification_path(finished) == "gs://news/raw/a.jsonl"
    assert gcs_notification_path({**finished, "eventType": "OBJECT_DELETE"}) is None
    assert gcs_notification_path({}) is None


def write_feed(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_replay_gives_the_seeds_one_story_and_the_batch_rows(tmp_path, capsys):
    feed = write_feed(tmp_path / "seeds.jsonl", [seed_record(p) for p in
                                                 ("003", "001", "004", "000", "002")])
    run(capsys, "--input", feed, "--output", str(tmp_path / "batch"), *FAST)
    # Undated records a minute apart in 2-minute windows: the story spans windows.
    assert main(["stream", "--replay", feed, "--output", str(tmp_path / "stream"),
                 "--window_minutes", "2"]) == 0
    assert "5 articles in 1 stories" in capsys.readouterr().out
    batch = current_story_ids(str(tmp_path / "batch"))
    stream = current_story_ids(str(tmp_path / "stream"))
    assert sorted(batch) == sorted(stream) and len(set(stream.values())) == 1
    # A stream writes no stories table; `storywire stories` makes it from the index.
    assert main(["stories", str(tmp_path / "stream")]) == 0
    printed = capsys.readouterr().out
    assert "1 stories" in printed and f"{next(iter(stream.values()))}  5 " in printed

    def copies(output):  # the copy groups, whatever they are named after
        groups = {}
        for r in rows(output, "articles", "article_id"):
            groups.setdefault(r["dup_group_id"], set()).add(r["article_id"])
        return sorted(map(sorted, groups.values()))

    # A group's id comes from the first of it written (a window before the other copy).
    assert copies(tmp_path / "stream") == copies(tmp_path / "batch")
    # Files written aside and renamed in leave no empty folders behind.
    assert not (tmp_path / "stream" / "_staging").exists()
    assert [d for d in (tmp_path / "stream").rglob("*")
            if d.is_dir() and not any(d.iterdir())] == []


def test_a_run_after_a_replay_of_its_file_finds_the_replay_rejects_recorded(tmp_path, capsys):
    # A replay names each record by its file and line, as a run over the file does.
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(seed_record(p)) + "\n" for p in ("000", "001"))
                    + "not json\n", encoding="utf-8")
    out = str(tmp_path / "out")
    # "dir/./feed.jsonl" and "dir/feed.jsonl" are one name, as for a run.
    spelt = os.path.join(os.path.dirname(feed), ".", feed.name)
    assert main(["stream", "--replay", spelt, "--output", out]) == 0
    replayed = rows(out, "rejects", "input_uri")
    assert [(r["input_uri"], r["line"], r["stage"]) for r in replayed] == [
        (str(feed), 3, "parse")]
    capsys.readouterr()
    assert main(["run", "--input", str(feed), "--output", out, *FAST]) == 0
    printed = capsys.readouterr().out
    assert "0 new (2 already in the output, skipped)" in printed
    assert "0 new (1 already recorded)" in printed
    assert rows(out, "rejects", "input_uri") == replayed


def test_an_interrupted_replay_says_whether_its_output_can_take_a_replay_again(
        tmp_path, capsys, monkeypatch):
    import storywire.pipeline.replay as replay_module

    feed = write_feed(tmp_path / "seeds.jsonl", [seed_record(p) for p in ("003", "001")])
    out = str(tmp_path / "out")
    replay = replay_module.replay

    def stopped_before_it_starts(*args):
        raise KeyboardInterrupt

    def stopped_as_it_ends(*args):  # Ctrl-C after the windows wrote their files
        replay(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(replay_module, "replay", stopped_before_it_starts)
    assert main(["stream", "--replay", feed, "--output", out]) == 130
    assert "interrupted; nothing was written" in capsys.readouterr().err
    monkeypatch.setattr(replay_module, "replay", stopped_as_it_ends)
    assert main(["stream", "--replay", feed, "--output", out]) == 130
    assert (f"interrupted; {out} holds what the replay wrote before it stopped: replay "
            "into a new or empty folder") in capsys.readouterr().err
    assert main(["stream", "--replay", feed, "--output", out]) == 2
    assert "holds tables already" in capsys.readouterr().err


def test_replay_of_a_dated_feed_spread_over_years_finishes(tmp_path, capsys):
    # One event's reports days apart in 2010, others years later, in publication order:
    # the stream ends, each event is one story, and events years apart stay apart.
    records = []
    for year, seeds in ((2010, ("003", "004", "000")), (2013, ("001",)), (2016, ("002",))):
        for day, prefix in enumerate(seeds):
            records.append({"id": f"{year}-{prefix}", "text": seed_text(prefix),
                            "published": f"{year}-03-{1 + 2 * day:02d}T08:00:00Z"})
    feed = write_feed(tmp_path / "dated.jsonl", records)
    assert main(["stream", "--replay", feed, "--output", str(tmp_path / "out")]) == 0
    stories = current_story_ids(str(tmp_path / "out"))
    assert len(stories) == 5
    assert stories["2010-003"] == stories["2010-004"] == stories["2010-000"]
    assert len({stories["2010-003"], stories["2013-001"], stories["2016-002"]}) == 3
    dates = {r["article_id"]: str(r["published_at"])[:10]
             for r in rows(tmp_path / "out", "articles", "article_id")}
    assert dates["2016-002"] == "2016-03-01"


def test_replay_says_what_is_wrong_with_its_file(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["stream", "--replay", str(tmp_path / "none.jsonl"), "--output", out]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["stream", "--replay", str(tmp_path), "--output", out]) == 2
    assert "is a folder" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"id": "a", "text": "x"}\n' * 50)[:40])
    assert main(["stream", "--replay", str(broken), "--output", out]) == 2
    assert "cannot be read" in capsys.readouterr().err
    feed = write_feed(tmp_path / "f.jsonl", [seed_record("000")])
    assert main(["stream", "--replay", feed, "--output", out,
                 "--input_subscription", "projects/p/subscriptions/s"]) == 2
    assert "without --input_subscription" in capsys.readouterr().err
    assert main(["stream", "--replay", feed, "--output", out,
                 "--replay_interval_seconds", "0"]) == 2
    assert "--replay_interval_seconds" in capsys.readouterr().err
    assert main(["stream", "--replay", "/dev/null", "--output", out]) == 2
    assert "not a regular file" in capsys.readouterr().err
    # Options of a batch run would do nothing here: refused, not ignored.
    for flag, value in (("--input", feed), ("--max_batch_articles", "5"),
                        ("--max_reject_fraction", "1")):
        assert main(["stream", "--replay", feed, "--output", out, flag, value]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"storywire stream: {flag} does not apply to a stream"), line
    # A file of no record at all gives no article: exit status 1, as a run from which none
    # came.
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n[1, 2]\n")
    assert main(["stream", "--replay", str(junk), "--output", str(tmp_path / "junk")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"storywire stream: no article came out of the replay; the reasons are in "
        f"{tmp_path / 'junk' / 'rejects'}/")
    # A replay does not skip stored articles: it writes into a new or empty output only.
    assert main(["stream", "--replay", feed, "--output", out]) == 0
    capsys.readouterr()
    assert main(["stream", "--replay", feed, "--output", out]) == 2
    assert "holds tables already" in capsys.readouterr().err
    assert len(rows(tmp_path / "out", "articles", "article_id")) == 1


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_replay_reads_a_file_with_a_byte_order_mark_as_a_run_does(tmp_path, capsys, caplog,
                                                                  encoding):
    records = [{"id": p, "text": seed_text(p), "published": f"2024-10-2{n}T10:00:00Z"}
               for n, p in enumerate(("000", "001", "003"))]
    feed = tmp_path / "marked.jsonl"
    feed.write_bytes("".join(json.dumps(r) + "\n" for r in records).encode(encoding))
    run(capsys, "--input", str(feed), "--output", str(tmp_path / "batch"), *FAST)
    assert main(["stream", "--replay", str(feed), "--output", str(tmp_path / "stream")]) == 0
    stream = current_story_ids(str(tmp_path / "stream"))
    assert sorted(stream) == sorted(current_story_ids(str(tmp_path / "batch"))) == [
        "000", "001", "003"]
    assert not (tmp_path / "stream" / "rejects").exists()
    # Each record's date set its place on the replay clock: the first one's too.
    dates = {r["article_id"]: r["published_at"].date().isoformat()
             for r in rows(tmp_path / "stream", "articles", "article_id")}
    assert dates == {"000": "2024-10-20", "001": "2024-10-21", "003": "2024-10-22"}
    if encoding == "utf-16":
        # Cut inside its last character: the lines before it are replayed, as a run reads
        # them, and a warning says where it stopped.
        cut = tmp_path / "cut.jsonl"
        cut.write_bytes(feed.read_bytes()[:-3])
        capsys.readouterr()
        assert main(["stream", "--replay", str(cut), "--output", str(tmp_path / "cut")]) == 0
        assert sorted(current_story_ids(str(tmp_path / "cut"))) == ["000", "001"]
        assert "cut.jsonl: unreadable from line 3 on" in caplog.text


def test_replay_of_records_out_of_date_order_finishes(tmp_path, capsys):
    # A record dated ten days ahead, then two of the days before: they are late on the
    # replay clock, and the replay neither stalls nor drops them.
    records = [{"id": "ahead", "text": seed_text("003"), "published": "2013-01-11T00:00:00Z"},
               {"id": "early", "text": seed_text("004"), "published": "2013-01-01T02:00:00Z"},
               {"id": "later", "text": seed_text("001"), "published": "2013-01-01T04:00:00Z"}]
    feed = write_feed(tmp_path / "order.jsonl", records)
    assert main(["stream", "--replay", feed, "--output", str(tmp_path / "out")]) == 0
    assert sorted(current_story_ids(str(tmp_path / "out"))) == ["ahead", "early", "later"]


def test_ctrl_c_twice_during_a_replayed_eval_stops_it_at_once_and_leaves_nothing(tmp_path):
    # The replay's runner threads went on writing into the scratch folder as it was
    # removed ("Directory not empty"), and a second Ctrl-C broke off the clean-up.
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(
        json.dumps({"id": f"r{n}-{prefix}", "text": seed_text(prefix), "story": "seeds"})
        + "\n" for n in range(40) for prefix in ("003", "001", "004", "000", "002")))
    temp = tmp_path / "temp"
    temp.mkdir()
    status, out, err = ctrl_c_twice(
        ["eval", str(labelled), "--stream"], env=dict(os.environ, TMPDIR=str(temp)),
        ready=lambda _: list(temp.glob("storywire-eval-*/output/articles")))  # a window
    assert status == 130, err
    assert err.strip().splitlines()[-1] == "storywire eval: interrupted; nothing was kept"
    assert "Traceback" not in err and out == ""
    assert list(temp.iterdir()) == []
