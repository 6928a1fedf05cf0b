"""Loading the language model in a new process: from py3langid's packaged model (LZMA,
then narrowed to storywire's languages) and from storywire's cached copy
(transforms/clean/langmodel.py).

    python benchmarks/language_model.py --runs 5

Each load is a new Python process that imports what the cleaning step imports, then times
the model's loading alone (wall and CPU). The two ways alternate run by run. Writes
benchmarks/results/language-model.txt.
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

LOAD = """
import json, time
from storywire.transforms.clean import cleaning
from storywire.transforms.clean.langmodel import language_identifier
from storywire.transforms.languages import weighed_languages
languages = weighed_languages()
wall, cpu = time.perf_counter(), time.process_time()
language_identifier(languages)
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""


def load(cache: str) -> dict:
    env = dict(os.environ, STORYWIRE_CACHE=cache)
    out = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        cache = os.path.join(scratch, "cache")
        nowhere = os.path.join(scratch, "a-file")  # a cache folder that cannot be: no copy
        Path(nowhere).write_text("")
        load(cache)  # writes the copy
        times: dict[str, list[dict]] = {"packaged model": [], "cached copy": []}
        for _ in range(args.runs):
            times["packaged model"].append(load(nowhere))
            times["cached copy"].append(load(cache))
        size = sum(p.stat().st_size for p in Path(cache).iterdir())
    lines = [
        "Loading the language model in a new process, storywire's languages",
        f"machine: {machine()}",
        f"command: python benchmarks/language_model.py --runs {args.runs}",
        f"code: commit {code_version()}",
        "",
        f"{'from':<16} {'wall s (median, min-max)':>26} {'CPU s (median)':>15}",
    ]
    for name, runs in times.items():
        walls = [r["wall"] for r in runs]
        lines.append(f"{name:<16} {statistics.median(walls):>12.3f} "
                     f"({min(walls):.3f}-{max(walls):.3f})"
                     f" {statistics.median(r['cpu'] for r in runs):>15.3f}")
    lines.append(f"cached copy: {size / 2**20:.1f} MiB in the cache folder")
    write_results(HERE / "results" / "language-model.txt", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
