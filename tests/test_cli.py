"""The command line as a careless user meets it: typos, values out of range, help, progress."""

import io
import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import FAST, SEEDS, error_of, rows, run

from storywire.pipeline.cli import main
from storywire.pipeline.options import RUN_SETTINGS, STREAM_SETTINGS
from storywire.schemas import TABLES
from storywire.transforms.progress import CLEANED, READ, Progress, Tally, read_tallies


def test_a_mistyped_flag_is_an_error_naming_the_closest_option(tmp_path, capsys):
    out = tmp_path / "out"
    line = error_of(capsys, "run", "--inptu", str(SEEDS), "--output", str(out), *FAST)
    assert "unknown option --inptu" in line and "did you mean --input?" in line
    assert not (out / "articles").exists()  # nothing ran on the default input
    line = error_of(capsys, "run", "--input", str(SEEDS), "--outptu=x", *FAST)
    assert "--outptu" in line and "--output" in line


def test_a_stray_word_or_another_commands_option_is_an_error(capsys):
    assert "unexpected argument 'seeds/'" in error_of(capsys, "run", "seeds/")
    assert "unknown option --window_minutes" in error_of(capsys, "run", "--window_minutes", "5")


@pytest.mark.parametrize("option, value", [
    ("--rows_per_file", "0"), ("--story_window_days", "0"), ("--story_window_days", "nan"),
    ("--story_window_days", "1e-320"),
    ("--dup_max_distance", "-1"), ("--story_threshold", "1.5"), ("--story_neighbours", "0"),
    ("--clean_timeout_seconds", "0"), ("--max_reject_fraction", "2"),
    ("--wait_for_lock", "-3"),
])
def test_values_out_of_range_are_refused_before_any_work(tmp_path, capsys, option, value):
    out = tmp_path / "out"
    line = error_of(capsys, "run", "--input", str(SEEDS), "--output", str(out), option, value,
                    *FAST)
    assert f"{option} " in line and "out of range: allowed" in line
    assert not (out / "articles").exists()


def test_a_value_of_the_wrong_type_or_language_is_refused(capsys):
    assert "invalid int value: 'many'" in error_of(capsys, "run", "--rows_per_file", "many")
    line = error_of(capsys, "run", "--language", "xx")
    assert "--language 'xx'" in line and " de, " in line
    assert "--language 'EN': did you mean 'en'?" in error_of(capsys, "run", "--language", "EN")
    # Digits of another script, which Python's int() and float() would read as 10 and 0.5.
    assert "invalid int value: '١٠'" in error_of(capsys, "run", "--max_batch_articles", "١٠")
    assert "invalid float value: '０.５'" in error_of(capsys, "run", "--story_threshold", "０.５")


@pytest.mark.parametrize("argv", [
    ("run", "--direct_num_workers", "٢"),  # Beam's own option
    ("eval", "feed.jsonl", "--runs", "١٠"),
    ("eval", "feed.jsonl", "--runs", "5."),
    ("stories", "--limit", "٣"),
    ("watch", "--input", "in/", "--interval=¹⁰"),
    ("watch", "--input", "in/", "--wait_for_lock", "soon"),
])
def test_a_bad_number_of_any_command_is_one_line_naming_it(capsys, argv):
    option, value = argv[-1].split("=") if "=" in argv[-1] else argv[-2:]
    assert f"argument {option}: invalid " in error_of(capsys, *argv)
    assert repr(value) in error_of(capsys, *argv)


def test_watch_without_folders_says_what_to_give(capsys):
    assert "give the folders to watch" in error_of(capsys, "watch", "--once")
    # Options by shortened names are refused, as a run refuses them.
    assert "unknown option --in (did you mean --input?)" in error_of(capsys, "watch", "--in", "x")


@pytest.mark.parametrize("argv", [
    ("stories", "--limit=--"), ("eval", "feed.jsonl", "--runs=--"),
    ("watch", "--input", "in/", "--interval=--"), ("run", "--story_window_days=--"),
    ("run", "--num_workers=--"),  # Beam's own: it ran with [] workers
])
def test_dashes_as_a_value_are_one_line(capsys, argv):
    # argparse drops a value "--" and leaves the option an empty list: a traceback later,
    # or a run with [] for a number.
    flag = argv[-1].split("=")[0]
    assert f"{flag}=--: '--' is no value" in error_of(capsys, *argv)


