"""Scoring story tagging: the metric code, and ECB+ when the development data is there."""

import json
import re

import pytest
from conftest import FAST, SHARED_DATA, ctrl_c_twice, rows, seed_text
from hypothesis import given
from hypothesis import strategies as st

from storywire.pipeline.cli import main
from storywire.pipeline.evaluate import bcubed, pairwise, score, strip_labels
from storywire.transforms.records import record_id


def test_perfect_clustering_scores_one():
    gold = {"a": "1", "b": "1", "c": "2"}
    predicted = {"a": "x", "b": "x", "c": "y"}
    assert bcubed(predicted, gold).f1 == 1.0
    assert pairwise(predicted, gold).f1 == 1.0


def test_bcubed_and_pairwise_by_hand():
    gold = {"a": "1", "b": "1", "c": "2"}
    predicted = {"a": "x", "b": "y", "c": "y"}
    b3 = bcubed(predicted, gold)
    assert b3.precision == pytest.approx(2 / 3)
    assert b3.recall == pytest.approx(2 / 3)
    assert b3.f1 == pytest.approx(2 / 3)
    pw = pairwise(predicted, gold)
    assert (pw.precision, pw.recall, pw.f1) == (0.0, 0.0, 0.0)


def test_one_cluster_for_everything():
    gold = {str(i): str(i % 2) for i in range(10)}
    predicted = {str(i): "all" for i in range(10)}
    b3 = bcubed(predicted, gold)
    assert b3.recall == 1.0 and b3.precision == pytest.approx(0.5)
    assert pairwise(predicted, gold).precision == pytest.approx(20 / 45)


def test_missing_predictions_count_as_singletons():
    gold = {"a": "1", "b": "1"}
    result = score({"a": "x"}, gold)
    assert result.scored == 1 and result.found_stories == 2
    assert result.bcubed.recall == pytest.approx(0.5)


@given(st.dictionaries(st.sampled_from("abcdefghij"), st.sampled_from("123"), min_size=1),
       st.dictionaries(st.sampled_from("abcdefghijk"), st.sampled_from("xyz")))
def test_scores_are_those_of_their_definition_item_by_item(gold, predicted):
    # Each item's cluster: its predicted one, or itself alone when it has none.
    def cluster(item):
        return {i for i in gold if i in predicted and predicted[i] == predicted.get(item)} \
            if item in predicted else {item}

    def story(item):
        return {i for i in gold if gold[i] == gold[item]}

    precision = sum(len(cluster(i) & story(i)) / len(cluster(i)) for i in gold) / len(gold)
    recall = sum(len(cluster(i) & story(i)) / len(story(i)) for i in gold) / len(gold)
    b3 = bcubed(predicted, gold)
    assert b3.precision == pytest.approx(precision) and b3.recall == pytest.approx(recall)
    pairs = [(i, j) for i in gold for j in gold if i < j]
    together = [(i, j) for i, j in pairs if j in cluster(i)]
    same = [(i, j) for i, j in pairs if gold[i] == gold[j]]
    both = [p for p in together if p in same]
    pw = pairwise(predicted, gold)
    assert pw.precision == pytest.approx(len(both) / len(together) if together else 1.0)
    assert pw.recall == pytest.approx(len(both) / len(same) if same else 1.0)
    result = score(predicted, gold)
    assert result.scored == sum(1 for i in gold if i in predicted)
    assert result.found_stories == len({frozenset(cluster(i)) for i in gold})
    assert result.gold_stories == len(set(gold.values()))


