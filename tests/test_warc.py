"""WARC input (.warc, .warc.gz): HTML responses become articles, every other record is
skipped or rejected with its reason, and a big file is read in pieces that give each
record once. The WARC files are written here, record by record."""

import gzip
import io
import re
import zlib
from pathlib import Path

import pytest
from conftest import FAST, rows, seed_text
from hypothesis import given, settings
from hypothesis import strategies as st

from storywire.pipeline.cli import main
from storywire.transforms.read import warc
from storywire.transforms.read.inputs import (
    MAX_FILE_BYTES,
    file_chunks,
    input_format,
    is_supported,
    warc_limits,
)
from storywire.transforms.read.warc import (
    Skipped,
    content_type,
    page_id,
    place_id,
    read_warc,
)
from storywire.transforms.records import RawRecord, Reject

LIMITS = warc_limits(None)


def warc_record(kind: str, uri: str | None = None, block: bytes = b"",
                headers: tuple[str, ...] = ()) -> bytes:
    """One WARC record as crawlers write it: header lines, a blank line, the block, and
    two line ends."""
    lines = ["WARC/1.0", f"WARC-Type: {kind}", "WARC-Date: 2025-03-02T08:00:00Z",
             f"WARC-Record-ID: <urn:uuid:{zlib.crc32(block + (uri or '').encode()):032x}>"]
    if uri:
        lines.append(f"WARC-Target-URI: {uri}")
    if kind in ("response", "request") and not any(h.startswith("Content-Type:")
                                                   for h in headers):
        lines.append(f"Content-Type: application/http; msgtype={kind}")
    lines += [*headers, f"Content-Length: {len(block)}"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + block + b"\r\n\r\n"


def http(body: bytes, status: str = "200 OK", *headers: str,
         content_type: str | None = "text/html; charset=utf-8") -> bytes:
    lines = [f"HTTP/1.1 {status}", *([f"Content-Type: {content_type}"] if content_type else []),
             *headers, f"Content-Length: {len(body)}"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def html_page(title: str, text: str, meta: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n") if p.strip())
    return (f"<html><head>{meta}<title>{title}</title></head><body><nav><a href='/'>Home"
            f"</a></nav><article><h1>{title}</h1>{paragraphs}</article></body></html>")


def response(n: int, url: str | None = None) -> bytes:
    """A response holding seed article `n` (0 to 4) as a page."""
    page = html_page(f"Report {n}", seed_text(f"00{n}"))
    return warc_record("response", url or f"https://news.example/{n}", http(page.encode()))


def longest_paragraph(n: int) -> str:
    return max(seed_text(f"00{n}").split("\n"), key=len).strip()


def members(*records: bytes) -> list[bytes]:
    """Each record as a gzip member, as WARC writers make a .warc.gz."""
    return [gzip.compress(r) for r in records]


def starts(parts: list[bytes]) -> list[int]:
    """Where each part starts in their concatenation."""
    return [sum(len(p) for p in parts[:n]) for n in range(len(parts))]


def read(data: bytes, path: str = "in/a.warc.gz", **piece) -> list:
    return list(read_warc(io.BytesIO(data), path, LIMITS, **piece))


def run(capsys, *args, status: int = 0) -> dict:
    """`storywire run` in this process: the numbers of its summary, WARC skips included."""
    assert main(["run", *args]) == status
    out = capsys.readouterr().out
    summary = {key: int(re.search(rf"^{key}:\s+(\d+)", out, re.MULTILINE).group(1))
               for key in ("read", "articles", "rejects")}
    for key, pattern in (("stored", r"(\d+) already in the output"),
                         ("rejects_stored", r"(\d+) already recorded"),
                         ("no_page", r"^skipped:\s+(\d+) WARC records that hold no page")):
        m = re.search(pattern, out, re.MULTILINE)
        summary[key] = int(m.group(1)) if m else 0
    assert "accounted for" not in out
    return summary


def adds_up(summary: dict) -> bool:
    """read = articles + rejects + skipped, as the summary promises."""
    return summary["read"] == (summary["articles"] + summary["rejects"] + summary["stored"]
                               + summary["rejects_stored"] + summary["no_page"])


def test_warc_files_are_read_by_their_extension_in_any_case():
    assert [input_format(n) for n in ("a.warc", "b.WARC.GZ", "gs://b/CC-NEWS-1.warc.gz")] == [
        "warc"] * 3
    assert is_supported("x.Warc") and not is_supported("x.warc.zst")


def news_crawl() -> list[bytes]:
    """A crawl as CC-NEWS holds one: its warcinfo, then for each page the request, the
    response and the crawler's metadata, and a revisit of a page seen before."""
    records = [warc_record("warcinfo", None, b"software: test-crawler\r\n")]
    for n in range(3):
        url = f"https://news.example/{n}"
        records += [warc_record("request", url, b"GET /%d HTTP/1.1\r\n\r\n" % n), response(n),
                    warc_record("metadata", url, b"fetchTimeMs: 120\r\n")]
    records.append(warc_record("revisit", "https://news.example/0", http(b"")))
    return records


def test_pages_become_articles_with_url_and_text_and_other_records_are_skipped(tmp_path,
                                                                              capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    records = news_crawl()
    packed = members(*records)
    (folder / "CC-NEWS-1.warc.gz").write_bytes(b"".join(packed))
    other = [warc_record("response", "https://news.example/9", http(html_page(
        "Report 9", seed_text("004")).encode()))]
    (folder / "crawl.warc").write_bytes(b"".join([*records[:4], *other]))  # uncompressed
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST)
    # 11 + 5 records: 5 pages; the 11 others hold none, and are counted as skipped. The
    # first page of crawl.warc is a record of CC-NEWS-1 (the same WARC-Record-ID): one
    # article, and the copy a reject.
    assert summary == {"read": 16, "articles": 4, "rejects": 1, "stored": 0,
                       "rejects_stored": 0, "no_page": 11}
    articles = rows(out, "articles", "input_uri, line")
    # `line` is where the record starts: its gzip member's offset in a .warc.gz.
    assert [(Path(a["input_uri"]).name, a["line"], a["url"]) for a in articles] == [
        *[("CC-NEWS-1.warc.gz", starts(packed)[2 + 3 * n], f"https://news.example/{n}")
          for n in range(3)],
        ("crawl.warc", starts([*records[:4], *other])[4], "https://news.example/9")]
    for n, article in enumerate(articles[:3]):
        assert article["title"] == f"Report {n}"
        assert longest_paragraph(n)[:80] in article["text"]
    (copy,) = rows(out, "rejects", "line")
    assert (Path(copy["input_uri"]).name, copy["line"], copy["stage"]) == (
        "crawl.warc", starts(records)[2], "dedupe")
    assert copy["article_id"] == articles[0]["article_id"]
    assert copy["reason"] == (
        f"duplicate article_id {copy['article_id']!r}: the same WARC-Record-ID as the record "
        f"at {folder / 'CC-NEWS-1.warc.gz'}:{starts(packed)[2]}, which is kept")
    # A rerun skips what it stored: nothing new.
    again = run(capsys, "--input", str(folder), "--output", str(out), *FAST)
    # The copy's id is stored now: it is skipped with the rest.
    assert (again["articles"], again["stored"], again["rejects_stored"],
            again["no_page"]) == (0, 5, 0, 11)
    assert adds_up(again)
    assert len(rows(out, "articles", "article_id")) == 4


def test_a_duplicate_names_the_kept_record_at_offset_0_by_its_offset():
    from storywire.transforms.read.unique import first_per_id

    kept, (copy,) = first_per_id([RawRecord("x", "b.warc", 0, "html", "<p>b</p>"),
                                  RawRecord("x", "a.warc.gz", 0, "html", "<p>a</p>")])
    assert kept.input_uri == "a.warc.gz"
    assert copy.reason.endswith("the same WARC-Record-ID as the record at a.warc.gz:0, which "
                                "is kept"), copy.reason


def test_a_crawl_keeps_its_ids_when_moved_and_another_crawl_at_its_path_is_read(
        tmp_path, capsys):
    """A WARC page's id comes from its WARC-Record-ID, not from where its file lies."""
    out = tmp_path / "out"
    first, second = tmp_path / "in" / "crawl.warc.gz", tmp_path / "archive" / "crawl.warc.gz"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_bytes(b"".join(members(*news_crawl())))
    assert run(capsys, "--input", str(first), "--output", str(out), *FAST)["articles"] == 3
    # Moved to an archive folder and read from there: nothing is stored twice.
    first.rename(second)
    moved = run(capsys, "--input", str(second), "--output", str(out), *FAST)
    assert (moved["articles"], moved["stored"]) == (0, 3)
    # Unpacked to a .warc: its records at other offsets, the same records.
    unpacked = tmp_path / "archive" / "crawl.warc"
    unpacked.write_bytes(gzip.decompress(second.read_bytes()))
    again = run(capsys, "--input", str(unpacked), "--output", str(out), *FAST)
    assert (again["articles"], again["stored"]) == (0, 3)
    # Another crawl written over the old path, its pages where the first crawl's were:
    # each of its pages is new.
    other = [warc_record("response", f"https://news.example/{n}/later", http(html_page(
        f"Report {n}", seed_text(f"00{n}")).encode())) for n in range(3)]
    first.write_bytes(b"".join(members(*other)))
    later = run(capsys, "--input", str(first), "--output", str(out), *FAST)
    assert (later["articles"], later["stored"]) == (3, 0)
    assert len(rows(out, "articles", "article_id")) == 6
    # Over a crawl whose records had no WARC-Record-ID (named by their place), too.
    bare = [re.sub(rb"WARC-Record-ID: [^\r]*\r\n", b"", warc_record(
        "response", f"https://news.example/{n}/bare", http(html_page(
            f"Bare {n}", seed_text(f"00{n + 2}")).encode()))) for n in range(2)]
    first.write_bytes(b"".join(members(*bare)))
    assert run(capsys, "--input", str(first), "--output", str(out), *FAST)["articles"] == 2
    named = [warc_record("response", f"https://news.example/{n}/named", http(html_page(
        f"Named {n}", seed_text(f"00{n + 2}")).encode())) for n in range(2)]
    first.write_bytes(b"".join(members(*named)))
    latest = run(capsys, "--input", str(first), "--output", str(out), *FAST)
    assert (latest["articles"], latest["stored"]) == (2, 0)


def test_pages_an_earlier_version_stored_by_their_place_are_not_stored_again(
        tmp_path, capsys, monkeypatch):
    """Earlier versions named every WARC record by its file's path and offset: a rerun over
    such an output skips the pages it holds."""
    path, out = tmp_path / "crawl.warc.gz", tmp_path / "out"
    gone = warc_record("response", "https://news.example/gone", http(b"", "404 Not Found"))
    path.write_bytes(b"".join(members(*news_crawl(), gone)))
    with monkeypatch.context() as old:
        old.setattr(warc, "page_id", lambda record_id, path, offset, inner=0:
                    warc.place_id(path, offset, inner))
        first = run(capsys, "--input", str(path), "--output", str(out), *FAST)
        assert (first["articles"], first["rejects"]) == (3, 1)
    again = run(capsys, "--input", str(path), "--output", str(out), *FAST)
    assert (again["articles"], again["stored"], again["rejects"], again["rejects_stored"]
            ) == (0, 3, 0, 1)
    assert len(rows(out, "articles", "article_id")) == 3
    assert len(rows(out, "rejects", "line")) == 1


def test_the_http_charset_wins_over_a_lying_meta_charset(tmp_path, capsys):
    text = ("Мэр сказал, что река вышла из берегов в воскресенье ночью и затопила нижний "
            "город после трёх дней дождя.\n\nСпасатели перевезли двести семей в школьный "
            "спортзал, а мост к вокзалу закрыт до проверки инженерами, добавил мэр.")
    page = html_page("Наводнение в городе", text, '<meta charset="iso-8859-1">')
    lying = warc_record("response", "https://news.example/ru", http(
        page.encode("cp1251"), content_type="text/html; charset=windows-1251"))
    # Without the header, the page's own (wrong) declaration reads as windows-1252.
    unsaid = warc_record("response", "https://news.example/ru-2", http(
        page.encode("cp1251"), content_type="text/html"))
    (good,), (mojibake,) = read(lying), read(unsaid)
    assert "река вышла из берегов" in good.body
    assert "река" not in mojibake.body
    path = tmp_path / "ru.warc.gz"
    path.write_bytes(b"".join(members(lying)))
    run(capsys, "--input", str(path), "--output", str(tmp_path / "out"), *FAST)
    (article,) = rows(tmp_path / "out", "articles", "article_id")
    assert article["title"] == "Наводнение в городе"
    assert article["text"].startswith("Мэр сказал, что река вышла из берегов")


def test_content_type_header_values():
    assert content_type('TEXT/HTML;Charset="Windows-1252"') == ("text/html", "Windows-1252")
    assert content_type("text/html; charset=utf-8; foo=bar") == ("text/html", "utf-8")
    assert content_type("application/xhtml+xml") == ("application/xhtml+xml", None)
    assert content_type("") == (None, None) and content_type(None) == (None, None)


def chunked(data: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 50]), data[i:i + 50])
                    for i in range(0, len(data), 50)) + b"0\r\n\r\n"