def test_stories_with_a_stray_word_is_one_line(capsys, tmp_path):
    assert "unexpected argument 'extra'" in error_of(capsys, "stories", str(tmp_path), "extra")
    assert "unexpected argument '--bogus'" in error_of(capsys, "stories", "--bogus", "1")


def test_every_bounded_setting_is_checked(capsys):
    for setting in RUN_SETTINGS + STREAM_SETTINGS:
        if setting.bounds is not None:
            assert not setting.bounds.allows(float("nan")), setting.name
    line = error_of(capsys, "stream", "--window_minutes", "0", "--runner=DataflowRunner")
    assert "--window_minutes 0 is out of range" in line


def test_run_help_says_how_to_call_it_with_defaults_and_exit_status(capsys):
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: storywire run ")
    assert "(default: 20000)" in text and "(default: seeds/)" in text
    assert "exit status:" in text and "  3  more than --max_reject_fraction" in text
    assert "--runner" in text and "go to Beam" in text
    assert "--wait_for_lock" in text and "--quiet" in text


def test_usage_and_schema_name_every_table(capsys):
    assert main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert "schema [" + "|".join(TABLES) + "]" in usage
    assert main(["schema", "story_index"]) == 0
    assert "story_vector" in capsys.readouterr().out


def test_eval_does_not_point_at_the_folder_it_removes(tmp_path, capsys):
    labelled = tmp_path / "labelled.jsonl"
    texts = [p.read_text() for p in sorted(SEEDS.glob("*.txt"))]
    labelled.write_text("".join(json.dumps({"id": f"s{i}", "text": t, "story": "nk"}) + "\n"
                                for i, t in enumerate(texts)))
    assert main(["eval", str(labelled), *FAST]) == 0
    captured = capsys.readouterr()
    assert "storywire stories" not in captured.err
    assert "B-cubed" in captured.out
    kept = tmp_path / "kept"
    assert main(["eval", str(labelled), "--output", str(kept), *FAST]) == 0
    assert f"`storywire stories {kept}`" in capsys.readouterr().err
    assert len(rows(kept, "articles", "article_id")) == 5


def test_tallies_add_up_across_steps_and_workers(tmp_path):
    first, second = Tally(str(tmp_path)), Tally(str(tmp_path))
    for _ in range(3):
        first.add(READ)
    second.add(READ)
    second.add(CLEANED, 2)
    first.flush()
    second.flush()
    assert read_tallies(str(tmp_path)) == Counter({READ: 4, CLEANED: 2})
    Tally(None).add(READ)  # no folder: nothing written, nothing fails
    assert read_tallies(str(tmp_path / "gone")) == Counter()


def test_progress_is_plain_lines_when_not_a_terminal(monkeypatch):
    from storywire.transforms import progress as module

    monkeypatch.setattr(module, "REFRESH_SECONDS", 0.01)
    monkeypatch.setattr(module, "PLAIN_EVERY_SECONDS", 0.05)
    stream = io.StringIO()  # not a terminal
    counts = Counter({READ: 1204, CLEANED: 1180})
    shown = Progress(lambda: counts, lambda: ["Clean"], stream=stream)
    shown.start()
    time.sleep(0.3)
    shown.stop()
    lines = stream.getvalue().splitlines()
    assert lines and "\r" not in stream.getvalue()
    assert "1,204 input units read, 1,180 cleaned" in lines[-1] and "at Clean" in lines[-1]


def test_a_run_shows_progress_and_quiet_turns_it_off(tmp_path, capsys, monkeypatch):
    from storywire.transforms import progress as module

    monkeypatch.setattr(module, "PLAIN_EVERY_SECONDS", 0.0)
    assert main(["run", "--input", str(SEEDS), "--output", str(tmp_path / "a"), *FAST]) == 0
    err = capsys.readouterr().err
    assert "input units read" in err and "5 input units read, 5 cleaned" in err
    assert main(["run", "--input", str(SEEDS), "--output", str(tmp_path / "b"), "--quiet",
                 *FAST]) == 0
    assert "input units read" not in capsys.readouterr().err


def test_an_option_given_twice_or_an_empty_input_is_an_error(capsys):
    line = error_of(capsys, "run", "--input", "a", "--input", "b")
    assert "--input is given 2 times; give it once with every path after it" in line
    assert "--input has an empty path" in error_of(capsys, "run", "--input", "")
    assert "--direct_num_workers -3 is out of range" in error_of(
        capsys, "run", "--direct_num_workers", "-3")


