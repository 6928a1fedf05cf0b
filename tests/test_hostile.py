"""Garbage a real feed delivers: none of it may crash or hang a run or take the good
records down, and every input unit ends as exactly one article or one reject."""

import gzip
import json
import os
import random
import signal
from pathlib import Path

import pytest
from conftest import FAST, FIXTURES, rows, run, seed_text
from hypothesis import given, settings
from hypothesis import strategies as st

from storywire.transforms.clean.cleaning import clean_record
from storywire.transforms.read.decode import NotText, decode_bytes
from storywire.transforms.read.inputs import MAX_BODY_CHARS, parse_jsonl_line
from storywire.transforms.records import Article, RawRecord, Reject

PROSE = ("The river burst its banks on Sunday night and flooded the lower town, the mayor "
         "said, after three days of rain. Emergency crews moved two hundred families to the "
         "school gym, and the bridge to the station stays closed until engineers inspect it.")


def hostile_inbox(folder: Path) -> Path:
    folder.mkdir()
    rng = random.Random(7)
    files = {
        "empty.txt": b"",
        "blank.txt": b"  \n\t \r\n  ",
        "binary.txt": bytes(rng.randrange(256) for _ in range(4000)),
        "binary.html": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(4000)),
        "latin1.txt": ("Café owners in Zürich said " + PROSE).encode("latin-1"),
        "utf16.txt": ("Ärzte in Köln sagten: " + PROSE).encode("utf-16"),  # with a BOM
        "nul.txt": (PROSE[:120] + "\x00\x00" + PROSE[120:]).encode(),
        "repeated.txt": ("flood " * 20_000).encode(),  # one feature weighs far over 255
        "huge.txt": b"x" * (10 * 1024 * 1024),  # a 10 MB single line
        "deep.html": (b"<html><body>" + b"<div>" * 20_000 + PROSE.encode()
                      + b"</div>" * 20_000 + b"</body></html>"),
        # unclosed paragraphs and divs, stray closing tags, no </body>
        "broken.html": (f"<html><head><title>Flood</title></head><body><div><article><p>{PROSE}"
                        f"<p>{PROSE.replace('river', 'stream')}</span></b><div><p>More soon."
                        "</html>").encode(),
        "nav.html": ("<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a> "
                     "<a href='/sport'>Sport</a></nav><footer>(c) Daily</footer></body>"
                     "</html>").encode(),
        "notgzip.jsonl.gz": b'{"id": "plain", "text": "not compressed"}\n',
        "empty.jsonl": b"",
        "empty.jsonl.gz": gzip.compress(b""),
        "blank.jsonl": b"\n  \n\r\n",
        # A Windows editor's empty file, its byte order mark alone; then two files joined.
        "bom.jsonl": b"\xef\xbb\xbf\n",
        "boms.jsonl": b"\xef\xbb\xbf\n\t\xef\xbb\xbf\xef\xbb\xbf\r\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    lines = [
        json.dumps({"id": "ok", "text": PROSE, "published": "2025-03-02T08:00:00Z"}),
        '{"id": "broken", "text": "no closing',
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "no-text", "title": "Only a title"}),
        json.dumps({"id": "wrong-type", "text": {"body": PROSE}}),
        json.dumps({"id": "bad-date", "text": PROSE + " Later.", "published": "yesterday-ish"}),
        json.dumps({"id": "future", "text": PROSE + " Again.", "published": "9999-12-31"}),
        json.dumps({"id": "arabic", "text": "قال رئيس البلدية إن النهر فاض ليلة الأحد وأغرق "
                    "المدينة السفلى بعد ثلاثة أيام من الأمطار، ونقلت فرق الطوارئ مئتي عائلة."}),
        json.dumps({"id": "hebrew-emoji", "text": "🌊🌧️ הנהר עלה על גדותיו ביום ראשון בלילה "
                    "והציף את העיר התחתונה, אמר ראש העיר 🚒 " + PROSE}),
        json.dumps({"id": "too-long", "text": "a" * (MAX_BODY_CHARS + 1)}),
    ]
    (folder / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = "".join(json.dumps({"id": f"gz{i}", "text": seed_text(f"00{i}")}) + "\n"
                   for i in range(3)).encode()
    compressed = gzip.compress(good)
    (folder / "truncated.jsonl.gz").write_bytes(compressed[: len(compressed) * 2 // 3])
    return folder


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    import contextlib
    import io

    from storywire.pipeline.cli import main

    root = tmp_path_factory.mktemp("hostile")
    inbox = hostile_inbox(root / "in")
    out = root / "out"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["run", "--input", str(inbox), "--output", str(out), *FAST])
    arts = {Path(r["input_uri"]).name if r["line"] is None else r["article_id"]: r
            for r in rows(out, "articles", "article_id")}
    rejects = rows(out, "rejects", "input_uri, line")
    return status, buffer.getvalue(), arts, rejects


def reasons(rejects, name):
    return [(r["line"], r["stage"], r["reason"]) for r in rejects
            if Path(r["input_uri"]).name == name]


def test_every_input_unit_is_an_article_or_a_reject(hostile_run):
    status, summary, arts, rejects = hostile_run
    assert status == 3  # mostly garbage: a scheduler must notice
    read = int(summary.split("read:")[1].split()[0])
    assert read == len(arts) + len(rejects)
    assert "accounted for" not in summary


def test_bad_files_are_rejected_with_their_reason(hostile_run):
    _, _, arts, rejects = hostile_run
    assert reasons(rejects, "empty.txt") == [(None, "read", "empty file")]
    assert reasons(rejects, "blank.txt") == [(None, "read", "file holds only white space")]
    # A JSONL file with no line to read says so, as a .txt file does.
    for name in ("empty.jsonl", "empty.jsonl.gz"):
        assert reasons(rejects, name) == [(None, "read", "empty file")]
    assert reasons(rejects, "blank.jsonl") == [
        (None, "read", "file holds only blank lines (3 lines)")]
    assert reasons(rejects, "bom.jsonl") == [
        (None, "read", "file holds only blank lines (1 line)")]
    assert reasons(rejects, "boms.jsonl") == [
        (None, "read", "file holds only blank lines (2 lines)")]
    for name in ("binary.txt", "binary.html"):
        ((_, stage, _),) = reasons(rejects, name)
        assert stage == "decode"
    ((_, stage, reason),) = reasons(rejects, "huge.txt")
    assert stage == "read" and "over the limit" in reason
    ((_, stage, reason),) = reasons(rejects, "nav.html")
    assert stage == "clean" and "fewer than" in reason
    ((line, stage, reason),) = reasons(rejects, "notgzip.jsonl.gz")
    assert (line, stage) == (1, "read")
    assert reason.startswith("unreadable from its start: BadGzipFile: Not a gzipped file"), reason


def test_odd_encodings_and_scripts_become_clean_articles(hostile_run):
    _, _, arts, _ = hostile_run
    assert arts["latin1.txt"]["text"].startswith("Café owners in Zürich")
    assert arts["utf16.txt"]["text"].startswith("Ärzte in Köln")
    nul = arts["nul.txt"]["text"]
    assert "\x00" not in nul and "flooded the lower town" in nul
    assert arts["arabic"]["language"] == "ar"
    assert "🚒" in arts["hebrew-emoji"]["text"]
    assert arts["broken.html"]["text"].count("river burst its banks") >= 1
    for name in ("repeated.txt", "deep.html"):  # no crash; what they hold is theirs
        assert name in arts or name in {Path(r["input_uri"]).name for r in hostile_run[3]}


def test_bad_jsonl_lines_are_rejects_and_good_ones_stand(hostile_run):
    _, _, arts, rejects = hostile_run
    feed = {line: (stage, reason) for line, stage, reason in reasons(rejects, "feed.jsonl")}
    assert feed[2][1].startswith("invalid JSON")
    assert "must be an object" in feed[3][1]
    assert "neither" in feed[4][1]
    assert "must be a string" in feed[5][1]
    assert "over the limit" in feed[10][1]
    assert set(feed) == {2, 3, 4, 5, 10}
    assert str(arts["ok"]["published_at"]) == "2025-03-02 08:00:00+00:00"
    assert arts["bad-date"]["published_at"] is None and arts["future"]["published_at"] is None
    # The truncated archive: the lines before the cut stand, the rest is one reject.
    assert {"gz0"} <= set(arts)
    ((_, stage, reason),) = reasons(rejects, "truncated.jsonl.gz")
    assert stage == "read" and "unreadable from line" in reason and "before it are read" in reason


def test_a_call_over_its_time_limit_is_killed_and_the_next_one_runs():
    import time

    from storywire.transforms.clean.timelimit import TimedOut, TimeLimited

    limited = TimeLimited(time.sleep, seconds=1)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        limited(30)
    assert time.monotonic() - started < 10
    quick = TimeLimited(len, seconds=30)
    assert quick("abc") == 3 and quick([1, 2]) == 2
    quick.close()
    limited.close()


def test_a_cleaning_child_that_ends_during_a_call_is_seen_at_once_not_at_the_time_limit():
    # A child killed from outside (the kernel's out-of-memory killer, a user) used to leave
    # its call waiting the whole time limit, and the page was rejected as too slow.
    import multiprocessing
    import threading
    import time

    from storywire.transforms.clean.timelimit import ChildLost, TimeLimited

    limited = TimeLimited(time.sleep, seconds=60)
    limited(0)  # the child runs

    def kill_the_child():
        time.sleep(0.5)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)

    threading.Thread(target=kill_the_child).start()
    started = time.monotonic()
    assert limited(2) is None  # made again, in a fresh child
    assert time.monotonic() - started < 20
    limited.close()
    # A call that ends its child each time it is made is given up, and says why.
    crashing = TimeLimited(os._exit, seconds=60)
    started = time.monotonic()
    with pytest.raises(ChildLost, match="ended \\(exit status 3\\) twice"):
        crashing(3)
    assert time.monotonic() - started < 20
    crashing.close()
    # An error of the function's own is the caller's, as if called here.
    converting = TimeLimited(int, seconds=30)
    with pytest.raises(ValueError):
        converting("not a number")
    assert converting("12") == 12
    converting.close()


def test_an_html_page_over_the_cleaning_time_limit_is_a_reject(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "page.html").write_bytes((FIXTURES / "page.html").read_bytes())
    (folder / "note.txt").write_text(PROSE)
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST,
                  "--clean_timeout_seconds", "0.000001", "--max_reject_fraction", "1")
    assert (summary["articles"], summary["rejects"]) == (1, 1)
    (reject,) = rows(out, "rejects", "input_uri")
    assert reject["stage"] == "clean" and "abandoned" in reject["reason"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_decode_to_text_or_say_why_not(data):
    try:
        assert isinstance(decode_bytes(data), str)
    except NotText as err:
        assert str(err)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
def test_any_jsonl_line_is_a_record_or_a_reject(line):
    parsed = parse_jsonl_line(line, "feed.jsonl", 1)
    assert isinstance(parsed, RawRecord | Reject)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=3000), st.sampled_from(["html", "text"]))
