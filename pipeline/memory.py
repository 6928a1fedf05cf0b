"""Memory a local run's processes free goes back to the system as they run.

Beam's local runner runs a graph stage after stage: its main process holds the
collections between stages, and each worker process runs its share of every stage. What a
stage frees, glibc's malloc keeps in the process for reuse, in up to eight heaps per core
(one for each thread that allocates): a process's resident memory then grows stage by
stage towards the sum of what its stages used, where the largest of them is what it needs.
Each storywire process on glibc (the run, a part, a worker) therefore allocates from at
most `HEAPS` heaps, unless the user set glibc's own MALLOC_ARENA_MAX or GLIBC_TUNABLES,
and hands its heaps' free pages back every `HAND_BACK_SECONDS` (malloc_trim, from a
thread of its own; ctypes lets go of the GIL for the call). On 25,000 text articles the
largest worker went from 963-1,001 MiB to 828 (benchmarks/results/memory-handback.txt).
Arrow allocates from those heaps too (its system pool), unless the user chose its pool
with ARROW_DEFAULT_MEMORY_POOL: its default pool, mimalloc, keeps what Arrow frees for
reuse, which the hand-back cannot reach. The largest worker of a 10,000-article run then
holds about 60 MiB less, of a 25,000-article run 60 to 80 (benchmarks/results/arrow-pool.txt).
Python's small-object arenas are not concerned.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time

HEAPS = 2
HAND_BACK_SECONDS = 1.0
_M_ARENA_MAX = -8  # glibc's mallopt parameter for the number of heaps
_THREAD_NAME = "storywire-hand-back-memory"
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def _glibc():
    """The C library when it is glibc (whose mallopt and malloc_trim these are), else None.
    Looked up among the symbols the process already has (ctypes.util.find_library would
    start a program to find it)."""
    if os.name != "posix":
        return None
    try:
        libc = ctypes.CDLL(None)
    except (OSError, TypeError):
        return None
    if not all(hasattr(libc, f) for f in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return libc


def _hand_back_forever(libc) -> None:
    while True:
        time.sleep(HAND_BACK_SECONDS)
        libc.malloc_trim(0)


def _arrow_on_system_heap() -> None:
    """Arrow's allocations in glibc's heaps, in this process and the processes it starts:
    Arrow reads the variable as it is imported. (Not imported here: a command that never
    needs it, `storywire stories --help`, starts faster without.)"""
    os.environ[ARROW_POOL_VARIABLE] = "system"
    if "pyarrow" in sys.modules:
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def hand_back_freed_memory() -> bool:
    """Fewer heaps, and freed pages handed back from now on, in this process (once; a
    no-op off glibc). Returns whether it is in effect."""
    if any(t.name == _THREAD_NAME for t in threading.enumerate()):
        return True
    libc = _glibc()
    if libc is None:
        return False
    if not {"MALLOC_ARENA_MAX", "GLIBC_TUNABLES"} & set(os.environ):
        libc.mallopt(_M_ARENA_MAX, HEAPS)
    if not os.environ.get(ARROW_POOL_VARIABLE):  # set empty: as good as unset
        _arrow_on_system_heap()
    threading.Thread(target=_hand_back_forever, args=(libc,), name=_THREAD_NAME,
                     daemon=True).start()
    return True
