"""Where a run's time and memory go, against the essential work done in a tight loop.

    python benchmarks/throughput.py html [--pages 1000]
    python benchmarks/throughput.py text [--sizes 10000 100000]
    python benchmarks/throughput.py warc [--pages 1000]

Corpora:
- html: the `html` of the 92 pages in ../shared/data/aeb_dev.jsonl.gz, replicated to
  `--pages` records with new ids and a small markup change each (a comment with the copy's
  number), dealt into `--files` JSONL files.
- text: plain-text articles of ../shared/data/news_articles.csv.gz with simulated
  syndication (benchmarks/syndicate.py), one JSONL file per size.
- warc: the html corpus's pages as HTTP 200 responses in one .warc.gz (one gzip member a
  record, as WARC writers make them, after a warcinfo record), against the same pages as
  HTML records in one JSONL file (`html` and `url` fields): `storywire run` on each,
  alternately, and the reader alone (framing, parsing, decoding, no cleaning) on each and
  on the .warc uncompressed.

Essential work: extraction (trafilatura for HTML, storywire's text cleaner for text) and
the simhash fingerprint of each document, in a tight loop in one process (on the first
`--loop-sample` documents of a text corpus: the loop's rate does not depend on corpus size).
Own work: what storywire does to each document whatever the runner (`clean_record`:
extraction with metadata, language, both fingerprints; the story vector), in one process
on the loop's documents. Spread over every core with no runner cost at all, it bounds the
pipeline's rate: the benchmark reports that bound beside the goal.
Pipeline: `storywire run` with default settings on the same files, Beam start-up included,
run through benchmarks/stages.py, which records the local runner's stage timeline.
Fixed cost: `storywire run` on the corpus's first `--fixed-cost-documents` documents with
as many worker processes as the whole corpus gets (Python and Beam starting in each
process, every stage set up): what a run costs whatever its size. Worker CPU beyond it,
per further document, is what the pipeline adds to each document's essential work.
Peer (html): datatrove's equivalent pipeline (benchmarks/peer_datatrove.py: its JSONL
reader, Trafilatura extractor and Parquet writer, `--peer-tasks` local tasks) on the same
files, in a virtual environment of its own (benchmarks/.venv-datatrove, made on first use
from PyPI), run alternately with the loop and storywire.

Reported per corpus: both rates (documents/s, MiB/s), their ratio (the headline figure),
peak resident memory (largest process, the main process, the largest worker, all
processes; sampled every 0.2 s), and the time and peak memory of each stage, longest first.
Writes benchmarks/results/throughput-<corpus>.txt.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, machine, process_tree, write_results  # noqa: E402

DATA = HERE.parents[1] / "shared" / "data"
MIB = 1024 * 1024
SAMPLE_SECONDS = 0.2


def build_html_corpus(pages: int, path: Path, files: int = 1) -> None:
    """`pages` pages in one JSONL file at `path`, or with `files` > 1 in that many files in
    the folder `path` (the peer's tasks each take whole files)."""
    with gzip.open(DATA / "aeb_dev.jsonl.gz", "rt", encoding="utf-8") as handle:
        originals = [json.loads(line) for line in handle if line.strip()]
    if files > 1:
        path.mkdir()
    outs = ([open(path / f"part-{i:02d}.jsonl", "w", encoding="utf-8") for i in range(files)]
            if files > 1 else [open(path, "w", encoding="utf-8")])
    for n in range(pages):
        page = originals[n % len(originals)]
        html = page["html"].replace("</body>", f"<!-- copy {n} --></body>", 1)
        outs[n % len(outs)].write(json.dumps({"id": f"{page['id']}-{n}", "url": page.get("url"),
                                              "html": html}) + "\n")
    for out in outs:
        out.close()


def html_pages(pages: int) -> list[dict]:
    """The html corpus's `pages` pages: id, url, html."""
    with gzip.open(DATA / "aeb_dev.jsonl.gz", "rt", encoding="utf-8") as handle:
        originals = [json.loads(line) for line in handle if line.strip()]
    out = []
    for n in range(pages):
        page = originals[n % len(originals)]
        out.append({"id": f"{page['id']}-{n}",
                    "url": f"{page.get('url') or 'https://example.com/'}#copy-{n}",
                    "html": page["html"].replace("</body>", f"<!-- copy {n} --></body>", 1)})
    return out


def warc_record(kind: str, uri: str | None, block: bytes, content_type: str) -> bytes:
    """One WARC/1.0 record."""
    head = ["WARC/1.0", f"WARC-Type: {kind}", "WARC-Date: 2025-03-02T08:00:00Z",
            f"WARC-Record-ID: <urn:uuid:{hashlib.md5(block).hexdigest()}>",
            *([f"WARC-Target-URI: {uri}"] if uri else []), f"Content-Type: {content_type}",
            f"Content-Length: {len(block)}"]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + block + b"\r\n\r\n"


def build_warc_corpus(pages: int, folder: Path) -> dict[str, Path]:
    """The same pages as a .warc.gz, a .warc and a JSONL file of HTML records."""
    folder.mkdir()
    paths = {"warc.gz": folder / "pages.warc.gz", "warc": folder / "pages.warc",
             "jsonl": folder / "pages.jsonl"}
    with open(paths["warc.gz"], "wb") as packed, open(paths["warc"], "wb") as plain, \
            open(paths["jsonl"], "w", encoding="utf-8") as records:
        info = warc_record("warcinfo", None, b"software: storywire benchmark\r\n",
                           "application/warc-fields")
        packed.write(gzip.compress(info))
        plain.write(info)
        for page in html_pages(pages):
            body = page["html"].encode()
            http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body
            record = warc_record("response", page["url"], http,
                                 "application/http; msgtype=response")
            packed.write(gzip.compress(record, compresslevel=6))
            plain.write(record)
            records.write(json.dumps({"url": page["url"], "html": page["html"]}) + "\n")
    return paths


def reader_alone(path: Path) -> dict:
    """Pages/s of the reader alone (framing, parsing, decoding; no cleaning), as a run
    reads the file: cut into pieces, each piece read in turn, one process."""
    from storywire.transforms.read.inputs import _ReadRecords, file_chunks, input_format
    from storywire.transforms.records import RawRecord

    started = time.perf_counter()
    chunks = file_chunks(str(path), path.stat().st_size)
    cut = time.perf_counter() - started
    reader, pages = _ReadRecords(), 0
    for chunk in chunks:
        pages += sum(isinstance(out, RawRecord)
                     for out in reader._read(chunk, input_format(str(path))))
    return {"pages": pages, "seconds": time.perf_counter() - started, "cut": cut,
            "pieces": len(chunks), "bytes": path.stat().st_size}


def warc_report(pages: int, paths: dict[str, Path], readers: dict[str, dict],
                runs: dict[str, dict], top: int) -> list[str]:
    names = {"warc.gz": ".warc.gz", "warc": ".warc (uncompressed)",
             "jsonl": "JSONL of HTML records"}
    lines = [f"{pages} HTML pages (aeb_dev replicated), the same pages three ways: "
             + ", ".join(f"{names[k]} {p.stat().st_size / MIB:.1f} MiB"
                         for k, p in paths.items()),
             "  reader alone, one process (pieces read in turn; framing, parsing, decoding, "
             "no cleaning):"]
    for key, result in readers.items():
        lines.append(f"    {names[key]:<22} {result['pages'] / result['seconds']:7.0f} pages/s, "
                     f"{result['bytes'] / MIB / result['seconds']:6.1f} MiB/s of file; "
                     f"{result['pieces']} pieces, cut in {result['cut']:.2f} s")
    for key, run in runs.items():
        cpu = run["cpu"]
        lines += [
            f"  storywire run on the {names[key]}: {pages / run['seconds']:.1f} pages/s, "
            f"{run['seconds']:.1f} s (start-up to the first stage {run['startup']:.1f} s); "
            f"articles {run['articles']}",
            f"    worker CPU per page {1000 * (cpu['workers'] + cpu['children']) / pages:.1f}"
            f" ms; peak memory: largest process {run['largest'] / MIB:.0f} MiB (main "
            f"{run['main'] / MIB:.0f}, largest worker {run['worker'] / MIB:.0f}), all "
            f"processes {run['total'] / MIB:.0f} MiB",
        ]
        ordered = sorted(run["stages"].items(), key=lambda kv: -kv[1]["seconds"])
        for label, stage in ordered[:top]:
            lines.append(f"    {stage['seconds']:6.1f} s {stage['seconds'] / run['seconds']:6.1%}"
                         f"  {label}")
    warc, jsonl = runs["warc.gz"]["seconds"], runs["jsonl"]["seconds"]
    lines.append(f"  ratio of rates, .warc.gz / JSONL: {jsonl / warc:.2f}")
    return lines


def warc_benchmark(pages: int, repeat: int, top: int) -> list[str]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="storywire-warc-") as scratch:
        paths = build_warc_corpus(pages, Path(scratch) / "corpus")
        readers = {key: min((reader_alone(path) for _ in range(repeat)),
                            key=lambda r: r["seconds"]) for key, path in paths.items()}
        runs: dict[str, list[dict]] = {"warc.gz": [], "jsonl": []}
        for n in range(repeat):
            for key in runs:
                runs[key].append(pipeline_run(paths[key], Path(scratch) / f"run-{key}-{n}"))
        fastest = {key: min(results, key=lambda r: r["seconds"])
                   for key, results in runs.items()}
        every = "; ".join(f"{key}: " + ", ".join(f"{r['seconds']:.1f}" for r in results)
                          for key, results in runs.items())
        return warc_report(pages, paths, readers, fastest, top) + [
            f"  every run, seconds, in the order run (alternately): {every}",
            f"  load average (1 min) at the start {load_before:.1f}, at the end "
            f"{os.getloadavg()[0]:.1f} (over 2: other processes shared the cores)"]


