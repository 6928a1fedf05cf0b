"""A storywire process's scratch folders in TMPDIR: gone after it, even when it was killed,
and a run with no temporary folder to work in says so in one line."""

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import FAST, SEEDS, error_of, rows

from storywire.pipeline.cli import main
from storywire.pipeline.scratch import HELD


def _holding_process(temp: Path) -> tuple[subprocess.Popen, Path]:
    """A process that made a scratch folder, as a run does, and holds it; with the folder."""
    code = ("import sys, time; from storywire.pipeline.scratch import Scratch; "
            "s = Scratch('run'); open(s.path + '/ids.npy', 'wb').write(bytes(1 << 20)); "
            "print(s.path, flush=True); time.sleep(600)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, TMPDIR=str(temp)))
    return process, Path(process.stdout.readline().strip())


def _ours(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir() if p.name.startswith("storywire-"))


def test_what_a_killed_run_left_in_tmpdir_goes_at_the_next_run_and_a_living_ones_stays(
        tmp_path):
    temp = Path(tempfile.gettempdir())  # the test's own TMPDIR
    mine = temp / "storywire-notes"  # a folder of the user's, named alike
    (mine / HELD).mkdir(parents=True)
    theirs = temp / "storywire-run-abcdefgh"  # another user's, named as a run's
    (theirs / HELD).mkdir(parents=True)
    if os.geteuid() == 0:  # root may remove anyone's
        os.chown(theirs, 65534, 65534)
    process, folder = _holding_process(temp)
    try:
        assert folder.parent == temp and (folder / "ids.npy").exists()
        assert main(["run", "--input", str(SEEDS), "--output", str(tmp_path / "out"),
                     "--quiet", *FAST]) == 0
        assert (folder / "ids.npy").exists()  # its process lives: not touched
        process.send_signal(signal.SIGKILL)  # `kill -9`, the kernel's out-of-memory killer
        process.wait()
        assert folder.exists()  # nothing of the killed process removed it
        assert main(["run", "--input", str(SEEDS), "--output", str(tmp_path / "out"),
                     "--quiet", *FAST]) == 0
    finally:
        process.kill()
        process.wait()
    assert _ours(temp) == ["storywire-notes", "storywire-run-abcdefgh"] or (
        os.geteuid() != 0 and _ours(temp) == ["storywire-notes"])


def test_a_run_killed_between_its_parts_leaves_nothing_after_the_next_run(tmp_path,
                                                                          monkeypatch):
    feed, out, temp = tmp_path / "feed.jsonl", tmp_path / "out", tmp_path / "temp"
    temp.mkdir()
    with open(feed, "w", encoding="utf-8") as handle:
        for n in range(60):
            handle.write(f'{{"id": "r{n}", "text": "Report {n} on a harbour. {"x" * 40_000}"}}\n')
    env = dict(os.environ, TMPDIR=str(temp))
    run = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(feed),
         "--output", str(out), "--max_batch_articles", "50", *FAST],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    # Killed as it starts its second part: the stored ids it keeps for its parts are
    # being brought up to date, and no part's process may yet hold its folder.
    for line in run.stderr:
        if "part 2 of" in line:
            run.kill()
            break
    run.wait()
    assert run.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 60  # a part's process, if one started, ends with its run
    while any(map(_held, temp.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(["run", "--input", str(SEEDS), "--output", str(tmp_path / "other"),
                 "--quiet", *FAST]) == 0
    assert _ours(temp) == []


def _held(folder: Path) -> bool:
    """Whether a process holds the scratch folder (scratch.py)."""
    try:
        fd = os.open(folder / HELD, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def test_a_run_with_no_temporary_folder_to_work_in_says_so_before_any_work(
        tmp_path, capsys, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    line = error_of(capsys, "run", "--input", str(SEEDS), "--output", str(tmp_path / "out"),
                    *FAST)
    assert f"cannot make a folder in the temporary folder {not_a_folder}" in line, line
    assert "set TMPDIR" in line
    assert not (tmp_path / "out").exists()


def test_a_killed_run_in_one_piece_leaves_nothing_after_the_next_run(tmp_path, monkeypatch):
    # Beam's own temporary folder stayed, outside the run's scratch folder.
    out, temp = tmp_path / "out", tmp_path / "temp"
    temp.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", "run", "--input", str(SEEDS),
         "--output", str(out), "--quiet", *FAST], env=dict(os.environ, TMPDIR=str(temp)))
    deadline = time.monotonic() + 120
    while (run.poll() is None and time.monotonic() < deadline
           and not list(temp.glob("storywire-run-*/beam*"))):
        time.sleep(0.01)
    run.kill()
    run.wait()
    assert list(temp.glob("storywire-run-*")), "killed before it made its scratch folder"
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(["run", "--input", str(SEEDS), "--output", str(out), "--quiet", *FAST]) == 0
    assert sorted(p.name for p in temp.iterdir()) == []


def test_a_tmpdir_that_is_not_a_usable_folder_is_said_in_one_line(tmp_path, capsys,
                                                                  monkeypatch):
    # Python's tempfile quietly fell back to /tmp, or to the current folder.
    a_file = tmp_path / "file"
    a_file.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", None)
    for tmpdir in (tmp_path / "missing", a_file):
        monkeypatch.setenv("TMPDIR", str(tmpdir))
        line = error_of(capsys, "run", "--input", str(SEEDS), "--output",
                        str(tmp_path / "out"), *FAST)
        assert line.startswith(f"storywire run: cannot make a folder in the temporary folder "
                               f"{tmpdir}: "), line
        assert not (tmp_path / "out").exists()


def test_an_input_that_holds_tmpdir_reads_no_scratch_of_this_run_or_another(tmp_path,
                                                                             capsys):
    # A run's scratch (its progress tallies, its parts' jobs, Beam's files) and another
    # living run's (its stored ids) were read as input: a reject row for each file in them.
    temp = Path(tempfile.gettempdir())
    assert temp.parent == tmp_path  # the test's own TMPDIR, inside the input
    (tmp_path / "article.txt").write_bytes((SEEDS / "000_b732d28f0e6528e7.txt").read_bytes())
    process, theirs = _holding_process(temp)
    try:
        assert main(["run", "--input", str(tmp_path), "--output", str(tmp_path / "out"),
                     "--quiet", *FAST]) == 0
    finally:
        process.kill()
        process.wait()
    assert (theirs / "ids.npy").exists()  # living while the run read its folder
    assert rows(tmp_path / "out", "rejects", "input_uri") == []
    assert [r["input_uri"] for r in rows(tmp_path / "out", "articles", "input_uri")] == [
        str(tmp_path / "article.txt")]
