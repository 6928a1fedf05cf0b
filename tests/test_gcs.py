"""gs:// inputs and outputs end to end, against a local Cloud Storage emulator
(gcp-storage-emulator) through Beam's own GCS filesystem."""

import io
import socket
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from conftest import FAST, SEEDS, run

from storywire.transforms.write.parquet import recover_commits

pytest.importorskip("gcp_storage_emulator", reason="needs gcp-storage-emulator (test extra)")
pytest.importorskip("apache_beam.io.gcp.gcsio", reason="needs the gcp extra")

BUCKET = "storywire-test"


@pytest.fixture
def emulator(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "localhost",
         "--port", str(port), "--in-memory", "--default-bucket", BUCKET],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                break
        assert time.monotonic() < deadline and server.poll() is None, "emulator did not start"
        time.sleep(0.2)
    # google-cloud-storage, under Beam's GCS filesystem, talks to the emulator instead.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://localhost:{port}")
    try:
        yield f"gs://{BUCKET}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def upload(local, remote: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(remote) as handle:
        handle.write(local.read_bytes())


def table(remote_folder: str) -> list[dict]:
    from apache_beam.io.filesystems import FileSystems

    rows = []
    for match in FileSystems.match([remote_folder + "/**.parquet"])[0].metadata_list:
        with FileSystems.open(match.path) as handle:
            rows += pq.read_table(io.BytesIO(handle.read())).to_pylist()
    return rows


def test_runs_read_and_write_cloud_storage(emulator, capsys):
    from apache_beam.io.filesystems import FileSystems

    seeds = sorted(SEEDS.glob("*.txt"))
    for seed in seeds[:3]:
        upload(seed, f"{emulator}/raw/day1/{seed.name}")
    first = run(capsys, "--input", f"{emulator}/raw/day1/", "--output", f"{emulator}/out",
                *FAST)
    assert first["articles"] == 3
    for seed in seeds[3:]:
        upload(seed, f"{emulator}/raw/day2/{seed.name}")
    second = run(capsys, "--input", f"{emulator}/raw/*/*.txt", "--output", f"{emulator}/out",
                 *FAST)
    assert (second["articles"], second["skipped"]) == (2, 3)

    articles = table(f"{emulator}/out/articles")
    assert len(articles) == 5 and len({r["story_id"] for r in articles}) == 1
    assert all(r["input_uri"].startswith(f"{emulator}/raw/") for r in articles)
    (story,) = table(f"{emulator}/out/stories")
    assert story["article_count"] == 5
    assert len(table(f"{emulator}/out/story_index")) == 5
    assert not FileSystems.match([f"{emulator}/out/_staging/**"])[0].metadata_list

    # A run that died before its commit: its staged files are dropped by the next run.
    upload(seeds[0], f"{emulator}/out/_staging/run-dead/articles/part.parquet")
    assert recover_commits(f"{emulator}/out") == (0, 1)
    assert not FileSystems.match([f"{emulator}/out/_staging/**"])[0].metadata_list


def test_a_run_into_a_locked_cloud_output_exits_2_and_a_run_releases_its_lock(emulator,
                                                                              capsys):
    import time as clock

    from apache_beam.io.filesystems import FileSystems

    from storywire.pipeline.cli import main
    from storywire.transforms.write.lock import LOCK_NAME, Holder

    seed = sorted(SEEDS.glob("*.txt"))[0]
    upload(seed, f"{emulator}/raw/{seed.name}")
    lock = f"{emulator}/out/{LOCK_NAME}"
    other = Holder("other", "storywire run (scheduled)", "elsewhere", 7,
                   "2026-12-01 09:00:00 UTC", clock.time())
    with FileSystems.create(lock) as handle:
        handle.write(other.encode())
    assert main(["run", "--input", f"{emulator}/raw/", "--output", f"{emulator}/out",
                 *FAST]) == 2
    assert "`storywire run (scheduled)` (pid 7 on elsewhere" in capsys.readouterr().err
    FileSystems.delete([lock])
    first = run(capsys, "--input", f"{emulator}/raw/", "--output", f"{emulator}/out", *FAST)
    assert first["articles"] == 1
    assert not FileSystems.exists(lock)  # released when the run ended


def test_a_warc_gz_on_cloud_storage_is_read_in_pieces(emulator, tmp_path):
    import apache_beam as beam
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.testing.util import assert_that, equal_to
    from test_warc import big_crawl, members, read

    from storywire.transforms.read.inputs import ReadRecords, file_chunks
    from storywire.transforms.read.matching import FindInputFiles
    from storywire.transforms.records import RawRecord

    local = tmp_path / "CC-NEWS-1.warc.gz"
    packed = members(*big_crawl(12))
    local.write_bytes(b"".join(packed))
    remote = f"{emulator}/crawl-data/CC-NEWS/{local.name}"
    # As it is: FileSystems.create would gzip a .gz name's bytes once more.
    with FileSystems.create(remote, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(local.read_bytes())
    expected = [(r.line, r.url, len(r.body)) for r in read(local.read_bytes(), remote)
                if isinstance(r, RawRecord)]
    assert len(expected) == 12
    pieces = file_chunks(remote, local.stat().st_size, len(packed[1]) * 4)
    assert len(pieces) >= 4 and pieces[1].start > 0
    with beam.Pipeline("DirectRunner",
                       options=beam.options.pipeline_options.PipelineOptions(FAST)) as p:
        read_ = (p | FindInputFiles([remote])).files | ReadRecords(len(packed[1]) * 4)
        assert_that(read_.records | beam.Map(lambda r: (r.line, r.url, len(r.body))),
                    equal_to(expected))


def test_a_utf16_jsonl_file_on_cloud_storage_is_never_cut_at_a_byte(emulator):
    # A UTF-16 line end is not the byte b"\n": the file is known by its byte order mark,
    # read on the storage it is on (the local file system knows no gs:// name).
    import json

    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    from storywire.transforms.read.inputs import file_chunks

    lines = "".join(json.dumps({"id": f"r{n}", "text": "Harbour news. " * 20}) + "\n"
                    for n in range(200))
    for name, data in (("wide.jsonl", lines.encode("utf-16")), ("narrow.jsonl", lines.encode())):
        remote = f"{emulator}/feed/{name}"
        with FileSystems.create(remote, compression_type=CompressionTypes.UNCOMPRESSED) as out:
            out.write(data)
        pieces = file_chunks(remote, len(data), chunk_bytes=len(data) // 5)
        assert len(pieces) == (1 if name == "wide.jsonl" else 5), name