def corpus_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def build_text_corpus(size: int, path: Path) -> None:
    import syndicate

    with open(path, "w", encoding="utf-8") as out:
        for record in syndicate.build(size):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def essential_loop(path: Path, limit: int | None) -> dict:
    """Extraction and fingerprinting of the first `limit` documents, one process, no Beam.
    Runs in a process of its own (its peak memory is its own)."""
    code = f"""
import json, sys
sys.path.insert(0, {str(HERE)!r})
from throughput import _loop
print(json.dumps(_loop({str(path)!r}, {limit!r})))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _loop(path: str, limit: int | None) -> dict:
    import resource

    from storywire.transforms.clean.cleaning import extract_html
    from storywire.transforms.clean.textclean import clean_page_text
    from storywire.transforms.copies.fingerprint import simhash64
    from storywire.transforms.read.inputs import parse_jsonl_line

    records, size = [], 0
    for file in corpus_files(Path(path)):
        with open(file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if limit is not None and len(records) >= limit:
                    break
                size += len(line.encode())
                records.append(parse_jsonl_line(line, str(file), number))
    extract_html("<html><body><p>warm up the extractor once</p></body></html>")
    extraction = fingerprinting = 0.0
    for record in records:
        started = time.perf_counter()
        if record.kind == "html":
            text = extract_html(record.body, record.url).text
        else:
            text = clean_page_text(record.body).text
        extracted = time.perf_counter()
        simhash64(text)
        extraction += extracted - started
        fingerprinting += time.perf_counter() - extracted
    return {"documents": len(records), "bytes": size, "extraction": extraction,
            "fingerprinting": fingerprinting, "own": _own_work(records),
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _own_work(records: list) -> float:
    """Seconds that the work storywire does on each document, whatever the runner, takes
    in one process: `clean_record` (extraction, metadata, language, both fingerprints) and
    the story vector. No runner can go faster than this work on all cores at once."""
    from storywire.transforms.clean.cleaning import clean_record
    from storywire.transforms.records import Article
    from storywire.transforms.stories.vectors import LanguageWeights, vectorise

    weights = LanguageWeights()
    for record in records[:20]:  # each language's word frequencies loaded before timing
        article = clean_record(record)
        if isinstance(article, Article):
            vectorise(article, weights)
    started = time.perf_counter()
    for record in records:
        article = clean_record(record)
        if isinstance(article, Article):
            vectorise(article, weights)
    return time.perf_counter() - started


MAKE_COPIES = """
from storywire.transforms.clean.langmodel import language_identifier
from storywire.transforms.languages import weighed_languages
from storywire.transforms.stories.vectors import weighting
from wordfreq import available_languages
language_identifier(weighed_languages())
for language in available_languages(wordlist="best"):
    weighting(language)