def test_strip_labels_removes_the_gold_field(tmp_path):
    labelled = tmp_path / "l.jsonl"
    labelled.write_text('{"id": "a", "text": "x", "story": "s1"}\n\n{"text": "y", "story": "s2"}\n')
    out = tmp_path / "u.jsonl"
    gold = strip_labels(str(labelled), str(out), "story")
    # A record without an id is named as the run names it: from its body here.
    assert gold.to_pylist() == [{"article_id": "a", "story": b"s1"},
                                {"article_id": record_id(None, None, None, "y"), "story": b"s2"}]
    assert "story" not in out.read_text()
    # An id given twice would score one article against two gold stories.
    labelled.write_text('{"id": "a", "text": "x", "story": "s1"}\n'
                        '{"id": "b", "text": "y", "story": "s1"}\n'
                        '{"id": "a", "text": "z", "story": "s2"}\n')
    with pytest.raises(ValueError, match=r"l\.jsonl:3: id 'a' appears twice"):
        strip_labels(str(labelled), str(out), "story")
    # The first mistake in the file is the one named, not a later one.
    labelled.write_text('{"id": "a", "text": "x", "story": "s1"}\n'
                        '{"id": "a", "text": "y", "story": "s1"}\n'
                        'not json\n')
    with pytest.raises(ValueError, match=r"l\.jsonl:2: id 'a' appears twice"):
        strip_labels(str(labelled), str(out), "story")
    # An empty id is no id: the run names the record by its body, and so does the error.
    labelled.write_text('{"id": "", "text": "x", "story": "s1"}\n'
                        '{"id": " ", "text": "x", "story": "s1"}\n')
    with pytest.raises(ValueError, match=r"l\.jsonl:2: a record without an id whose url"):
        strip_labels(str(labelled), str(out), "story")


def test_a_record_without_any_id_is_an_item_not_found_whatever_the_other_ids(tmp_path,
                                                                              capsys):
    # Such a record (no id, url, title or body: the run rejects it) was named "line-N" by
    # eval, and a record whose id was "line-2" was then an id given twice, or scored as it.
    body = "The harbour authority said on Monday that the new quay will open in May. " * 3
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in (
        {"id": "line-2", "text": "First. " + body, "story": "quay"},
        {"story": "quay"},
        {"story": "quay"},
        {"id": "line-3", "text": "Second. " + body, "story": "quay"})), encoding="utf-8")
    gold = strip_labels(str(labelled), str(tmp_path / "u.jsonl"), "story")
    assert gold.column("article_id").to_pylist() == ["line-2", None, None, "line-3"]
    assert main(["eval", str(labelled), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "articles scored: 2 of 4 labelled" in printed
    # The two rejects are an item each, in no story with the two found.
    assert "stories:         3 found, 1 gold" in printed


def test_eval_scores_a_file_whose_records_are_mostly_rejected(tmp_path, capsys):
    # The run exits 3 over --max_reject_fraction; eval stopped there with no score, while
    # a replayed stream of the same file was scored.
    body = "The harbour authority said on Monday that the new quay will open in May. " * 3
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in (
        {"id": "a", "text": "First. " + body, "story": "quay"},
        {"id": "b", "text": "Second. " + body, "story": "quay"},
        {"id": "c", "text": "", "story": "quay"},
        {"id": "d", "text": "Too short.", "story": "other"},
        {"story": "other"})), encoding="utf-8")
    assert main(["eval", str(labelled), *FAST]) == 0
    captured = capsys.readouterr()
    assert "articles scored: 2 of 5 labelled" in captured.out
    assert "new rows are rejects" in captured.err  # the run still says so


def test_a_labelled_file_in_utf16_is_read_as_the_run_reads_it(tmp_path):
    lines = "\ufeff" + "".join(json.dumps({"id": f"r{n}", "text": "Z\u00fcrich", "story": "s"})
                               + "\r\n" for n in range(3))
    labelled, out = tmp_path / "l.jsonl", tmp_path / "u.jsonl"
    labelled.write_bytes(lines.encode("utf-16-le"))
    gold = strip_labels(str(labelled), str(out), "story")
    assert gold.column("article_id").to_pylist() == ["r0", "r1", "r2"]
    assert [json.loads(line)["text"] for line in out.read_text("utf-8").splitlines()] == [
        "Z\u00fcrich"] * 3
    labelled.write_bytes(lines.encode("utf-16-le")[:-1])  # ends inside a character
    with pytest.raises(ValueError, match=r"l\.jsonl:3: 'utf-16-le' codec"):
        strip_labels(str(labelled), str(out), "story")


def test_a_gold_story_is_any_json_string_however_long():
    # A lone surrogate is valid JSON; a story's name may be a whole headline, or longer.
    odd, long = "\ud800x", "Flood " * 100_000
    gold = {"a": odd, "b": odd, "c": long, "d": long, "e": "\ud800y"}
    predicted = {"a": "s1", "b": "s1", "c": "s2", "d": "s2", "e": "s3"}
    assert bcubed(predicted, gold).f1 == 1.0
    assert score(predicted, gold).gold_stories == 3