def test_chunked_and_compressed_payloads_are_read_as_the_page():
    page = html_page("Report", seed_text("001")).encode()
    for block in (http(chunked(page), "200 OK", "Transfer-Encoding: chunked"),
                  http(gzip.compress(page), "200 OK", "Content-Encoding: gzip"),
                  http(zlib.compress(page), "200 OK", "Content-Encoding: deflate"),
                  http(chunked(gzip.compress(page)), "200 OK", "Transfer-Encoding: chunked",
                       "Content-Encoding: gzip")):
        (record,) = read(warc_record("response", "https://news.example/c", block))
        assert record.body == page.decode(), block[:120]


PAGE = html_page("Report", seed_text("002")).encode()


@pytest.mark.parametrize("block, headers, stage, reason", [
    (http(PAGE, "404 Not Found"), (), "read",
     "HTTP status 404 (https://news.example/r): only a 200 response is a page"),
    (http(PAGE, "301 Moved Permanently", "Location: /x"), (), "read", "HTTP status 301"),
    (http(b"%PDF-1.7 ...", content_type="application/pdf"), (), "read",
     "content type application/pdf (https://news.example/r): not an HTML page"),
    (http(PAGE, content_type=None), (), "read", "no content type (https://news.example/r): "
                                                "not an HTML page"),
    (http(PAGE), ("WARC-Truncated: length",), "read",
     "the crawler cut this response short (WARC-Truncated: length)"),
    (http(bytes(range(256)) * 40), (), "decode", "not text"),
    (http(b"\x1f\x8b\x08\x00 not gzip at all", "200 OK", "Content-Encoding: gzip"), (),
     "decode", "payload does not decode (https://news.example/r) (gzip)"),
    (http(PAGE, "200 OK", "Content-Encoding: compress"), (), "parse",
     "response does not parse: Unsupported"),
    (PAGE, (), "parse", "response has no HTTP status line"),
    (http(b"  \n "), (), "read", "empty page"),
])
def test_a_response_that_is_no_page_is_a_reject_saying_why(block, headers, stage, reason):
    (reject,) = read(warc_record("response", "https://news.example/r", block, headers))
    assert isinstance(reject, Reject)
    assert (reject.input_uri, reject.line, reject.stage) == ("in/a.warc.gz", 0, stage)
    assert reason in reject.reason
    # A reject made in reading is named by its place: reading the file again makes it again.
    assert reject.article_id == place_id("in/a.warc.gz", 0)