"""


def make_cached_copies() -> None:
    """The copies storywire keeps in the user's cache folder (the language model, each
    language's word frequencies; transforms/cache.py), made before anything is timed: a
    machine's first runs make them once, the runs measured here read them."""
    subprocess.run([sys.executable, "-c", MAKE_COPIES], check=True)


def pipeline_run(path: Path, scratch: Path, options: tuple[str, ...] = ()) -> dict:
    """`storywire run` on the corpus (with `options`), with memory sampled and the stage
    timeline recorded."""
    scratch.mkdir()
    timeline = scratch / "timeline.jsonl"
    command = [sys.executable, str(HERE / "stages.py"), str(timeline), "run",
               "--input", str(path), "--output", str(scratch / "output"), *options]
    before = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    errors = open(scratch / "stderr.txt", "w+")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors,
                               text=True, env=dict(os.environ, TMPDIR=str(scratch)))
    samples: list[tuple[float, int, int, int]] = []  # (time, main, largest other, total)
    cpu: dict[int, tuple[str, int]] = {}  # pid: (role, latest CPU seconds x 100)

    def sample():
        while process.poll() is None:
            tree = process_tree(process.pid)
            # A process that has ended shows no command line: it keeps the role it had.
            cpu.update({pid: (cpu[pid][0] if role == "other" and pid in cpu else role, used)
                        for pid, (role, _, used) in tree.items()})
            main = tree.pop(process.pid, (0, 0, 0))[1]
            others = [rss for _, rss, _ in tree.values()]
            samples.append((time.time(), main, max(others, default=0), main + sum(others)))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary, _ = process.communicate()
    sampler.join()
    errors.seek(0)
    if process.returncode not in (0, 3):
        raise SystemExit(f"storywire run failed with exit code {process.returncode}:\n"
                         + errors.read()[-3000:])
    errors.close()
    lines = [json.loads(line) for line in timeline.read_text().splitlines()]
    bounds, starts = lines[0], lines[1:]
    stages: dict[str, dict] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1]["at"] if n + 1 < len(starts) else bounds["ended"]
        during = [s for s in samples if start["at"] <= s[0] <= end] or [(0, 0, 0, 0)]
        steps = start["steps"]
        label = "+".join(steps[:5]) + (f"+{len(steps) - 5} more" if len(steps) > 5 else "")
        stage = stages.setdefault(label, {"seconds": 0.0, "main": 0, "worker": 0})
        stage["seconds"] += end - start["at"]
        stage["main"] = max(stage["main"], max(s[1] for s in during))
        stage["worker"] = max(stage["worker"], max(s[2] for s in during))
    articles = next(line for line in summary.splitlines() if line.startswith("articles:"))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu": {"all": usage.ru_utime + usage.ru_stime - before,
                "main": sum(u for r, u in cpu.values() if r == "run") / 100,
                "workers": sum(u for r, u in cpu.values() if r == "worker") / 100,
                "children": sum(u for r, u in cpu.values() if r == "child") / 100},
        "seconds": bounds["ended"] - bounds["started"],
        "startup": (starts[0]["at"] if starts else bounds["ended"]) - bounds["started"],
        "stage_count": len(starts),
        "stages": stages,
        "largest": max(max(s[1], s[2]) for s in samples),
        "main": max(s[1] for s in samples),
        "worker": max(s[2] for s in samples),
        "total": max(s[3] for s in samples),
        "articles": articles.split(":", 1)[1].strip(),
    }