def test_any_page_cleans_to_an_article_or_a_reject(body, kind):
    out = clean_record(RawRecord("id", "in.html", None, kind, body))
    assert isinstance(out, Article | Reject)


def seed_lines(*numbers: int) -> list[bytes]:
    return [json.dumps({"id": f"gz{i}", "text": seed_text(f"00{i}")}).encode() + b"\n"
            for i in numbers]


def test_a_decompression_bomb_stops_at_its_limit_and_keeps_the_lines_before(tmp_path, capsys):
    from storywire.transforms.read.inputs import MAX_LINE_BYTES

    # Small on disk (about 300 KB), 300 MiB unpacked: good records, one line over the line
    # limit, another good record, then 12 MiB lines of zeros until past the cap (100 times
    # the packed size, about 30 MB).
    folder = tmp_path / "in"
    folder.mkdir()
    bomb = folder / "bomb.jsonl.gz"
    zeros = b"0" * (12 * 2**20 - 1) + b"\n"
    with gzip.open(bomb, "wb") as handle:
        handle.writelines(seed_lines(0, 1, 2))
        long_line = json.dumps({"id": "long", "text": "0" * MAX_LINE_BYTES}).encode() + b"\n"
        handle.write(long_line)
        handle.writelines(seed_lines(3))
        for _ in range(25):
            handle.write(zeros)
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert summary["read"] == summary["articles"] + summary["rejects"]
    assert {a["article_id"] for a in rows(out, "articles", "article_id")} == {
        "gz0", "gz1", "gz2", "gz3"}
    rejects = rows(out, "rejects", "line")
    by_line = {r["line"]: (r["stage"], r["reason"]) for r in rejects}
    assert by_line[4] == ("read", f"line is {len(long_line):,} bytes, over the limit of "
                                  f"{MAX_LINE_BYTES:,} for one record (no article is this "
                                  "long); not read")
    ((stop_line, (stage, reason)),) = [(line, why) for line, why in by_line.items()
                                        if why[1].startswith("stopped reading after ")]
    assert stage == "read"
    # The file is cut into pieces as it unpacks: each piece after the stop says it is not
    # read, and why.
    assert all(f"are not read: reading the file stopped before them, at line {stop_line} "
               "(the file unpacked to over its limit, a decompression bomb?)" in why
               for line, (_, why) in by_line.items() if line > stop_line)
    assert (f"from {bomb.stat().st_size:,} packed: over 100x the packed size and over "
            "16 MiB, each line counted as 1,024 bytes at least (a decompression bomb?); lines "
            f"from {stop_line} on are not read") in reason
    unpacked = int(reason.split()[3].replace(",", ""))
    limit = 100 * bomb.stat().st_size
    assert 16 * 2**20 < limit < unpacked <= limit + MAX_LINE_BYTES
    # Every line of zeros read before the cap is a reject of its own; none after it.
    assert [line for line, (stage, _) in by_line.items() if stage == "parse"] == list(
        range(6, stop_line))
    assert stop_line < 5 + 25