def test_an_output_name_that_is_not_utf8_is_refused_before_any_work(tmp_path, capsys):
    import os

    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/out\xff")
    line = error_of(capsys, "run", "--input", str(SEEDS), "--output", out, *FAST)
    assert "is not a UTF-8 name" in line and "out\\xff" in line
    assert os.listdir(tmp_path) == ["tmp"]  # nothing created


def test_an_output_inside_a_table_folder_of_another_is_refused(tmp_path, capsys):
    # It was written, and the outer output's articles table could no longer be read.
    outer = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS), "--output", str(outer), "--quiet", *FAST]) == 0
    capsys.readouterr()
    link = tmp_path / "link"  # a link into a table folder: inside it too
    link.symlink_to(outer / "articles")
    for inner, table in ((outer / "articles", "articles"),
                         (outer / "stories" / "x" / "y", "stories"), (link, "articles"),
                         (link / "sub", "articles")):
        line = error_of(capsys, "run", "--input", str(SEEDS), "--output", str(inner), *FAST)
        assert f"is inside the {table} table of the output {outer}" in line, line
        assert not (outer / "stories" / "x").exists()
    assert not list((outer / "articles").glob("articles"))
    assert main(["run", "--input", str(SEEDS), "--output", str(outer), *FAST]) == 0
    assert "5 already in the output" in capsys.readouterr().out


