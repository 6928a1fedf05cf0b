"""Loading what storywire keeps in the cache folder (transforms/cache.py) in a new process,
from the library's own files and from storywire's copy.

    python benchmarks/cached_copies.py model --runs 7
    python benchmarks/cached_copies.py frequencies --runs 7

- model: py3langid's language model, from its packaged model (LZMA, then narrowed to
  storywire's languages) and from the copy (transforms/clean/langmodel.py).
- frequencies: wordfreq's tables of the languages of the HTML benchmark's pages (en, de,
  it, pt, ru), as wordfreq's dictionaries (and each language's most common words), and
  as storywire's tables from their copies (transforms/stories/frequencies.py).

Each load is a new Python process that first imports what its step imports, then times the
loading alone (wall and CPU) and measures the memory it added (resident set). The two
ways alternate run by run. Writes benchmarks/results/language-model.txt or
word-frequencies.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, machine, write_results  # noqa: E402

TIMED = """
import json, time
def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096
{prepare}
memory, wall, cpu = resident(), time.perf_counter(), time.process_time()
{load}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"wall": wall, "cpu": cpu, "memory": resident() - memory}}))  # kept held
"""
MODEL = """
from storywire.transforms.clean import cleaning
from storywire.transforms.clean.langmodel import language_identifier
from storywire.transforms.languages import weighed_languages
languages = weighed_languages()
"""
LANGUAGES = ("en", "de", "it", "pt", "ru")
FREQUENCIES = f"""
import wordfreq
from storywire.transforms.stories.frequencies import frequency_table
from storywire.transforms.stories.vectors import STOPWORD_MIN_FREQUENCY
languages = {LANGUAGES!r}
"""
# What each way loads: (the library's own files, storywire's copy).
LOADS = {
    "model": ("kept = language_identifier(languages)", "kept = language_identifier(languages)"),
    "frequencies": (
        "kept = [(table, {w for w, f in table.items() if f >= STOPWORD_MIN_FREQUENCY})\n"
        "        for table in (wordfreq.get_frequency_dict(language, wordlist='best')\n"
        "                      for language in languages)]",
        "kept = [(table, table.at_least(STOPWORD_MIN_FREQUENCY))\n"
        "        for table in map(frequency_table, languages)]"),
}
NAMES = {"model": ("packaged model", "cached copy"),
         "frequencies": ("wordfreq's dicts", "cached copies")}


def load(what: str, which: int, cache: str) -> dict:
    prepare = MODEL if what == "model" else FREQUENCIES
    code = TIMED.format(prepare=prepare, load=LOADS[what][which])
    env = dict(os.environ, STORYWIRE_CACHE=cache)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=sorted(LOADS))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    library, copy = NAMES[args.what]
    with tempfile.TemporaryDirectory() as scratch:
        cache = os.path.join(scratch, "cache")
        nowhere = os.path.join(scratch, "a-file")  # a cache folder that cannot be: no copy
        Path(nowhere).write_text("")
        load(args.what, 1, cache)  # writes the copies
        times: dict[str, list[dict]] = {library: [], copy: []}
        for _ in range(args.runs):
            times[library].append(load(args.what, 0, nowhere))
            times[copy].append(load(args.what, 1, cache))
        size = sum(p.stat().st_size for p in Path(cache).iterdir())
    lines = [
        ("Loading the language model in a new process, storywire's languages"
         if args.what == "model" else
         f"Loading the word frequencies of {', '.join(LANGUAGES)} in a new process"),
        f"machine: {machine()}",
        f"command: python benchmarks/cached_copies.py {args.what} --runs {args.runs}",
        f"code: commit {code_version()}",
        "",
        f"{'from':<16} {'wall s (median, min-max)':>26} {'CPU s (median)':>15}"
        f" {'MiB added (median)':>19}",
    ]
    for name, runs in times.items():
        walls = [r["wall"] for r in runs]
        lines.append(f"{name:<16} {statistics.median(walls):>12.3f} "
                     f"({min(walls):.3f}-{max(walls):.3f})"
                     f" {statistics.median(r['cpu'] for r in runs):>15.3f}"
                     f" {statistics.median(r['memory'] for r in runs) / 2**20:>19.0f}")
    lines.append(f"{copy}: {size / 2**20:.1f} MiB in the cache folder")
    name = "language-model.txt" if args.what == "model" else "word-frequencies.txt"
    write_results(HERE / "results" / name, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