def test_a_small_archive_of_lines_that_are_no_article_is_read_no_further(tmp_path, capsys):
    # 2 KB on disk: four good records, then 100,000 lines "1" (the hostile file had two
    # million and took minutes); the reading stops 10,000 lines in.
    folder = tmp_path / "in"
    folder.mkdir()
    ones = folder / "ones.jsonl.gz"
    ones.write_bytes(gzip.compress(b"".join(seed_lines(0, 1, 2, 3)) + b"1\n" * 100_000))
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["read"], summary["articles"], summary["rejects"]) == (10_005, 4, 10_001)
    assert [a["line"] for a in rows(out, "articles", "line")] == [1, 2, 3, 4]
    rejects = rows(out, "rejects", "line")
    assert [r["line"] for r in rejects] == list(range(5, 10_006))
    assert {r["reason"] for r in rejects[:-1]} == {"a JSONL line must be an object, not int"}
    assert (rejects[-1]["stage"], rejects[-1]["reason"]) == (
        "read", "10,000 lines in a row held no article (lines 5 to 10,004, each blank or "
                "rejected): the rest of the file is not read")


def test_pipes_sockets_and_devices_are_match_rejects_never_opened(tmp_path):
    import socket
    import subprocess
    import sys

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "note.txt").write_text(PROSE)
    os.mkfifo(folder / "pipe.jsonl")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "feed.sock"))
    (folder / "null.txt").symlink_to("/dev/null")
    out = tmp_path / "out"

    def storywire(*inputs):
        # A child process with a time limit: a read of the pipe would wait for ever.
        return subprocess.run(
            [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", *inputs,
             "--output", str(out), *FAST, "--max_reject_fraction", "1"],
            capture_output=True, text=True, timeout=240, env=os.environ.copy())

    try:
        done = storywire(str(folder))
        again = storywire(str(folder / "pipe.jsonl"))  # named directly
    finally:
        sock.close()
    assert done.returncode == 0, done.stderr
    assert "read:       4 input units (1 files matched)" in done.stdout
    assert [Path(a["input_uri"]).name for a in rows(out, "articles", "input_uri")] == [
        "note.txt"]
    assert reasons(rows(out, "rejects", "input_uri"), "pipe.jsonl") == [
        (None, "match", "a named pipe (FIFO), not a regular file; not read")]
    assert {Path(r["input_uri"]).name: r["reason"].split(",")[0]
            for r in rows(out, "rejects", "input_uri")} == {
        "pipe.jsonl": "a named pipe (FIFO)", "feed.sock": "a socket",
        "null.txt": "a character device"}
    assert again.returncode == 1, again.stderr  # no article came out of it
    assert "rejects:    0 new (1 already recorded)" in again.stdout


