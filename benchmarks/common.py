"""What the benchmarks share."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def code_version() -> str:
    """The commit the measured code is at, for the results file."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_results(path: Path, lines: list[str]) -> None:
    """Write a benchmark's report where it is committed, and show it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def machine() -> str:
    """Cores, CPU model, memory and versions, for the results file."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import apache_beam

    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python "
            f"{platform.python_version()}, apache-beam {apache_beam.__version__}")


def process_tree(root: int) -> dict[int, tuple[str, int, int]]:
    """{pid: (role, resident bytes, CPU seconds x 100)} of a process and its descendants;
    role: "run", "worker" (Beam's worker processes), "child" (their HTML cleaning
    children), "part" (the process of each part of a run in parts) or "other" (the shells
    that start workers, and any other)."""
    children: dict[int, list[int]] = {}
    stat: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        stat[int(entry)] = (int(fields[21]) * os.sysconf("SC_PAGE_SIZE"),
                            (int(fields[11]) + int(fields[12])) * 100
                            // os.sysconf("SC_CLK_TCK"))
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stat:
            tree[pid] = (_role(pid, root), *stat[pid])
        todo.extend(children.get(pid, []))
    return tree


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "run"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
    except OSError:
        return "other"
    if b"storywire.pipeline.worker" in command and b"/bin/sh" not in command:
        return "worker"
    if b"storywire.pipeline.part" in command:
        return "part"
    return "child" if b"multiprocessing" in command else "other"