def test_eval_finds_every_article_of_a_file_the_run_reads(tmp_path, capsys):
    # Ids with spaces around them, an empty id, a byte order mark and a line in cp1252: the
    # run read them all, while eval scored none of the first (0 of 60), refused the last two
    # files, and took a null story as one gold story shared by every such record.
    body = "The harbour authority said on Monday that the new quay will open in May. " * 3
    lines = [json.dumps({"id": " r1 ", "text": "First. " + body, "story": "quay"}),
             json.dumps({"id": "", "text": "Second. " + body, "story": "quay"}),
             json.dumps({"text": "Third. " + body, "story": "other"})]
    labelled = tmp_path / "odd.jsonl"
    labelled.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n"
                         + json.dumps({"id": "r4", "text": "Caf\u00e9 " + body, "story": "x"},
                                      ensure_ascii=False).encode("cp1252") + b"\n")
    with labelled.open("a") as more:  # an escaped lone surrogate, which the run reads
        more.write('{"id": "r5", "text": "Flood \\udcff update. ' + body + '", "story": "x"}\n')
    assert main(["eval", str(labelled), *FAST]) == 0
    assert "articles scored: 5 of 5 labelled" in capsys.readouterr().out
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["eval", str(labelled), "--output", str(other), *FAST]) == 2
    assert f"--output {other} holds other files" in capsys.readouterr().err
    for story, says in ((None, "is null: a gold story is a string or a number"),
                        (["a", "b"], 'is ["a", "b"]: a gold story'), (False, "is false"),
                        (" ", "the 'story' field is empty")):
        labelled.write_text(json.dumps({"id": "n", "text": body, "story": story}) + "\n")
        assert main(["eval", str(labelled), *FAST]) == 2
        assert says in capsys.readouterr().err, story


@pytest.mark.skipif(not (SHARED_DATA / "ecbplus_dev.jsonl").exists(),
                    reason="development data ../shared/data is not present")
def test_ecbplus_dev_bcubed_f1_with_defaults(capsys):
    assert main(["eval", str(SHARED_DATA / "ecbplus_dev.jsonl")]) == 0
    out = capsys.readouterr().out
    f1 = float(re.search(r"B-cubed:.*F1 ([0-9.]+)", out).group(1))
    found, gold = map(int, re.search(r"stories:\s+(\d+) found, (\d+) gold", out).groups())
    assert f1 >= 0.95, out
    assert gold == 42 and abs(found - gold) <= 10, out


@pytest.mark.skipif(not (SHARED_DATA / "ecbplus_dev.jsonl").exists(),
                    reason="development data ../shared/data is not present")
def test_ecbplus_dev_in_incremental_runs_scores_as_one_run(capsys):
    assert main(["eval", str(SHARED_DATA / "ecbplus_dev.jsonl"), "--runs", "4", "--quiet",
                 "--direct_num_workers=1", "--direct_running_mode=in_memory"]) == 0
    out = capsys.readouterr().out
    assert "4 incremental runs" in out
    assert float(re.search(r"B-cubed:.*F1 ([0-9.]+)", out).group(1)) >= 0.95, out


def test_eval_runs_feeds_the_records_as_runs_in_file_order(tmp_path, capsys):
    from test_incremental import BRIDGE_EVENT

    labelled = tmp_path / "bridge.jsonl"
    # Two reports that alone are two stories, then two that show they are one event.
    labelled.write_text("".join(
        json.dumps({"id": i, "text": BRIDGE_EVENT[i], "story": "flood"}) + "\n"
        for i in ["x", "y", "z1", "z2"]), encoding="utf-8")
    fast = ["--quiet", "--direct_num_workers=1", "--direct_running_mode=in_memory"]
    assert main(["eval", str(labelled), "--runs", "2", *fast]) == 0
    out = capsys.readouterr().out
    assert out.count("articles:   2 new") == 2 and "2 incremental runs" in out
    assert re.search(r"B-cubed:.*F1 1\.000", out), out
    assert main(["eval", str(labelled), "--runs", "0"]) == 2
    assert "--runs 0" in capsys.readouterr().err
    assert main(["eval", str(labelled), "--runs", "5"]) == 2
    assert "holds only 4 records" in capsys.readouterr().err
    kept = tmp_path / "kept"
    holders = _holders_while(lambda: main(["eval", str(labelled), "--output", str(kept),
                                           *fast]), kept)
    capsys.readouterr()
    # Another command waiting for the output names the command the user typed.
    (holder,) = holders
    assert holder.startswith(f"storywire eval {labelled} --output "), holder
    # Scored again into the same tables, every article would be skipped: refused.
    assert main(["eval", str(labelled), "--output", str(kept), *fast]) == 2
    assert "holds tables already" in capsys.readouterr().err