def test_links_are_followed_and_loops_and_dangling_links_are_rejects(tmp_path, capsys):
    folder, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    (folder / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (folder / "000.txt").write_text(seed_text("000"))
    (elsewhere / "001.txt").write_text(seed_text("001"))
    (elsewhere / "002.txt").write_text(seed_text("002"))
    (folder / "sub" / "archive").symlink_to(elsewhere)        # a folder: listed
    (folder / "latest.txt").symlink_to(elsewhere / "002.txt")  # a file: read
    (folder / "sub" / "up").symlink_to("..")                  # back to an ancestor
    (folder / "gone.txt").symlink_to("deleted.txt")
    (folder / "loop.txt").symlink_to("loop.txt")
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["read"], summary["articles"], summary["rejects"]) == (6, 3, 3)
    read = [a["input_uri"][len(str(folder)) + 1:] for a in rows(out, "articles", "input_uri")]
    # latest.txt and sub/archive/002.txt are one file: read once, by its first name.
    assert read == ["000.txt", "latest.txt", "sub/archive/001.txt"]
    rejects = {r["input_uri"][len(str(folder)) + 1:]: (r["stage"], r["reason"])
               for r in rows(out, "rejects", "input_uri")}
    assert rejects == {
        "gone.txt": ("match", "dangling symbolic link to 'deleted.txt' (no such file); "
                              "not read"),
        "loop.txt": ("match", "symbolic link loop (its links never reach a file); not read"),
        "sub/up": ("match", f"symbolic link loop: leads back to the folder {str(folder)!r} "
                            "it is in; not followed"),
    }


