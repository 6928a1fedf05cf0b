"""Memory a storywire process frees goes back to the system while it runs (pipeline/memory.py)."""

import os
import subprocess
import sys
import threading

import pytest

from storywire.pipeline import memory

# A process that builds ~400 MB of article-sized strings from four threads, frees all but
# every 50th (so glibc's heaps cannot simply shrink from the top), waits, and prints its
# resident MiB before building, when built and after freeing.
_FREE_MOST = """
import os, sys, threading, time
from storywire.pipeline import memory
if sys.argv[1] == "on":
    memory.hand_back_freed_memory()
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20
base = rss()
kept, held = [], []
def build(n):
    texts = [("%08d" % i) * 440 for i in range(n)]
    held.append(texts)
threads = [threading.Thread(target=build, args=(25_000,)) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
full = rss()
for texts in held:
    kept.extend(texts[::50])
held.clear()
time.sleep(3 * memory.HAND_BACK_SECONDS)
print(base, full, rss())
"""

glibc_only = pytest.mark.skipif(memory._glibc() is None, reason="glibc only")


def _resident(mode: str) -> tuple[int, int]:
    """(MiB the strings took, MiB of them still held after freeing)."""
    # glibc's defaults, whatever this shell set
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", _FREE_MOST, mode], capture_output=True,
                         text=True, check=True, env=env).stdout
    base, full, after = map(int, out.split())
    return full - base, after - base


@glibc_only
def test_a_process_hands_back_what_it_freed():
    full, after = _resident("on")
    assert full > 300  # the strings were built
    assert after < full / 3, (full, after)
    # Without it, glibc keeps the freed pages: the check above could fail.
    full_off, after_off = _resident("off")
    assert after_off > full_off / 2, (full_off, after_off)


@glibc_only
def test_handing_back_twice_starts_one_thread():
    assert memory.hand_back_freed_memory() and memory.hand_back_freed_memory()
    names = [t.name for t in threading.enumerate() if t.name.startswith("storywire-hand")]
    assert len(names) == 1


# Prints the Arrow pool of this process, and of a process it then starts (as a run starts
# its workers), after storywire's memory setup; argv[1] "before": pyarrow is imported
# before the setup (as a worker imports it with a DoFn), "after": once it is done.
_POOLS = """
import subprocess, sys
if sys.argv[1] == "before":
    import pyarrow
from storywire.pipeline import memory
memory.hand_back_freed_memory()
import pyarrow
child = subprocess.run([sys.executable, "-c",
                        "import pyarrow; print(pyarrow.default_memory_pool().backend_name)"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(pyarrow.default_memory_pool().backend_name, child)
"""


def _arrow_pools(env_pool: str | None, imported: str = "after") -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != memory.ARROW_POOL_VARIABLE}
    if env_pool is not None:
        env[memory.ARROW_POOL_VARIABLE] = env_pool
    return subprocess.run([sys.executable, "-c", _POOLS, imported], capture_output=True,
                          text=True, check=True, env=env).stdout.split()


@glibc_only
@pytest.mark.parametrize("imported", ["before", "after"])
def test_arrow_allocates_from_the_heaps_handed_back_in_the_run_and_its_workers(imported):
    assert _arrow_pools(None, imported) == ["system", "system"]


@glibc_only
def test_a_pool_the_user_chose_is_kept_and_an_empty_choice_is_none():
    assert _arrow_pools("mimalloc") == ["mimalloc", "mimalloc"]
    assert _arrow_pools("") == ["system", "system"]


def test_a_command_that_needs_no_arrow_does_not_load_it():
    # `storywire stories --help` and the like start faster without pyarrow.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from storywire.pipeline import memory; "
         "memory.hand_back_freed_memory(); print('pyarrow' in sys.modules)"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"