def test_eval_runs_keep_the_output_from_other_runs_between_them(tmp_path, capsys,
                                                                 monkeypatch):
    import storywire.pipeline.run as run_module

    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(
        json.dumps({"id": f"r{n}", "text": f"Report {n} on the harbour works. " * 6,
                    "story": "harbour"}) + "\n" for n in range(4)), encoding="utf-8")
    kept, feed = tmp_path / "kept", tmp_path / "other.jsonl"
    feed.write_text(json.dumps({"id": "other", "text": "Another report. " * 8}) + "\n")
    fast = ["--quiet", "--direct_num_workers=1", "--direct_running_mode=in_memory"]
    real_run, others = run_module.run, []

    def run_then_another_writer(argv, **kwargs):
        status = real_run(argv, **kwargs)
        # Between eval's runs, another command tries the same output.
        others.append(real_run(["--input", str(feed), "--output", str(kept), *fast]))
        return status

    monkeypatch.setattr(run_module, "run", run_then_another_writer)
    assert main(["eval", str(labelled), "--runs", "2", "--output", str(kept), *fast]) == 0
    assert others == [2, 2]
    assert capsys.readouterr().err.count("is being written by `storywire eval") == 2
    assert "other" not in {r["article_id"] for r in rows(kept, "articles", "line")}


def _holders_while(command, output) -> set[str]:
    """The holders the output's lock file names while `command` (exit status 0) runs."""
    import threading

    from storywire.transforms.write.lock import LOCK_NAME, Holder

    seen, done = set(), threading.Event()

    def watch():
        while not done.wait(0.01):
            try:
                holder = Holder.decode((output / LOCK_NAME).read_bytes())
            except OSError:
                continue
            if holder is not None:
                seen.add(holder.command)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert command() == 0
    finally:
        done.set()
        watcher.join()
    return seen