PEER_VENV = HERE / ".venv-datatrove"
PEER_PACKAGES = ["datatrove==0.10.1", "trafilatura==2.3.1", "lxml_html_clean", "orjson",
                 "pyarrow"]
PEER = "datatrove 0.10.1 (JSONL reader -> Trafilatura -> Parquet writer)"


def peer_python() -> Path:
    """The Python of the peer's own virtual environment, made on first use."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES],
                       check=True)
    return python


def peer_run(folder: Path, scratch: Path, tasks: int) -> dict:
    """datatrove's equivalent pipeline on the same files: its rate, start-up included."""
    scratch.mkdir()
    out = subprocess.run([str(peer_python()), str(HERE / "peer_datatrove.py"), str(folder),
                          str(scratch / "peer-output"), str(tasks)],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, TMPDIR=str(scratch)))
    return json.loads(out.stdout.strip().splitlines()[-1])


# The options of the run on the corpus's first few documents that measures what a run
# costs whatever its size: the worker processes a run of the whole corpus has, which a run
# this small would otherwise not start (pipeline/options.py, IN_PROCESS_BELOW_BYTES).
FIXED_COST_OPTIONS = ("--direct_num_workers", str(os.cpu_count() or 1),
                      "--direct_running_mode", "multi_processing")