def test_schema_help_is_help(capsys):
    assert main(["schema", "--help"]) == 0
    assert "usage: storywire schema" in capsys.readouterr().out


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    from storywire.pipeline import run as command

    def interrupted(argv, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run", interrupted)
    assert main(["run", "--input", str(SEEDS)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def _command_with_main(folder, main_body: str):
    """The `storywire` command's exit, run as `python -m` (as tests and a run's parts
    start it), with `main` (whose body is given, indented) in place of the real one."""
    import subprocess
    import sys

    (folder / "stand_in.py").write_text(
        "import os, signal, threading, time\n"
        "from storywire.pipeline import cli\n"
        "def main():\n" + main_body + "cli.main = main\n"
        "cli.entry()\n")
    return subprocess.run([sys.executable, "-m", "stand_in"], cwd=folder,
                          capture_output=True, text=True, timeout=60)


def test_a_ctrl_c_landing_as_the_command_returns_ends_it_with_130_not_by_the_signal(tmp_path):
    # The second of two Ctrl-C pressed to stop a run can land just after the run's handler
    # is put back, as `main` returns: Python then ended the process by SIGINT (status -2).
    done = _command_with_main(tmp_path, (
        "    signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return 0\n"))
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr


def test_a_ctrl_c_handled_while_a_class_was_defined_leaves_the_status_as_returned(tmp_path):
    # Run as `python -m`, Python ended the process by SIGINT (status -2), whatever status
    # it returned, once a KeyboardInterrupt had been raised inside code run from a string
    # (as dataclasses define their methods), even one caught and handled.
    done = _command_with_main(tmp_path, (
        "    try:\n"
        "        exec('os.kill(os.getpid(), signal.SIGINT)\\nx = 1')\n"
        "    except KeyboardInterrupt:\n"
        "        return 130\n"
        "    return 0\n"))
    assert done.returncode == 130, done.stderr


def test_an_interrupted_command_ends_though_a_thread_it_started_runs_on(tmp_path):
    # A Ctrl-C landing as Beam starts or stops a worker's state sampler leaves its thread
    # (not a daemon) running: Python waited for it at exit, for ever.
    done = _command_with_main(tmp_path, (
        "    threading.Thread(target=time.sleep, args=(3600,)).start()\n"
        "    print('interrupted', flush=True)\n"
        "    return cli.INTERRUPTED\n"))
    assert (done.returncode, done.stdout) == (130, "interrupted\n"), done.stderr


def test_the_exit_status_says_when_input_units_were_lost():
    from storywire.pipeline.report import RunSummary, exit_status
    from storywire.transforms import metrics

    lost = RunSummary({metrics.INPUT_UNITS: 10, metrics.ARTICLES_NEW: 7})
    status, message = exit_status(lost, 0.5, "reasons")
    assert status == 4 and "10 input units read but 7 accounted for" in message
    whole = RunSummary({metrics.INPUT_UNITS: 10, metrics.ARTICLES_NEW: 7,
                        metrics.REJECTS_NEW: 3})
    assert exit_status(whole, 0.5, "reasons") == (0, None)
    assert exit_status(whole, 0.2, "reasons")[0] == 3


def test_titles_reach_the_terminal_without_escape_sequences(tmp_path, capsys):
    feed = tmp_path / "feed.jsonl"
    text = (SEEDS / "000_b732d28f0e6528e7.txt").read_text()
    feed.write_text(json.dumps({"id": "x", "title": "Red\x1b[31m alert\x1b]0;pwned\x07\nline",
                                "text": text}) + "\n")
    out = tmp_path / "out"
    assert main(["run", "--input", str(feed), "--output", str(out), "--quiet", *FAST]) == 0
    capsys.readouterr()
    assert main(["stories", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "Red [31m alert" in printed
    assert len(printed.strip().splitlines()) == 3  # header, the story, the count
    # The command, which ends at once once its output is flushed, prints it all to a pipe
    # (buffered, as Python buffers it unless PYTHONUNBUFFERED is set).
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    shown = subprocess.run([sys.executable, "-m", "storywire.pipeline.cli", "stories",
                            str(out)], capture_output=True, text=True, timeout=120,
                           env=buffered)
    assert (shown.returncode, shown.stdout) == (0, printed)


def _storywire_into(argv: list[str], stdout) -> subprocess.CompletedProcess:
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-m", "storywire.pipeline.cli", *argv],
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300,
                          env=buffered)


def test_output_that_cannot_be_written_is_an_error_and_a_reader_gone_is_not(tmp_path):
    # `storywire schema > /dev/full` ended 0 with nothing written; `storywire stories |
    # head -1` ended 0 or 1, by how much was printed before `head` went.
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        done = _storywire_into(["schema"], full)
    assert done.returncode == 1
    assert done.stderr.strip() == ("storywire schema: cannot write the output: No space left "
                                   "on device")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before a line is written
    with open(write, "w") as gone:
        for argv in (["schema"], ["schema", "articles"]):  # more than a buffer, and less
            done = _storywire_into(argv, gone)
            assert (done.returncode, done.stderr) == (0, "")
    # Standard output closed (`>&-`): Python makes it None; a traceback ended the command.
    closed = subprocess.run(["bash", "-c", f"{sys.executable} -m storywire.pipeline.cli "
                             "schema >&-"], capture_output=True, text=True, timeout=300)
    assert closed.returncode == 1
    assert closed.stderr.strip() == "storywire schema: cannot write the output: Bad file descriptor"


def _two_feeds(tmp_path):
    """A folder of two one-record JSONL files: two parts under --max_batch_articles 1."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for n in range(2):
        (feeds / f"{n}.jsonl").write_text(json.dumps(
            {"id": f"r{n}", "text": (SEEDS / "000_b732d28f0e6528e7.txt").read_text()}) + "\n")
    return feeds


def test_a_run_goes_on_when_its_summary_cannot_be_written(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    # A run in parts printed part 1's summary to a reader that was gone, and stopped there.
    feeds = _two_feeds(tmp_path)
    read, write = os.pipe()
    os.close(read)
    with open(write, "w") as gone:
        done = _storywire_into(["run", "--input", str(feeds), "--output", str(tmp_path / "out"),
                                "--max_batch_articles", "1", *FAST], gone)
    assert done.returncode == 0, done.stderr
    assert "part 2 of 2" in done.stderr and "cannot write" not in done.stderr
    assert len(rows(tmp_path / "out", "articles", "article_id")) == 2
    with open("/dev/full", "w") as full:
        done = _storywire_into(["run", "--input", str(feeds), "--output", str(tmp_path / "out2"),
                                "--max_batch_articles", "1", *FAST], full)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("cannot write to standard output (No space left on device)") == 1
    assert len(rows(tmp_path / "out2", "articles", "article_id")) == 2


def test_a_run_goes_on_when_the_reader_of_its_errors_goes_away(tmp_path):
    # `storywire run ... 2>&1 | tee run.log` with tee killed: the run ended at its first
    # line, in a part, with nothing of that part written.
    feeds = _two_feeds(tmp_path)
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(feeds),
         "--output", str(tmp_path / "out"), "--max_batch_articles", "1", *FAST],
        stdout=subprocess.PIPE, stderr=write, text=True)
    os.close(write)
    assert done.returncode == 0
    assert "all 2 parts:" in done.stdout
    assert len(rows(tmp_path / "out", "articles", "article_id")) == 2


def test_a_run_started_with_its_standard_streams_closed_keeps_its_files_off_them(tmp_path):
    # With descriptors 0 to 2 closed, the files the run opened took them: its output's lock
    # file became its standard output, for any stray line to be written into.
    out = tmp_path / "out"
    command = " ".join([sys.executable, "-m", "storywire.pipeline.cli", "run", "--input",
                        str(SEEDS), "--output", str(out), *FAST])
    run = subprocess.Popen(["/bin/sh", "-c", f"exec {command} <&- >&- 2>&-"])
    streams = set()
    while run.poll() is None:  # from when the run holds its lock (Python's start-up aside)
        if not (out / "_storywire.lock").exists():
            continue
        for fd in (0, 1, 2):
            try:
                streams.add(os.readlink(f"/proc/{run.pid}/fd/{fd}"))
            except OSError:
                pass  # not yet, or ended
        time.sleep(0.01)
    assert run.returncode == 0
    assert streams and all(name == os.devnull for name in streams), streams
    assert len(rows(out, "articles", "article_id")) == 5


def test_file_names_reach_the_terminal_without_escape_sequences(tmp_path, capsys):
    # A feed's file name, as the shell expands a glob: the run's first line and a failing
    # command's one line name it with its control characters escaped.
    feed = tmp_path / "odd\x1b[2Jname\n.jsonl"
    feed.write_text(json.dumps({"id": "x", "text": (SEEDS / "000_b732d28f0e6528e7.txt")
                                .read_text()}) + "\n")
    out = tmp_path / "out\x1b]0;t\x07"
    assert main(["run", "--input", str(feed), "--output", str(out), "--quiet", *FAST]) == 0
    assert main(["run", "--input", str(feed), "--output", str(feed), *FAST]) == 2
    printed = capsys.readouterr().err
    assert "\x1b" not in printed and "\x07" not in printed
    assert str(tmp_path / "odd\\x1b[2Jname\\n.jsonl") in printed
    assert str(tmp_path / "out\\x1b]0;t\\x07") in printed
    # The done line's command, pasted into a shell, names the output folder.
    word = printed.split("`storywire stories ")[1].split("` prints")[0]
    assert _in_bash(word) == os.fsencode(out)


def _in_bash(word: str) -> bytes:
    """The bytes that `word`, pasted into bash, is."""
    return subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True,
                          check=True).stdout


def test_a_name_to_paste_is_the_name_byte_for_byte():
    from storywire.transforms.records import shell_word

    for raw in (b"plain/out", b"it's here", b"a\\b 'c'", b"new\nline\x1b[2J\x07",
                b"caf\xc3\xa9", b"not utf-8 \xff\xfe'", b"tab\there", b"-h", b"--limit"):
        # A name with a leading "-" as "./-name": the same folder, never an option.
        assert _in_bash(shell_word(os.fsdecode(raw))) == (b"./" + raw if raw[:1] == b"-"
                                                         else raw)


def test_progress_fits_the_terminal(monkeypatch):
    import os

    from storywire.transforms import progress as module

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(module, "REFRESH_SECONDS", 0.01)
    monkeypatch.setattr(module.shutil, "get_terminal_size",
                        lambda fallback: os.terminal_size((40, 24)))
    screen = Terminal()
    shown = Progress(lambda: Counter({READ: 123456, CLEANED: 120000}),
                     lambda: ["NewPerId", "Clean", "AllRejects"], stream=screen)
    shown.start()
    time.sleep(0.2)
    shown.stop()
    drawn = [d for d in screen.getvalue().split("\r\x1b[K") if d]
    assert drawn and all(len(d) < 40 for d in drawn)


def test_worker_warnings_read_as_their_message():
    from storywire.pipeline.cli import worker_message

    relayed = ('Worker: severity: WARN timestamp {   seconds: 1 } message: "feed.jsonl.gz: '
               'unreadable after line 3: Caf\\303\\251 \\"q\\"" log_location: "inputs.py:1"')
    assert worker_message(relayed) == 'feed.jsonl.gz: unreadable after line 3: Café "q"'


def test_eval_says_what_is_wrong_with_its_file(tmp_path, capsys):
    import gzip

    assert "is a folder, not a file" in error_of(capsys, "eval", str(tmp_path))
    packed = tmp_path / "l.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"text": "x", "story": "s"}\n'))
    assert f"{packed}:1: bytes are not text" in error_of(capsys, "eval", str(packed))
    broken = tmp_path / "l.jsonl"
    broken.write_text('{"text": "x", "story": "s"}\nnot json\n')
    assert f"{broken}:2: not a JSON line" in error_of(capsys, "eval", str(broken))


def test_eval_scores_labelled_records_that_have_no_date(tmp_path, capsys):
    texts = [p.read_text() for p in sorted(SEEDS.glob("*.txt"))]
    labelled = tmp_path / "undated.jsonl"
    # No date anywhere: the seeds' date lines are dropped.
    labelled.write_text("".join(
        json.dumps({"id": f"s{i}", "text": "\n".join(t.splitlines()[3:]), "story": "nk"})
        + "\n" for i, t in enumerate(texts)))
    assert main(["eval", str(labelled), "--output", str(tmp_path / "out"), *FAST]) == 0
    assert "articles scored: 5 of 5" in capsys.readouterr().out


def test_the_command_sets_up_logging_before_beam_is_imported():
    import subprocess
    import sys

    # Beam logs while it imports; imported before the command sets up logging, its
    # warnings would print in Python's default format, unfiltered.
    done = subprocess.run([sys.executable, "-c", "import sys, storywire.pipeline.cli; "
                           "print('apache_beam' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_small_local_input_runs_in_process_unless_told_otherwise(tmp_path, capsys):
    from storywire.pipeline.options import IN_PROCESS_BELOW_BYTES
    from storywire.transforms.read.matching import local_input_bytes

    small = local_input_bytes([str(SEEDS)], IN_PROCESS_BELOW_BYTES)
    assert 0 < small < IN_PROCESS_BELOW_BYTES
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * IN_PROCESS_BELOW_BYTES)
    assert local_input_bytes([str(SEEDS), str(big)], IN_PROCESS_BELOW_BYTES) == \
        IN_PROCESS_BELOW_BYTES
    assert local_input_bytes(["gs://bucket/x.jsonl"], IN_PROCESS_BELOW_BYTES) is None

    out = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS), "--output", str(out), "--quiet"]) == 0
    assert "(local runner, 1 worker(s))" in capsys.readouterr().err
    assert main(["run", "--input", str(SEEDS), "--output", str(tmp_path / "out2"), "--quiet",
                 "--direct_num_workers=2"]) == 0
    assert "(local runner, 2 worker(s))" in capsys.readouterr().err


def test_a_full_disk_or_a_folder_it_may_not_write_is_one_line(tmp_path, capsys, monkeypatch):
    # Each gave a Beam traceback of 50 to 80 frames.
    from apache_beam.io.filesystem import BeamIOError
    from apache_beam.io.filesystems import FileSystems

    from storywire.transforms.clean import stage
    from storywire.transforms.write import parquet

    out = tmp_path / "out"

    def full_disk(path, table):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stage, "write_parquet", full_disk)
    assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert err.strip().splitlines()[-1] == (
        "storywire run: the filesystem refused: No space left on device (in step "
        "Stage/ParDo(_Stage)). Nothing of this run is in the tables: make room (or fix the "
        "permissions), and run again")
    monkeypatch.undo()

    class StoriesRefused(FileSystems):
        @staticmethod
        def rename(sources, targets):
            if "/stories/" in targets[0]:
                raise BeamIOError("Rename operation failed", {
                    (sources[0], targets[0]): PermissionError(13, "Permission denied")})
            return FileSystems.rename(sources, targets)

    monkeypatch.setattr(parquet, "FileSystems", StoriesRefused)
    assert main(["run", "--input", str(SEEDS), "--output", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ERROR" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("storywire run: the filesystem refused a write while the run "
                           "committed its tables: Permission denied: '") and "/stories/" in line
    assert "until the next run finishes its commit" in line
    monkeypatch.undo()
    summary = run(capsys, "--input", str(SEEDS), "--output", str(out), *FAST)
    assert summary["articles"] == 0  # the commit was finished: every article stored
    assert len(rows(out, "articles", "article_id")) == 5
    assert len(rows(out, "stories", "story_id")) == 1


def test_small_slips_each_get_one_line(capsys):
    # A flag given a value printed argparse's usage of a parser named "storywire"; a
    # negative --limit printed every story; a path starting with a dash got no hint.
    for flag in ("--quiet=1", "--detach=yes"):
        line = error_of(capsys, "run", flag, "--input", str(SEEDS))
        assert line.startswith(f"storywire run: argument {flag.split('=')[0]}: ignored "
                               "explicit argument"), line
    line = error_of(capsys, "stories", "--limit", "-1")
    assert line == "storywire stories: --limit -1: give the number of rows to print (0: all)"
    line = error_of(capsys, "run", "--input", "-dash.txt")
    assert "give it as ./-name" in line


def test_a_table_folder_the_run_may_not_write_is_found_before_any_work(tmp_path, capsys,
                                                                      monkeypatch):
    # The run did all its work, then stopped half way through its commit. (The tests run
    # as root, who may write anywhere: the folder's permission is what os.access says.)
    import os

    out = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS), "--output", str(out), "--quiet", *FAST]) == 0
    capsys.readouterr()
    day = sorted((out / "articles").iterdir())[0]
    (out / "_staging").mkdir(exist_ok=True)  # where a run writes its files first
    real_access = os.access
    for folder in (day, out / "stories", out / "_staging"):
        monkeypatch.setattr(os, "access", lambda p, mode, denied=str(folder):
                            real_access(p, mode) and os.fspath(p) != denied)
        line = error_of(capsys, "run", "--input", str(SEEDS), "--output", str(out), *FAST)
        assert line == (f"storywire run: cannot write to --output {out}: permission denied "
                        f"on its folder {os.path.relpath(folder, out)}"), line
    # On a file system mounted read-only, the reason is that.
    real_statvfs = os.statvfs
    monkeypatch.setattr(os, "statvfs", lambda p: type("ReadOnly", (), {
        "f_flag": real_statvfs(p).f_flag | os.ST_RDONLY})())
    line = error_of(capsys, "run", "--input", str(SEEDS), "--output", str(out), *FAST)
    assert line.endswith(": Read-only file system on its folder _staging"), line
    monkeypatch.undo()
    real_scandir = os.scandir

    def unlistable(path="."):
        if not isinstance(path, int) and os.fspath(path) == str(out / "stories"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", unlistable)
    line = error_of(capsys, "run", "--input", str(SEEDS), "--output", str(out), *FAST)
    assert line == (f"storywire run: cannot write to --output {out}: Permission denied on its "
                    "folder stories"), line


def test_a_refused_write_is_told_whatever_the_output_is_named():
    # A "[" or a quote in the output's name gave the traceback instead.
    from storywire.pipeline.run import storage_failure

    plain = ("OSError: [Errno 13] Permission denied: 'E[1]/_staging/x.parquet' "
             "[while running 'Stage/ParDo(_Stage)']")
    assert storage_failure(plain).startswith(
        "the filesystem refused: Permission denied: 'E[1]/_staging/x.parquet' (in step "
        "Stage/ParDo(_Stage))")
    renamed = ("BeamIOError: Rename operation failed with exceptions {(\"John's/_staging/a\", "
               "\"John's/stories/a\"): OSError(PermissionError(13, 'Permission denied'))} "
               "[while running 'Commit/Commit'] with exceptions None")
    assert "Permission denied: 'John's/stories/a'." in storage_failure(renamed)
    assert storage_failure("ValueError: [Errno 2] No such file or directory") is None


def test_dry_run_means_what_its_word_says_on_the_local_runner(tmp_path, capsys):
    # Beam keeps --dry_run's word as given: "False" was taken as true, and the local
    # runner then ran the "dry" job, writing tables without the output's lock.
    dry = tmp_path / "dry"
    assert main(["run", "--input", str(SEEDS), "--output", str(dry), "--dry_run=True",
                 *FAST]) == 0
    assert "job built (dry run" in capsys.readouterr().err
    assert not dry.exists() or not any(dry.rglob("*.parquet"))
    real = tmp_path / "real"
    assert main(["run", "--input", str(SEEDS), "--output", str(real), "--dry_run=False",
                 "--quiet", *FAST]) == 0
    assert "dry run" not in capsys.readouterr().err
    assert len(rows(real, "articles", "article_id")) == 5
    assert main(["run", "--input", str(SEEDS), "--output", str(real), "--dry_run=maybe",
                 *FAST]) == 2
    assert "--dry_run 'maybe': give True or False" in capsys.readouterr().err