def test_eval_names_itself_when_its_run_or_replay_refuses_an_option(tmp_path, capsys):
    labelled = tmp_path / "one.jsonl"
    labelled.write_text(json.dumps({"id": "a", "text": "A short report.", "story": "s"})
                        + "\n", encoding="utf-8")
    for mode in ([], ["--stream"]):
        assert main(["eval", str(labelled), *mode, "--rows_per_file", "0"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("storywire eval: --rows_per_file 0"), (mode, line)
    # A value out of range is told before eval copies its file or takes the output's lock
    # (it was told once the first of the runs started, the lock taken).
    kept = tmp_path / "kept"
    for mode in (["--runs", "2"], ["--stream"]):
        assert main(["eval", str(labelled), *mode, "--output", str(kept),
                     "--wait_for_lock", "-5"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("storywire eval: --wait_for_lock -5 is out of range"), line
        assert not kept.exists()
    assert main(["eval", str(labelled), "--window_minutes", "5"]) == 2  # a stream's option
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("storywire eval: unknown option --window_minutes"), line
    # `storywire run`'s habit: --input before the file. Eval feeds its file itself.
    for mode, flags in [([], ["--input"]), (["--stream"], ["--input"]),
                        (["--stream"], ["--replay", str(labelled)]), ([], ["--input=x"])]:
        assert main(["eval", *flags, str(labelled), *mode]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        flag = flags[0].split("=")[0]
        assert line.startswith(f"storywire eval: {flag} is not an option of eval"), line
        assert "`storywire eval FILE.jsonl [options]`" in line
    # A typo is not told to try the options eval refuses.
    assert main(["eval", str(labelled), "--inputt", "x"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("storywire eval: unknown option --inputt") and "--input?" not in line
    assert main(["eval", str(labelled), "--gold-field", "story"]) == 2  # eval's own, mistyped
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "unknown option --gold-field (did you mean --gold_field?)" in line


def test_eval_says_what_its_labelled_file_is_when_it_cannot_read_it(tmp_path, capsys):
    import os

    pipe, empty, loop = tmp_path / "pipe.jsonl", tmp_path / "empty.jsonl", tmp_path / "loop"
    os.mkfifo(pipe)
    empty.write_text("")
    loop.symlink_to(loop)
    for path, says in [(pipe, "a named pipe (FIFO), not a regular file"),
                       (loop, "symbolic link loop"), (empty, "holds no records"),
                       (tmp_path / "gone.jsonl", "no such file")]:
        assert main(["eval", str(path)]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"storywire eval: {path}") and says in line, line


def test_an_interrupted_eval_says_nothing_was_kept_and_leaves_nothing(tmp_path):
    # It said the run's line, "a commit under way is finished by the next run", of an
    # output about to be removed.
    import os

    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(
        json.dumps({"id": f"r{n}", "text": f"Report {n} on the harbour works. " * 6,
                    "story": "harbour"}) + "\n" for n in range(40)), encoding="utf-8")
    temp = tmp_path / "temp"
    temp.mkdir()
    status, out, err = ctrl_c_twice(
        ["eval", str(labelled), "--runs", "2"], env=dict(os.environ, TMPDIR=str(temp)),
        ready=lambda _: list(temp.glob("storywire-eval-*/output/_storywire.lock")))
    assert status == 130, err
    assert err.strip().splitlines()[-1] == "storywire eval: interrupted; nothing was kept"
    assert "Traceback" not in err and "next run" not in err
    assert list(temp.iterdir()) == []


def test_a_replayed_stream_with_no_article_scores_nothing(tmp_path, capsys):
    # Every record is rejected: a stream writes only rejects, and there is nothing to score.
    labelled = tmp_path / "rejected.jsonl"
    labelled.write_text("".join(json.dumps({"id": f"r{i}", "text": "", "story": "s"}) + "\n"
                                for i in range(3)))
    assert main(["eval", str(labelled), "--stream", "--replay_interval_seconds", "0.01",
                 *FAST]) == 1
    captured = capsys.readouterr()
    assert "no article came out of 3 records: nothing to score" in captured.err
    assert "B-cubed" not in captured.out


def test_eval_takes_options_before_its_file_as_after_it(tmp_path, capsys):
    # A run option's value before the file was taken for the file: `--max_batch_articles
    # 50 FILE` said "invalid int value: 'FILE'", and `-5` there blamed the file.
    labelled = tmp_path / "two.jsonl"
    labelled.write_text("".join(json.dumps({"id": i, "text": seed_text(prefix),
                                            "story": "s"}) + "\n"
                                for i, prefix in (("a", "000"), ("b", "001"))),
                        encoding="utf-8")
    scores = []
    for words in (["--story_threshold", "0.4", "--runs", "2", str(labelled)],
                  [str(labelled), "--story_threshold", "0.4", "--runs", "2"]):
        assert main(["eval", *words, *FAST]) == 0
        scores.append([line.rsplit(",", 1)[0] for line in capsys.readouterr().out.splitlines()
                       if line.startswith(("B-cubed", "stories", "mode"))])  # no seconds
    assert scores[0] == scores[1] and "2 incremental runs" in " ".join(scores[0])
    assert main(["eval", "--max_batch_articles", "-5", str(labelled)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("storywire eval: --max_batch_articles -5 is out of range"), line
    # A shortened option is refused wherever it stands, as a run refuses it (it was taken
    # for --runs after the file, and before it took the file for its value).
    for words in (["--run", "2", str(labelled)], [str(labelled), "--run", "2"]):
        assert main(["eval", *words]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("storywire eval: unknown option --run (did you mean --runs?)")
    # No file: said so, not "--max_batch_articles: expected one argument".
    assert main(["eval", "--max_batch_articles", "50"]) == 2
    assert capsys.readouterr().err.strip() == (
        "storywire eval: give the labelled file: `storywire eval FILE.jsonl [options]`")