def fixed_cost_options(corpus: Path) -> tuple[str, ...]:
    """Options that run the first documents as the whole corpus runs: with worker
    processes, unless the corpus is small enough to run in one process itself."""
    from storywire.pipeline.options import IN_PROCESS_BELOW_BYTES

    size = sum(f.stat().st_size for f in corpus_files(corpus))
    return FIXED_COST_OPTIONS if size >= IN_PROCESS_BELOW_BYTES else ()


def first_documents(corpus: Path, count: int, path: Path) -> int:
    """The corpus's first `count` documents in one file at `path`; returns how many."""
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for file in corpus_files(corpus):
            with open(file, encoding="utf-8") as handle:
                for line in handle:
                    if written == count:
                        return written
                    out.write(line)
                    written += 1
    return written


def worker_cpu(cpu: dict) -> float:
    """CPU seconds of the processes that do the steps' work: the worker processes and
    their cleaning children, or for a run in one process, that process."""
    return cpu["children"] + (cpu["workers"] if cpu["workers"] else cpu["main"])


def fixed_cost_lines(size: int, loop: dict, run: dict, small: dict) -> list[str]:
    """What a run costs whatever its size (a run of a few documents), and what each
    further document costs beyond it, against the loop's CPU per document."""
    docs, fixed = small["documents"], small["cpu"]
    loop_ms = 1000 * (loop["extraction"] + loop["fingerprinting"]) / loop["documents"]

    further = 1000 * (worker_cpu(run["cpu"]) - worker_cpu(fixed)) / (size - docs)
    how = (f"the same {FIXED_COST_OPTIONS[1]} worker processes" if small["options"]
           else "in one process, as the whole corpus")
    return [
        f"  a run of the first {docs} documents ({how}), CPU seconds: "
        f"{fixed['all']:.1f} in all; main process "
        f"{fixed['main']:.1f}, worker processes {fixed['workers']:.1f}, their HTML cleaning "
        f"children {fixed['children']:.1f}; {small['seconds']:.1f} s",
        f"  worker CPU per further document, beyond that run's: {further:.1f} ms (the loop: "
        f"{loop_ms:.1f} ms), ratio {further / loop_ms:.2f}",
    ]


