import os
import re
import signal
import tempfile
from pathlib import Path

import duckdb
import pytest

from storywire.pipeline.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"

# A shell without job control starts a background command (`make test &`, CI scripts) with
# Ctrl-C ignored, and `nohup` SIGHUP; the runs the tests start would inherit that: the tests
# that press Ctrl-C or close the terminal would do it to a run that, rightly, ignores it.
# The tests run as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture(autouse=True, scope="session")
def own_cache(tmp_path_factory):
    """storywire keeps a copy of the language model in the user's cache folder: the tests
    keep theirs in a folder of their own, shared by every run of the session."""
    from storywire.transforms.cache import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        del os.environ[CACHE_ENV]
    else:
        os.environ[CACHE_ENV] = before


@pytest.fixture(autouse=True)
def own_tmpdir(tmp_path, monkeypatch):
    """Beam writes temporary folders under TMPDIR: keep them inside the test's own folder."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield


def error_of(capsys, *argv) -> str:
    """Run a command that must not run: exit status 2, one line on stderr, no output."""
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


def seed_text(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


FAST = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]


def run(capsys, *args) -> dict:
    """`storywire run` in this process; the numbers of its summary."""
    assert main(["run", *args]) == 0
    out = capsys.readouterr().out
    summary = {}
    for key in ("read", "articles", "rejects", "dup groups", "stories"):
        m = re.search(rf"^{key}:\s+(\d+)", out, re.MULTILINE)
        summary[key] = int(m.group(1))
    for key, pattern in (("skipped", r"(\d+) already in the output"),
                         ("rejects_stored", r"(\d+) already recorded"),
                         ("rejects_cleared", r"(\d+) of earlier runs removed, their records"),
                         ("rejects_read", r"(\d+) of earlier runs removed, their input"),
                         ("rejects_new_reason", r"(\d+) of the new replace rows of earlier runs"),
                         ("extended", r"(\d+) extended")):
        m = re.search(pattern, out)
        summary[key] = int(m.group(1)) if m else 0
    return summary


def rows(output: Path, table: str, order: str) -> list[dict]:
    """A table of an output folder, read with DuckDB as a user would."""
    glob = "*.parquet" if table in ("stories", "rejects") else "**/*.parquet"
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{output}/{table}/{glob}', "
                     f"hive_partitioning=true) ORDER BY {order}")
    return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


def ctrl_c_twice(argv: list[str], ready, settle: float = 0.0, env=None) -> tuple[int, str, str]:
    """Start `storywire ARGV` as from a terminal, wait (up to 120 s) until `ready()` or its
    end, and `settle` seconds more; then press Ctrl-C twice, 0.1 s apart, as a terminal
    sends it (to the whole process group). Its exit status, stdout and stderr."""
    import os
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", *argv], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not ready(process):
            time.sleep(0.02)
        time.sleep(settle)
        for pause in (0.1, 0):
            os.killpg(process.pid, signal.SIGINT)
            time.sleep(pause)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, out, err


def hang_up_once(argv: list[str], shown: str, env=None) -> tuple[int, str]:
    """Start `storywire ARGV` on a terminal of its own (a pseudo-terminal, its controlling
    terminal), close the terminal once it has shown `shown`, as closing its window does;
    its exit status and what it showed before."""
    import fcntl
    import os
    import pty
    import subprocess
    import sys
    import termios
    import threading
    import time

    master, slave = pty.openpty()

    def on_the_terminal():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "storywire.pipeline.cli", *argv], stdin=slave, stdout=slave,
        stderr=slave, env=env, start_new_session=True, preexec_fn=on_the_terminal)
    os.close(slave)
    seen: list[str] = []

    def read():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            seen.append(data.decode(errors="replace"))

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and shown not in "".join(seen):
            time.sleep(0.05)
        os.close(master)  # the hang-up
        return process.wait(timeout=120), "".join(seen)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