def test_a_record_over_the_size_limit_is_passed_over_not_held():
    huge = warc_record("response", "https://news.example/big",
                       http(b"<p>" + b"news " * (MAX_FILE_BYTES // 5)))
    rejected, page = read(huge + response(0), "in/a.warc")
    assert (rejected.line, rejected.stage) == (0, "read")
    assert f"over the limit of {MAX_FILE_BYTES:,} for one page" in rejected.reason
    assert isinstance(page, RawRecord) and page.url == "https://news.example/0"


def test_a_warc_gz_that_unpacks_past_its_bound_is_read_no_further():
    # 16 KB that unpack to 16 MiB: over 100 times its size, a decompression bomb.
    bomb = warc_record("response", "https://news.example/big",
                       http(b"<p>" + b"news " * (MAX_FILE_BYTES // 5)))
    packed = members(response(0), bomb, response(1))
    data = b"".join(packed)
    page, stop = list(read_warc(io.BytesIO(data), "in/a.warc.gz", warc_limits(len(data))))
    assert page.url == "https://news.example/0"
    assert (stop.line, stop.stage) == (starts(packed)[1], "read")
    assert "a decompression bomb?" in stop.reason and "the rest of the file is not read" in (
        stop.reason)


def test_a_truncated_warc_keeps_the_records_before_the_cut(tmp_path, capsys):
    packed = members(response(0), warc_record("request", "https://news.example/1"),
                     response(1), response(2))
    data = b"".join(packed)
    cut = starts(packed)[3] + len(packed[3]) // 2
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(data[:cut])
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(path), "--output", str(out), *FAST)
    assert (summary["articles"], summary["rejects"], summary["no_page"]) == (2, 1, 1)
    assert adds_up(summary)
    assert [a["url"] for a in rows(out, "articles", "line")] == [
        "https://news.example/0", "https://news.example/1"]
    (reject,) = rows(out, "rejects", "line")
    assert (reject["line"], reject["stage"]) == (starts(packed)[3], "read")
    assert reject["reason"] == (f"the file ends inside the gzip member at byte "
                                f"{starts(packed)[3]:,}: its record is cut off; the rest of "
                                "the file is not read")
    # An uncompressed one alike; a rerun records nothing new.
    plain = tmp_path / "cut.warc"
    plain.write_bytes(response(0, "https://news.example/p0")
                      + response(1, "https://news.example/p1")[:-300])
    summary = run(capsys, "--input", str(plain), "--output", str(out), *FAST)
    (reject,) = [r for r in rows(out, "rejects", "line") if r["input_uri"] == str(plain)]
    assert (reject["line"], reject["reason"]) == (len(response(0, "https://news.example/p0")), (
        "the file ends inside this record: it is cut off; the rest of the file is not read"))
    assert (summary["articles"], summary["rejects"], summary["stored"]) == (1, 1, 0)
    again = run(capsys, "--input", str(path), str(plain), "--output", str(out), *FAST)
    assert (again["articles"], again["rejects"], again["stored"], again["rejects_stored"],
            again["no_page"]) == (0, 0, 3, 2, 1)
    assert adds_up(again)


def big_crawl(records: int = 40) -> list[bytes]:
    """Pages, records that hold none, and a 404 between them, each page of its own url."""
    crawl = []
    for n in range(records):
        url = f"https://news.example/{n}"
        crawl += [warc_record("request", url), response(n % 5, url)]
        if n % 9 == 4:
            crawl.append(warc_record("response", url + "?gone", http(b"", "404 Not Found")))
    return crawl


@pytest.mark.parametrize("compressed", [True, False])
def test_a_big_warc_is_cut_into_pieces_that_give_every_record_once(tmp_path, compressed):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from storywire.transforms.read.inputs import ReadRecords
    from storywire.transforms.read.matching import FindInputFiles

    crawl = big_crawl()
    parts = members(*crawl) if compressed else crawl
    path = tmp_path / ("crawl.warc.gz" if compressed else "crawl.warc")
    path.write_bytes(b"".join(parts))
    whole = read(path.read_bytes(), str(path))
    pages = [(r.line, r.article_id, r.url) for r in whole if isinstance(r, RawRecord)]
    rejects = [(r.line, r.reason) for r in whole if isinstance(r, Reject)]
    assert (len(pages), len(rejects), len(whole)) == (40, 4, 84)
    # Pieces start where records (members) start, follow each other, and each counts the
    # responses it holds.
    pieces = file_chunks(str(path), path.stat().st_size, chunk_bytes=len(parts[1]) * 3)
    assert len(pieces) > 5
    assert pieces[0].start == 0 and pieces[-1].end is None
    assert all(a.end == b.start and b.start in starts(parts) for a, b in zip(pieces, pieces[1:]))
    assert sum(p.records for p in pieces) == 44
    piecewise = [out for p in pieces
                 for out in read(path.read_bytes()[p.start:], str(path), start=p.start,
                                 end=p.end)]
    assert piecewise == whole
    # And through the reader's transform, its pieces dealt out to workers.
    with beam.Pipeline("DirectRunner",
                       options=beam.options.pipeline_options.PipelineOptions(FAST)) as p:
        read_ = (p | FindInputFiles([str(path)])).files | ReadRecords(len(parts[1]) * 3)
        assert_that(read_.records | "R" >> beam.Map(lambda r: (r.line, r.article_id, r.url)),
                    equal_to(pages), label="records")
        assert_that(read_.rejects | "J" >> beam.Map(lambda r: (r.line, r.reason)),
                    equal_to(rejects), label="rejects")


def test_a_run_in_parts_cuts_a_big_warc_into_parts_by_its_responses(tmp_path):
    from storywire.transforms.read.parts import plan_parts

    crawl = big_crawl(12)  # 12 pages and a 404: 13 responses
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(b"".join(members(*crawl)))
    parts = plan_parts([str(path)], None, max_records=6, chunk_bytes=4096)
    assert len(parts) >= 3 and all(p.records <= 6 for p in parts)
    assert sum(p.records for p in parts) == 13
    pieces = [c for p in parts for c in p.chunks]
    assert pieces[0].start == 0 and pieces[-1].end is None
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))


@pytest.mark.parametrize("compressed", [True, False])
def test_a_piece_of_a_warc_rewritten_since_it_was_cut_is_one_reject_saying_so(
        tmp_path, compressed):
    # A crawl rewritten while a run in parts read it: a later piece started at a byte
    # where the new file has no record start, or another record's. One appended to (a
    # crawler writing on) reads on as it was cut.
    from storywire.transforms.read.inputs import _ReadRecords

    def write(records: list[bytes]) -> None:
        path.write_bytes(b"".join(members(*records) if compressed else records))

    def pages(piece) -> list:
        out = list(_ReadRecords()._read(piece, "warc"))
        assert not any(isinstance(r, Reject) and "changed" in r.reason for r in out)
        return [r.url for r in out if isinstance(r, RawRecord)]

    path = tmp_path / ("crawl.warc.gz" if compressed else "crawl.warc")
    crawl = big_crawl()
    write(crawl)
    pieces = file_chunks(str(path), path.stat().st_size, chunk_bytes=len(crawl[1]) * 3)
    assert len(pieces) > 5
    write([*crawl, response(1, "https://news.example/later")])
    read_all = [url for piece in pieces for url in pages(piece)]
    assert len(read_all) == len(set(read_all)) == 41
    write([warc_record("warcinfo", None, b"software: test-crawler\r\n"), *crawl])
    for piece in pieces[1:]:
        (reject,) = _ReadRecords()._read(piece, "warc")
        assert (reject.line, reject.stage, reject.reason) == (piece.start, "read", (
            f"the file changed since the run cut it into pieces: it no longer holds, before "
            f"byte {piece.start:,}, what it held there, so its records from byte "
            f"{piece.start:,} are not read (a rerun reads it as it is now)"))
    write(crawl[:9])
    (reject,) = _ReadRecords()._read(pieces[-1], "warc")
    assert reject.reason.endswith(
        f"smaller than the {pieces[-1].size:,} it was when the run cut it into pieces: it "
        f"changed, and its records from byte {pieces[-1].start:,} are not read (a rerun "
        "reads it as it is now)")


def test_a_crawl_appended_to_after_it_was_cut_reads_all_it_added(tmp_path):
    # The last piece reads on to the file's end. Its bound on what it may unpack was that
    # of its bytes when the file was cut (16 MiB, each record counted as 1 KiB at least):
    # 17,000 records added since were "a decompression bomb?", and the page after them
    # was not read.
    from storywire.transforms.read.inputs import _ReadRecords

    path = tmp_path / "crawl.warc.gz"
    crawl = members(*big_crawl())
    path.write_bytes(b"".join(crawl))
    *_, last = file_chunks(str(path), path.stat().st_size, chunk_bytes=len(crawl[1]) * 3)
    request = gzip.compress(warc_record("request", "https://news.example/more"))
    with open(path, "ab") as crawler:
        crawler.write(request * 17_000 + gzip.compress(response(2, "https://news.example/new")))
    out = list(_ReadRecords()._read(last, "warc"))
    assert not [r.reason for r in out if isinstance(r, Reject) and "404" not in r.reason]
    assert "https://news.example/new" in [r.url for r in out if isinstance(r, RawRecord)]


def test_a_file_compressed_as_one_gzip_stream_is_read_whole():
    # `gzip crawl.warc` makes one member of every record: each still reads, with an id
    # of its own (the records share the member's offset as their line).
    crawl = news_crawl()
    outputs = read(gzip.compress(b"".join(crawl)))
    pages = [o for o in outputs if isinstance(o, RawRecord)]
    assert [p.url for p in pages] == [f"https://news.example/{n}" for n in range(3)]
    assert {p.line for p in pages} == {0} and len({p.article_id for p in pages}) == 3
    assert sum(isinstance(o, Skipped) for o in outputs) == 8


def bare_lf_record() -> bytes:
    block = http(PAGE).replace(b"\r\n", b"\n")
    return (b"WARC/1.0\nWARC-Type: response\nWARC-Target-URI: https://news.example/lf\n"
            b"Content-Type: application/http; msgtype=response\n"
            b"Content-Length: %d\n\n" % len(block)) + block + b"\n\n"


def hostile_warcs(folder: Path) -> None:
    """WARC files a careless or hostile feed delivers."""
    folder.mkdir()
    page = response(0)
    files = {
        "text.warc": b"this is a plain text file, no web archive\n" * 50,
        "text.warc.gz": b"plain text again, named as if it were gzip\n" * 50,  # not gzip
        "empty.warc.gz": b"",
        "empty-stream.warc.gz": gzip.compress(b""),
        # A member that is gzip but no WARC record, between two good ones.
        "mixed.warc.gz": b"".join(members(response(1, "https://news.example/m1"),
                                          b"not a warc record\r\n\r\n",
                                          response(2))),
        # Bytes that are no gzip member after the first record.
        "garbage.warc.gz": b"".join(members(response(3))) + b"GARBAGE" * 10
        + b"".join(members(response(4))),
        "no-http.warc.gz": b"".join(members(warc_record("response", "https://news.example/h",
                                                        PAGE))),
        "dns.warc.gz": b"".join(members(warc_record(
            "response", "dns:news.example", b"20250302080000\nnews.example. 300 IN A 1.2.3.4\n",
            ("Content-Type: text/dns",)))),
        "bad-length.warc": page.replace(b"Content-Length: ", b"Content-Length: x", 1),
        # A Content-Length longer than the record its gzip member holds, then a good one.
        "long-length.warc.gz": b"".join(members(
            page.replace(b"Content-Length: ", b"Content-Length: 1", 1), response(1))),
        # Bare line feeds where the standard wants CRLF, in WARC and HTTP headers alike.
        "bare-lf.warc": bare_lf_record(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    # A file name that is not UTF-8, holding a record without a WARC-Record-ID.
    with open(bytes(folder) + b"/caf\xe9.warc.gz", "wb") as out:
        out.write(b"".join(members(re.sub(rb"WARC-Record-ID: [^\r]*\r\n", b"", page))))


def test_hostile_warc_files_become_rejects_and_their_good_records_stand(tmp_path, capsys):
    folder = tmp_path / "in"
    hostile_warcs(folder)
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), "--max_reject_fraction",
                  "1", *FAST)
    assert adds_up(summary)
    articles = {Path(a["input_uri"]).name: a for a in rows(out, "articles", "input_uri, line")}
    rejects = {}
    for r in rows(out, "rejects", "input_uri, line"):
        rejects.setdefault(Path(r["input_uri"]).name, []).append(
            (r["line"], r["stage"], r["reason"]))

    def one(name):
        (reject,) = rejects.pop(name)
        return reject

    assert set(articles) == {"mixed.warc.gz", "garbage.warc.gz", "caf\\xe9.warc.gz",
                             "bare-lf.warc", "long-length.warc.gz"}
    assert articles["long-length.warc.gz"]["url"] == "https://news.example/1"
    assert articles["bare-lf.warc"]["url"] == "https://news.example/lf"
    assert longest_paragraph(2)[:80] in articles["bare-lf.warc"]["text"]
    # The tables show the byte that is not UTF-8 as \xe9; the id of a record without a
    # WARC-Record-ID comes from the real name.
    assert articles["caf\\xe9.warc.gz"]["article_id"] == page_id(None,
        f"{folder}/caf\udce9.warc.gz", 0)
    not_warc = ("no WARC record starts here (a record starts with a line \"WARC/1.0\" or "
                "\"WARC/1.1\"); the rest of the file is not read")
    assert one("text.warc") == (0, "parse", not_warc)
    assert one("text.warc.gz") == (0, "parse", not_warc)
    assert one("empty.warc.gz") == (0, "read", "the file holds no WARC record")
    assert one("empty-stream.warc.gz") == (0, "read", "the file holds no WARC record")
    second = len(gzip.compress(response(1, "https://news.example/m1")))
    assert one("mixed.warc.gz") == (second, "parse", f"gzip member at byte {second:,}: "
                                                     + not_warc.split(";")[0])
    after = len(gzip.compress(response(3)))
    line, stage, reason = one("garbage.warc.gz")
    assert (line, stage) == (after, "read") and reason.startswith(
        f"no readable gzip member at byte {after:,}")
    assert one("no-http.warc.gz")[1:] == ("parse", "response has no HTTP status line "
                                                   "(https://news.example/h)")
    assert one("dns.warc.gz")[1:] == ("read", "response record holds no HTTP response "
                                              "(dns:news.example) (its Content-Type is "
                                              "text/dns)")
    length = re.search(rb"Content-Length: (\d+)", response(0)).group(1).decode()
    assert one("bad-length.warc") == (0, "parse", "WARC header has no valid Content-Length "
                                                 f"(x{length}); the rest of the file is not "
                                                 "read")
    assert one("long-length.warc.gz") == (0, "parse", "gzip member at byte 0 ends inside its "
                                                      "record (a Content-Length longer than "
                                                      "the record)")
    assert rejects == {}


@settings(max_examples=150, deadline=None)
@given(st.booleans(), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 10**6),
                                         st.binary(max_size=40)), min_size=1, max_size=6))
def test_any_damage_to_a_warc_gives_records_rejects_and_skips_and_the_same_in_pieces(
        compressed, damage):
    from storywire.transforms.read.warc import warc_pieces

    data = bytearray(b"".join(members(*news_crawl())) if compressed
                     else b"".join(news_crawl()))
    for kind, at, junk in damage:  # overwrite, insert, or cut the file short
        at %= len(data) or 1
        if kind < 0.4:
            data[at:at + len(junk)] = junk
        elif kind < 0.8:
            data[at:at] = junk
        else:
            del data[at:]
    data = bytes(data)
    whole = read(data)
    assert all(isinstance(out, RawRecord | Reject | Skipped) for out in whole)
    pieces = warc_pieces(io.BytesIO(data), 300, LIMITS)
    piecewise = [out for p in pieces for out in read(data[p.start:], start=p.start, end=p.end)]
    assert ([out for out in piecewise if not isinstance(out, Reject)]
            == [out for out in whole if not isinstance(out, Reject)])