def own_work_lines(loop: dict, run: dict) -> list[str]:
    """storywire's own work per document in one process, and the rate it bounds: every
    core doing only that work, with no cost of the runner at all."""
    docs, cores = loop["documents"], os.cpu_count() or 1
    loop_rate = docs / (loop["extraction"] + loop["fingerprinting"])
    bound = cores * docs / loop["own"]
    return [
        f"  storywire's own work per document, one process (cleaning with metadata, "
        f"language, both fingerprints, story vector): {1000 * loop['own'] / docs:.1f} ms, "
        f"{loop['own'] / (loop['extraction'] + loop['fingerprinting']):.2f}x the loop's",
        f"  at most, on {cores} cores doing nothing else: {bound:.1f} docs/s, "
        f"ratio {bound / loop_rate:.2f} to the loop"
        + (f", {bound / (run['corpus_documents'] / run['peer']['seconds']):.2f} of the peer"
           if "peer" in run else ""),
    ]


def report(name: str, size: int, loop: dict, run: dict, top: int) -> list[str]:
    docs = loop["documents"]
    loop_seconds = loop["extraction"] + loop["fingerprinting"]
    loop_rate = docs / loop_seconds
    loop_corpus_seconds = loop_seconds * size / docs  # the loop's time for the whole corpus
    cpu = run["cpu"]
    rate = size / run["seconds"]
    corpus_mib = run["corpus_bytes"] / MIB
    lines = [
        f"{name}: {size} documents, {corpus_mib:.1f} MiB",
        f"  essential loop, one process, on {docs} of them: {loop_rate:.1f} docs/s, "
        f"{loop['bytes'] / MIB / loop_seconds:.2f} MiB/s; extraction "
        f"{1000 * loop['extraction'] / docs:.1f} ms/doc, fingerprint "
        f"{1000 * loop['fingerprinting'] / docs:.1f} ms/doc; peak memory "
        f"{loop['peak'] / MIB:.0f} MiB",
        f"  storywire run: {rate:.1f} docs/s, {corpus_mib / run['seconds']:.2f} MiB/s, "
        f"{run['seconds']:.1f} s (start-up to the first stage {run['startup']:.1f} s, "
        f"{run['stage_count']} stages); articles {run['articles']}",
        f"  ratio pipeline / loop: {rate / loop_rate:.2f}",
        *own_work_lines(loop, run),
        *([f"  peer, {PEER}, {run['peer_tasks']} tasks: {run['peer']['documents']} docs in "
           f"{run['peer']['seconds']:.1f} s, {size / run['peer']['seconds']:.1f} docs/s; "
           f"ratio peer / loop: {size / run['peer']['seconds'] / loop_rate:.2f}; storywire / "
           f"peer: {run['peer']['seconds'] / run['seconds']:.2f}"] if "peer" in run else []),
        f"  worker CPU per document: {1000 * worker_cpu(cpu) / size:.1f} "
        f"ms (the loop: {1000 * loop_seconds / docs:.1f} ms)",
        f"  peak memory: largest process {run['largest'] / MIB:.0f} MiB (main process "
        f"{run['main'] / MIB:.0f}, largest worker {run['worker'] / MIB:.0f}), all processes "
        f"{run['total'] / MIB:.0f} MiB",
        f"  CPU seconds: {cpu['all']:.1f} in all (the loop, for the whole corpus: "
        f"{loop_corpus_seconds:.1f}); main process (start-up, graph, every shuffle) "
        f"{cpu['main']:.1f}, worker processes {cpu['workers']:.1f}, their HTML cleaning "
        f"children {cpu['children']:.1f}, not attributed "
        f"{cpu['all'] - cpu['main'] - cpu['workers'] - cpu['children']:.1f}",
        "  stages, longest first: seconds, share of the run, peak MiB of main process and "
        "of largest worker during it, steps",
    ]
    ordered = sorted(run["stages"].items(), key=lambda kv: -kv[1]["seconds"])
    for label, stage in ordered[:top]:
        lines.append(f"  {stage['seconds']:8.1f} {stage['seconds'] / run['seconds']:6.1%} "
                     f"{stage['main'] / MIB:7.0f} {stage['worker'] / MIB:7.0f}  {label}")
    rest = ordered[top:]
    if rest:
        lines.append(f"  {sum(s['seconds'] for _, s in rest):8.1f} "
                     f"{sum(s['seconds'] for _, s in rest) / run['seconds']:6.1%} "
                     f"{max(s['main'] for _, s in rest) / MIB:7.0f} "
                     f"{max(s['worker'] for _, s in rest) / MIB:7.0f}  "
                     f"the other {len(rest)} stages")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=["html", "text", "warc"])
    parser.add_argument("--pages", type=int, default=1000, help="html corpus size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="text corpus sizes")
    parser.add_argument("--loop-sample", type=int, default=5000,
                        help="text documents the essential loop runs on")
    parser.add_argument("--stages", type=int, default=8, help="stages listed per run")
    parser.add_argument("--fixed-cost-documents", type=int, default=30,
                        help="documents of the run that measures a run's fixed cost")
    parser.add_argument("--files", type=int, default=8,
                        help="html corpus files (the peer's tasks each take whole files)")
    parser.add_argument("--peer-tasks", type=int, default=os.cpu_count() or 1,
                        help="tasks of the peer's local executor (html)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure loop and run this many times each, alternately; "
                             "the fastest of each is reported (this machine's speed varies)")
    args = parser.parse_args(argv)
    smallest = args.pages if args.corpus == "html" else min(args.sizes)
    if args.corpus != "warc" and not 0 < args.fixed_cost_documents < smallest:
        parser.error(f"--fixed-cost-documents must be at least 1 and fewer than the "
                     f"corpus's {smallest} documents")
    command = "python benchmarks/throughput.py " + " ".join(argv)
    lines = [f"storywire throughput benchmark, code at {code_version()}, default settings",
             f"machine: {machine()}", f"command: {command}",
             "cached copies (language model, word frequencies) made before timing", ""]
    make_cached_copies()
    if args.corpus == "warc":
        lines += warc_benchmark(args.pages, args.repeat, args.stages)
        write_results(HERE / "results" / "throughput-warc.txt", lines)
        return 0
    sizes = [args.pages] if args.corpus == "html" else args.sizes
    seconds = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="storywire-throughput-") as scratch:
            corpus = Path(scratch) / "corpus.jsonl"
            if args.corpus == "html":
                corpus = Path(scratch) / "corpus"
                build_html_corpus(size, corpus, args.files)
                name, limit = "HTML pages (aeb_dev replicated)", None
            else:
                build_text_corpus(size, corpus)
                name, limit = "plain-text articles (news_articles syndicated)", args.loop_sample
            first = Path(scratch) / "first.jsonl"
            first_count = first_documents(corpus, args.fixed_cost_documents, first)
            first_options = fixed_cost_options(corpus)
            loops, runs, peers, smalls = [], [], [], []
            for n in range(args.repeat):
                loops.append(essential_loop(corpus, limit))
                runs.append(pipeline_run(corpus, Path(scratch) / f"run{n}"))
                smalls.append(pipeline_run(first, Path(scratch) / f"first{n}", first_options))
                if args.corpus == "html":
                    peers.append(peer_run(corpus, Path(scratch) / f"peer{n}", args.peer_tasks))
            loop = min(loops, key=lambda lp: lp["extraction"] + lp["fingerprinting"])
            run = min(runs, key=lambda r: r["seconds"])
            small = min(smalls, key=lambda r: r["cpu"]["all"])
            small["documents"], small["options"] = first_count, first_options
            run["corpus_bytes"] = sum(f.stat().st_size for f in corpus_files(corpus))
            run["corpus_documents"] = size
            if peers:
                run["peer"] = min(peers, key=lambda r: r["seconds"])
                run["peer_tasks"] = args.peer_tasks
        seconds[size] = run["seconds"]
        lines += report(name, size, loop, run, args.stages)
        lines += fixed_cost_lines(size, loop, run, small) + [""]
        print("\n".join(lines), flush=True)
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        lines.append(f"time {first} -> {last} documents: {seconds[last] / seconds[first]:.2f}x "
                     f"for {last / first:.0f}x the documents")
    write_results(HERE / "results" / f"throughput-{args.corpus}.txt", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
