"""FastWARC against warcio, the two WARC libraries storywire could parse records with.

    python benchmarks/warc_libraries.py [--pages 1000]

Both in a virtual environment of their own (benchmarks/.venv-warclibs, made on first use
from PyPI), on the pages of benchmarks/throughput.py's html corpus as HTTP 200 responses:

- whole file: iterate a .warc.gz (one gzip member a record) and a .warc, and read each
  response's status, Content-Type and payload; best of 5;
- record by record: each record held as bytes, as storywire frames them, parsed alone
  (WARC and HTTP headers, payload decoded); best of 5;
- what each makes of bytes that are no WARC (a plain text file), of a gzip body that does
  not decode, and of a file cut off inside a record.

Writes benchmarks/results/warc-libraries.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import code_version, machine, write_results  # noqa: E402

VENV = HERE / ".venv-warclibs"
PACKAGES = ["fastwarc==2.0.1", "warcio==1.8.1"]

# Runs in the libraries' own environment: prints the report's lines.
MEASURE = r'''
import gzip, io, sys, time
from fastwarc.warc import ArchiveIterator as FastIterator
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

packed, plain = sys.argv[1], sys.argv[2]


def best(run, times=5):
    result, seconds = None, None
    for _ in range(times):
        started = time.perf_counter()
        result = run()
        took = time.perf_counter() - started
        seconds = took if seconds is None else min(seconds, took)
    return result, seconds


def fastwarc_file(path):
    n = 0
    with open(path, "rb") as handle:
        for record in FastIterator(handle, parse_http=True, auto_decode="all"):
            if str(record.record_type) == "response":
                record.http_headers.status_code, record.http_headers.get("Content-Type")
                n += len(record.reader.read()) > 0
    return n


def warcio_file(path):
    n = 0
    with open(path, "rb") as handle:
        for record in WarcioIterator(handle):
            if record.rec_type == "response":
                record.http_headers.get_statuscode(), record.http_headers.get_header(
                    "Content-Type")
                n += len(record.content_stream().read()) > 0
    return n


def fastwarc_bytes(data):
    out = []
    try:
        for record in FastIterator(io.BytesIO(data), parse_http=True, auto_decode="all"):
            out.append((str(record.record_type), record.http_headers.status_code
                        if record.http_headers else None, len(record.reader.read())))
    except Exception as err:
        out.append(f"error: {type(err).__name__}: {err}")
    return out


def warcio_bytes(data):
    out = []
    try:
        for record in WarcioIterator(io.BytesIO(data)):
            out.append((record.rec_type, record.http_headers.get_statuscode()
                        if record.http_headers else None,
                        len(record.content_stream().read())))
    except Exception as err:
        out.append(f"error: {type(err).__name__}: {str(err).strip().splitlines()[0]}")
    return out


for name, path in ((".warc.gz", packed), (".warc", plain)):
    for library, read in (("fastwarc", fastwarc_file), ("warcio", warcio_file)):
        pages, seconds = best(lambda: read(path))
        print(f"  whole {name}, {library:<8}: {pages} pages in {1000 * seconds:.0f} ms, "
              f"{pages / seconds:,.0f} pages/s")

data = open(plain, "rb").read()
starts = [r.stream_pos for r in FastIterator(io.BytesIO(data), parse_http=False)]
records = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
for library, parse in (("fastwarc", fastwarc_bytes), ("warcio", warcio_bytes)):
    _, seconds = best(lambda: [parse(r) for r in records])
    print(f"  record by record from memory, {library:<8}: {1e6 * seconds / len(records):.0f} "
          f"us a record")

page = records[1]
text = b"this is a plain text file, no web archive\n" * 3
body = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n<p>x</p>"
bad_gzip = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2025-03-02T08:00:00Z\r\n"
            b"WARC-Record-ID: <urn:uuid:1>\r\nWARC-Target-URI: https://example.com/\r\n"
            b"Content-Type: application/http; msgtype=response\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body + b"\r\n\r\n"
members = gzip.compress(records[1]) + gzip.compress(records[2])
cut = members[:len(members) - 200]
print(f"  (the payloads of the two records of the cut file: "
      f"{[p[0][2] for p in map(fastwarc_bytes, records[1:3])]} bytes whole)")
for case, sample in (("plain text named .warc", text),
                     ("gzip Content-Encoding over a body that is not gzip", bad_gzip),
                     (".warc.gz of two records cut inside the second", cut)):
    print(f"  {case}:")
    print(f"    fastwarc: {fastwarc_bytes(sample)}")
    print(f"    warcio:   {warcio_bytes(sample)}")
'''


def venv_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    return python


def main(argv: list[str]) -> int:
    import argparse

    from throughput import build_warc_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args(argv)
    lines = [f"WARC libraries, code at {code_version()}", f"machine: {machine()}",
             f"command: python benchmarks/warc_libraries.py {' '.join(argv)}".rstrip(),
             f"libraries: {', '.join(PACKAGES)}", ""]
    with tempfile.TemporaryDirectory(prefix="storywire-warclibs-") as scratch:
        paths = build_warc_corpus(args.pages, Path(scratch) / "corpus")
        out = subprocess.run([str(venv_python()), "-c", MEASURE, str(paths["warc.gz"]),
                              str(paths["warc"])], capture_output=True, text=True, check=True)
    lines += [f"{args.pages} HTML pages (benchmarks/throughput.py's html corpus) as "
              "responses:", *out.stdout.rstrip().splitlines(),
              f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} (over 1: other "
              "processes shared the cores)"]
    write_results(HERE / "results" / "warc-libraries.txt", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
