"""How run time grows with corpus size: `storywire eval` on syndicated corpora of each size.

    python benchmarks/scaling.py --sizes 10000 20000 50000 100000 \
        --out benchmarks/results/scaling.txt

Each size gets a fresh corpus (benchmarks/syndicate.py, not timed) and one `storywire eval`
with default settings in a process of its own (a big corpus runs in parts, as
`--max_batch_articles` makes it). Reported: its wall time, articles per second, time
relative to the smallest size against size relative to it, stories found, the largest
story, the B-cubed F1 against the simulated events, the peak resident memory of the
largest process (the worker processes are counted: they are its descendants) and, sampled,
of each kind of process (eval's own, a part's, a worker), and input units read against
articles and rejects written.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import syndicate  # noqa: E402
from common import code_version, machine, process_tree, write_results  # noqa: E402


def run_one(size: int, scratch: Path, storywire: str, source: Path,
            logs: Path | None = None) -> dict:
    corpus = scratch / f"corpus-{size}.jsonl"
    with open(corpus, "w", encoding="utf-8") as handle:
        import json

        for record in syndicate.build(size, source):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    # A process of its own whose rusage is this size's alone: the largest resident set any
    # process of the run reached (the worker processes are its descendants).
    wrapper = ("import resource, subprocess, sys; "
               "code = subprocess.run(sys.argv[1:]).returncode; "
               "print('scaling-peak-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
               "file=sys.stderr); sys.exit(code)")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", wrapper, storywire, "eval", str(corpus)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TMPDIR=str(scratch)))
    peaks = _sample_peaks(proc)
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    peaks.join()
    out = stdout + stderr
    if logs is not None:  # each part's lines, with their times
        logs.mkdir(parents=True, exist_ok=True)
        (logs / f"scaling-{size}.log").write_text(out, encoding="utf-8")
    if proc.returncode:
        raise SystemExit(f"storywire eval failed at {size}:\n{stderr[-3000:]}")
    corpus.unlink()

    def number(pattern: str) -> float:
        return float(re.search(pattern, out).group(1))

    def total(label: str) -> int:  # summed over the parts of a run in parts
        return sum(int(n) for n in re.findall(rf"^{label}:\s+(\d+)", out, re.MULTILINE))

    return {
        "size": size,
        "seconds": wall,
        "parts": max(1, len(re.findall(r"^storywire: part \d+ of", out, re.MULTILINE))),
        "read": total("read"),
        "accounted": total("articles") + total("rejects"),
        "stories": int(number(r"stories:\s+(\d+) found")),
        "largest": int(number(r"largest found: (\d+)")),
        "f1": number(r"B-cubed:.*F1 ([0-9.]+)"),
        "peak_mib": number(r"scaling-peak-kib (\d+)") / 1024,
        # By role, sampled: eval's own process (it copies the corpus, holds the gold
        # stories, scores; a run in one piece is also the run's main process), the parts'
        # processes, and Beam's workers.
        "eval_mib": peaks.peak.get("eval", 0) / MIB,
        "part_mib": peaks.peak.get("part", 0) / MIB,
        "worker_mib": peaks.peak.get("worker", 0) / MIB,
        "unsettled": sum(int(n) for n in re.findall(r"_unsettled = (\d+)", out)),
        "capped": sum(int(n) for n in re.findall(r"_(?:capped|over_max_compared) = (\d+)", out)),
    }


MIB = 1024 * 1024
SAMPLE_SECONDS = 0.5


class _Peaks(threading.Thread):
    """The largest resident set of each kind of process under `proc`, sampled until it
    ends: "eval" (the `storywire eval` process), "part", "worker"."""

    def __init__(self, proc: subprocess.Popen):
        super().__init__(daemon=True)
        self._proc = proc
        self.peak: dict[str, int] = {}

    def run(self) -> None:
        while self._proc.poll() is None:
            tree = process_tree(self._proc.pid)
            for pid, (role, rss, _) in tree.items():
                if role == "other" and pid != self._proc.pid and _is_eval(pid):
                    role = "eval"
                self.peak[role] = max(self.peak.get(role, 0), rss)
            time.sleep(SAMPLE_SECONDS)


def _is_eval(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"\0eval\0" in handle.read()
    except OSError:
        return False


def _sample_peaks(proc: subprocess.Popen) -> _Peaks:
    peaks = _Peaks(proc)
    peaks.start()
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 50_000, 100_000])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scaling.txt")
    parser.add_argument("--storywire", default=str(Path(sys.executable).parent / "storywire"))
    parser.add_argument("--source", type=Path, default=syndicate.DEFAULT_SOURCE)
    parser.add_argument("--logs", type=Path, help="folder for each size's storywire output")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="storywire-scaling-") as scratch:
        for size in args.sizes:
            row = run_one(size, Path(scratch), args.storywire, args.source, args.logs)
            rows.append(row)
            print(row, flush=True)
    base = rows[0]
    lines = [
        "storywire scaling benchmark: `storywire eval` on syndicated corpora, default settings",
        f"machine: {machine()}",
        f"command: python benchmarks/scaling.py --sizes {' '.join(map(str, args.sizes))}",
        f"code: commit {code_version()}",
        "",
        f"{'articles':>9} {'parts':>5} {'seconds':>8} {'art/s':>7} {'size x':>7} "
        f"{'time x':>7} {'stories':>8} {'largest':>8} {'B3 F1':>6} {'peak MiB':>9} "
        f"{'eval':>5} {'part':>5} {'worker':>6} "
        f"{'read':>8} {'art+rej':>8} {'capped':>7} {'unsettled':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['size']:>9} {r['parts']:>5} {r['seconds']:>8.1f} "
            f"{r['size'] / r['seconds']:>7.0f} {r['size'] / base['size']:>7.1f} "
            f"{r['seconds'] / base['seconds']:>7.2f} {r['stories']:>8} {r['largest']:>8} "
            f"{r['f1']:>6.3f} {r['peak_mib']:>9.0f} {r['eval_mib']:>5.0f} {r['part_mib']:>5.0f} "
            f"{r['worker_mib']:>6.0f} {r['read']:>8} {r['accounted']:>8} "
            f"{r['capped']:>7} {r['unsettled']:>9}")
    lines += [
        "",
        "seconds: wall time of `storywire eval` (a copy of the corpus without its labels, the",
        "run or its parts, Beam start-up, commits and scoring; corpus generation not). parts:",
        "the run's parts (--max_batch_articles, default). size x / time x: relative to the",
        "first row. peak MiB: the largest resident set any process of the run reached (each",
        "size in a process of its own; rusage). eval / part / worker: the largest resident set",
        f"sampled every {SAMPLE_SECONDS} s of `storywire eval`'s own process (it copies the",
        "corpus, holds the gold stories and scores; in a run of one part it is also the run's",
        "main process), of a part's process (0: one part) and of a Beam worker (0: a small",
        "run, in one process). read / art+rej: input units read, and articles plus rejects",
        "written, over all parts (equal when nothing is lost). capped: buckets that",
        "hit a comparison bound; unsettled: component nodes still moving after the last",
        "round. B3 F1 is against simulated events, each real article being its own event;",
        "the real corpus has many articles on one event from different outlets, so precision",
        "is understated.",
    ]
    write_results(args.out, lines)


if __name__ == "__main__":
    main()