def test_a_link_into_proc_is_its_own_reject_and_the_files_beside_it_are_read(tmp_path,
                                                                            capsys):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "000.txt").write_text(seed_text("000"))
    (folder / "sub" / "001.txt").write_text(seed_text("001"))
    (folder / "sub" / "me").symlink_to("/proc/self")
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST,
                  "--max_reject_fraction", "1")
    assert (summary["read"], summary["articles"], summary["rejects"]) == (3, 2, 1)
    assert [a["input_uri"] for a in rows(out, "articles", "input_uri")] == [
        str(folder / "000.txt"), str(folder / "sub" / "001.txt")]
    (reject,) = rows(out, "rejects", "input_uri")
    assert (reject["input_uri"], reject["stage"]) == (str(folder / "sub" / "me"), "match")
    assert reject["reason"].startswith("leads into /proc, a kernel filesystem")


def test_file_names_that_are_not_utf8_are_stored_escaped_and_the_run_goes_on(tmp_path,
                                                                              capsys):
    from storywire.pipeline.cli import main
    from storywire.transforms.records import stable_id

    folder = tmp_path / "in"
    folder.mkdir()
    bad = folder / os.fsdecode(b"bad\xff.txt")
    bad.write_text(seed_text("000"))
    (folder / os.fsdecode(b"empty\xfe.txt")).write_bytes(b"")
    (folder / "001.txt").write_text(seed_text("001"))
    records = [{"id": "twice", "text": seed_text("002"), "title": "Flood \udcff update"},
               {"id": "twice", "text": PROSE}]
    (folder / os.fsdecode(b"feed\xfd.jsonl")).write_text(
        "".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out"
    args = ["--input", str(folder), "--output", str(out), *FAST, "--max_reject_fraction", "1"]
    summary = run(capsys, *args)
    assert (summary["read"], summary["articles"], summary["rejects"]) == (5, 3, 2)
    arts = {a["input_uri"][len(str(folder)) + 1:]: a for a in rows(out, "articles", "line")}
    assert set(arts) == {"001.txt", "bad\\xff.txt", "feed\\xfd.jsonl"}
    assert arts["bad\\xff.txt"]["article_id"] == stable_id(str(bad))  # from the real name
    assert arts["feed\\xfd.jsonl"]["title"] == "Flood \\xff update"
    rejects = {r["input_uri"][len(str(folder)) + 1:]: r for r in rows(out, "rejects", "line")}
    assert rejects["empty\\xfe.txt"]["reason"] == "empty file"
    assert rejects["feed\\xfd.jsonl"]["reason"] == (
        f"duplicate article_id 'twice': the record at {folder}/feed\\xfd.jsonl:1 is kept")
    # A rerun finds what it wrote: nothing is added twice.
    again = run(capsys, *args)
    assert (again["skipped"], again["rejects_stored"], again["articles"]) == (4, 1, 0)
    # Named directly, the file gives the same article.
    assert main(["run", "--input", str(bad), "--output", str(tmp_path / "one"), *FAST]) == 0
    (one,) = rows(tmp_path / "one", "articles", "article_id")
    assert one["article_id"] == arts["bad\\xff.txt"]["article_id"]
    assert main(["stories", str(out)]) == 0
    assert "Flood \\xff update" in capsys.readouterr().out


def test_an_output_folder_inside_the_input_is_never_read_as_input(tmp_path, capsys,
                                                                  monkeypatch):
    from storywire.pipeline.cli import main

    monkeypatch.chdir(tmp_path)
    for n in range(3):
        (tmp_path / f"00{n}.txt").write_text(seed_text(f"00{n}"))
    assert main(["run", "--input", "./", "--output", "out/", *FAST]) == 0
    first = capsys.readouterr()
    assert "articles:   3 new" in first.out and "rejects:    0 new" in first.out
    # The second run, the output named otherwise, sees the same three files and no table.
    second = run(capsys, "--input", ".", "--output", str(tmp_path / "out"), *FAST)
    assert (second["read"], second["skipped"], second["rejects"]) == (3, 3, 0)
    assert rows(tmp_path / "out", "rejects", "input_uri") == []
    assert first.err.count("storywire run: --output out/ is inside --input ./: its files are "
                           "not read as input\n") == 1
    # An input inside the output: a clear error before any work.
    assert main(["run", "--input", "out/articles", "--output", "out", *FAST]) == 2
    assert ("storywire run: --input out/articles is inside --output out: files under the output "
            "folder are never read as input") in capsys.readouterr().err


def test_the_cleaning_child_keeps_quiet_about_a_parent_that_went_away():
    # Its report of the pipe its parent closed (a killed worker, or one tearing down)
    # would follow the run's own line; any other crash report is the user's to see.
    import io
    import os

    from storywire.transforms.clean.timelimit import _ParentReports

    def report(last: str) -> str:
        shown = io.StringIO()
        stderr = _ParentReports(shown, os.getppid())
        stderr.write("a warning\n")
        stderr.write("Process SpawnPoolWorker-1:\n")
        stderr.write("Traceback (most recent call last):\n")
        stderr.write(f"{last}\n")
        stderr.flush()
        return shown.getvalue()

    assert report("BrokenPipeError: [Errno 32] Broken pipe") == "a warning\n"
    assert report("EOFError") == "a warning\n"
    assert report("MemoryError").endswith("Traceback (most recent call last):\nMemoryError\n")
    # An error of its own, and then the broken pipe while reporting it: both show.
    chained = ("ValueError: bad page\n\nDuring handling of the above exception, another "
               "exception occurred:\n\nTraceback (most recent call last):\nEOFError")
    assert report(chained).endswith(chained + "\n")
    orphan = io.StringIO()
    stderr = _ParentReports(orphan, os.getppid() + 1)  # the parent it had is gone
    stderr.write("Process SpawnPoolWorker-1:\nMemoryError\n")
    stderr.flush()
    assert orphan.getvalue() == ""
