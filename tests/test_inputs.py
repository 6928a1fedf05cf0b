"""Finding input files, decoding bytes and parsing JSONL lines."""

import codecs
import io
import json
import os
from pathlib import Path

import pytest
from conftest import FAST, FIXTURES, rows, run, seed_text
from hypothesis import given
from hypothesis import strategies as st

from storywire.pipeline.cli import main
from storywire.transforms.clean.cleaning import clean_record
from storywire.transforms.read.decode import NotText, decode_bytes, mostly_utf8
from storywire.transforms.read.inputs import (
    JOINT_BYTES,
    Line,
    UnpackedTooLarge,
    _ReadRecords,
    file_chunks,
    input_format,
    joint_digest,
    line_chunks,
    parse_jsonl_line,
    read_lines,
    read_whole_file,
    unpacked_limit,
)
from storywire.transforms.read.matching import input_output_overlap, is_inside, match_input_path
from storywire.transforms.records import RawRecord, Reject, stable_id, storable_row


def test_formats_by_extension():
    assert input_format("a/b.txt") == "text"
    assert input_format("a/b.HTML") == "html"
    assert input_format("a/b.htm") == "html"
    assert input_format("gs://b/x.jsonl.gz") == "jsonl"
    assert input_format("x.jsonl") == "jsonl"
    assert input_format("x.pdf") is None


def test_watch_and_storage_notifications_take_extensions_in_any_case():
    from storywire.pipeline.watch import Seen, ready_files
    from storywire.transforms.streaming import gcs_notification_path

    names = ["in/B.TXT", "in/UP.JSONL.GZ", "in/c.HTML", "in/d.Htm", "in/e.NDJSON", "in/f.CSV"]
    listing = {name: Seen(10, 0.0) for name in names}
    assert ready_files(listing, {}, {}, now=1000.0, settle=5) == names[:5]
    notified = [gcs_notification_path({"eventType": "OBJECT_FINALIZE", "bucketId": "news",
                                       "objectId": name}) for name in names]
    assert notified == [f"gs://news/{name}" for name in names[:5]] + [None]


def test_one_rule_says_which_names_are_read_and_which_are_compressed():
    from storywire.transforms.read.inputs import is_compressed, is_supported

    names = ["B.TXT", "UP.JSONL.GZ", "c.HTML", "d.Htm", "e.NDJSON", "f.Ndjson.Gz", "g.CSV",
             "h.TXT.GZ"]
    assert [is_supported(n) for n in names] == [True] * 6 + [False] * 2
    assert [is_compressed(n) for n in names] == [False, True, False, False, False, True,
                                                 False, True]


def test_upper_case_names_are_read_as_their_format(tmp_path, capsys):
    import gzip

    folder = tmp_path / "in"
    folder.mkdir()
    records = [{"id": f"gz{n}", "text": seed_text(f"00{n}")} for n in range(3)]
    (folder / "UP.JSONL.GZ").write_bytes(gzip.compress(
        "".join(json.dumps(r) + "\n" for r in records).encode()))
    (folder / "B.TXT").write_text(seed_text("003"))
    (folder / "c.HTML").write_bytes((FIXTURES / "page.html").read_bytes())
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(folder), "--output", str(out), *FAST)
    assert (summary["read"], summary["articles"], summary["rejects"]) == (5, 5, 0)
    by_file = sorted((Path(a["input_uri"]).name, a["line"])
                     for a in rows(out, "articles", "article_id"))
    assert by_file == [("B.TXT", None), ("UP.JSONL.GZ", 1), ("UP.JSONL.GZ", 2),
                       ("UP.JSONL.GZ", 3), ("c.HTML", None)]


def test_match_folder_recursively_glob_and_file(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.txt", "sub/b.html", "sub/c.jsonl"):
        (tmp_path / name).write_text("x")
    found = sorted(m.path for m in match_input_path(str(tmp_path)))
    assert found == sorted(str(tmp_path / n) for n in ("a.txt", "sub/b.html", "sub/c.jsonl"))
    assert [m.path for m in match_input_path(str(tmp_path / "*.txt"))] == [str(tmp_path / "a.txt")]
    assert [m.path for m in match_input_path(str(tmp_path / "a.txt"))] == [str(tmp_path / "a.txt")]
    assert match_input_path(str(tmp_path / "missing")) == []


def test_decode_utf8_latin1_and_utf16_bom():
    assert decode_bytes("Café über".encode()) == "Café über"
    assert decode_bytes(codecs.BOM_UTF16_LE + "Zürich news".encode("utf-16-le")) == "Zürich news"
    latin = ("Le café de la gare a fermé ses portes après quarante années de "
             "service, à la surprise générale des habitués du quartier.").encode("latin-1")
    assert "café" in decode_bytes(latin)


def test_html_declared_charset_is_used():
    page = '<html><head><meta charset="windows-1252"></head><body>“Quote” café</body></html>'
    assert "“Quote” café" in decode_bytes(page.encode("cp1252"), html=True)


def cp1252_page(declared: str) -> bytes:
    return ("<html><head><meta charset=\"" + declared + "\"><title>Café owners fear the "
            "flood</title></head><body><article><p>Café owners in Zürich said the river burst "
            "its banks on Sunday night and flooded the lower town after three days of rain.</p>"
            "<p>Emergency crews moved two hundred families to the school gym, and the bridge "
            "to the station stays closed until engineers inspect it, the mayor said.</p>"
            "</article></body></html>").encode("cp1252")


def test_a_page_whose_charset_lies_keeps_its_characters():
    # cp1252 bytes under <meta charset="utf-8">, a common lie: read as what they are.
    record = read_whole_file("in/cafe.html", "html", cp1252_page("utf-8"))
    article = clean_record(record)
    assert article.title == "Café owners fear the flood"
    assert article.text.startswith("Café owners in Zürich said")
    assert "\ufffd" not in article.title + article.text


def test_undeclared_short_cp1252_text_is_read_as_browsers_read_it():
    # Among code pages that read a short text equally well, windows-1252, never "Cafķ".
    assert decode_bytes("Café owners".encode("cp1252")) == "Café owners"
    sentence = "Café owners in Zürich said the rain hurt trade."
    assert decode_bytes(sentence.encode("cp1252")) == sentence
    portuguese = ("Notícias da Fórmula 1: a equipe anunciou o novo calendário da temporada, "
                  "com vinte e três corridas.")
    assert decode_bytes(portuguese.encode("cp1252")) == portuguese


def test_other_legacy_code_pages_are_still_detected():
    for text, encoding in (
        ("Мэр сказал, что река вышла из берегов в воскресенье ночью.", "cp1251"),
        ("İstanbul'da şiddetli yağmur nedeniyle birçok cadde su altında kaldı, belediye "
         "başkanı açıklama yaptı. Güneşli günler ağır geçti.", "cp1254"),
        ("Burmistrz powiedział, że rzeka wystąpiła z brzegów w niedzielę w nocy i zalała "
         "dolne miasto po trzech dniach deszczu. Źródło: gmina.", "cp1250"),
        ("Meras sakė, kad upė sekmadienio naktį išsiliejo iš krantų ir užliejo žemutinį "
         "miestą po trijų lietaus dienų.", "cp1257"),
        ("市長によると、三日間の雨の後、日曜日の夜に川が氾濫した。", "cp932"),
        ("시장은 사흘간 비가 내린 뒤 일요일 밤 강이 범람했다고 말했다.", "cp949"),
    ):
        assert decode_bytes(text.encode(encoding)) == text, encoding


def test_a_gb18030_page_declared_utf8_is_chinese_not_binary():
    page = ('<html><head><meta charset="utf-8"><title>洪水淹没下城区</title></head><body>'
            "<p>市长说，连续三天下雨之后，河水在星期日晚上决堤，淹没了下城区。紧急救援人员将两百个"
            "家庭转移到学校体育馆。</p></body></html>")
    assert decode_bytes(page.encode("gb18030"), html=True) == page
    assert isinstance(read_whole_file("in/gb.html", "html", page.encode("gb18030")), RawRecord)


def test_a_declared_charset_is_trusted_only_if_the_bytes_decode_in_it():
    russian = "Мэр сказал, что река вышла из берегов."
    assert decode_bytes(russian.encode("koi8-r"), declared="koi8-r") == russian
    # "iso-8859-1" pages are read as windows-1252, as browsers do: 0x93 is a curly quote.
    quoted = "“Café” owners"
    assert decode_bytes(quoted.encode("cp1252"), declared="ISO-8859-1") == quoted
    assert decode_bytes(quoted.encode("cp1252"), declared="utf-8") == quoted
    page = cp1252_page("utf-8").decode("cp1252")
    assert decode_bytes(cp1252_page("utf-8"), html=True, declared="utf-8") == page


def test_utf8_with_a_stray_windows_1252_byte_keeps_its_letters():
    # One "’" typed in a Windows editor into a UTF-8 text: the text was sent to detection
    # and read whole in another encoding ("côtière" as "cﾃｴtiﾃｨre").
    text = ("La côtière déborde après la pluie, et la rivière aussi : à Sète, les écoles "
            "sont fermées, et le préfet a évacué le quartier de la gare dès jeudi")
    assert decode_bytes(text.encode() + b" : l\x92eau monte.") == text + " : l’eau monte."
    page = f"<html><body><p>{text}.</p><p>Caf\xe9</p></body></html>"
    data = page.encode().replace("Caf\xe9".encode(), b"Caf\xe9")
    assert decode_bytes(data, html=True) == page
    # Bytes of a legacy encoding are not "mostly UTF-8" for the pairs that happen to be:
    # in mac_roman every "’é" of French is one.
    assert decode_bytes("Ã© Café, São Paulo, Zürich.".encode("cp1252")) == \
        "Ã© Café, São Paulo, Zürich."
    french = "L’été, l’école, d’être et l’élève."
    assert decode_bytes(french.encode("mac_roman")) == french
    page = f'<html><head><meta charset="macintosh"></head><body>{french}</body></html>'
    assert decode_bytes(page.encode("mac_roman"), html=True) == page
    for text, encoding in (("πρωθυπουργός", "gb18030"), ("ΚΥΒΕΡΝΗΣΗ", "euc_kr"),
                           ("は会見", "cp932")):
        assert decode_bytes(text.encode(encoding)) == text, encoding


def test_a_short_utf8_text_with_curly_quotes_and_one_stray_byte_keeps_its_letters():
    # Too few accented letters to outnumber the stray byte ten to one: the whole text went
    # to detection and was read as mac_roman ("Z√ºrich‚Äôs").
    text = "Zürich’s mayor said “yes” on Monday. Café "
    assert decode_bytes(text.encode() + b"it\x92s") == text + "it’s"
    assert decode_bytes("市长说：“雨”".encode() + b" \x92") == "市长说：“雨” ’"


_LEGACY = st.sampled_from([
    ("абвгдежзийклмнопрстуфхцчшщъыьэюяёіїєґАБВГД", ("cp1251", "koi8_r", "mac_cyrillic")),
    ("αβγδεζηθικλμνξοπρστυφχψωάέήίόύώΑΒΓΔ", ("cp1253", "iso8859_7")),
    ("ąćęłńóśźżčřšžýáíéůĄĆĘŁŃÓŚŹŻ", ("cp1250", "iso8859_2")),
    ("éèêàâçôûîïëüöäßñáíóúÉÀÇ’‘“”—–€…«»ÆØÞæðøþ", ("cp1252", "mac_roman")),
    ("的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生"
     "市长雨河水星期日晚上决堤淹没城区", ("gbk", "big5")),
    ("あいうえおかきくけこさしすせそアイウエオカキク日本語市長雨川", ("shift_jis", "euc_jp")),
    ("가나다라마바사아자차카타파하시장비강일요일밤", ("euc_kr", "cp949")),
    ("אבגדהוזחטיכלמנסעפצקרשת", ("cp1255",)),
    ("ابتثجحخدذرزسشصضطظعغفقكلمنهوي", ("cp1256",)),
])


@given(_LEGACY.flatmap(lambda legacy: st.tuples(
    st.lists(st.one_of(st.text(legacy[0], min_size=1, max_size=8),
                       st.sampled_from(["the", "mayor", "said", "flood", "on"])),
             min_size=1, max_size=120),
    st.sampled_from(legacy[1]))))
def test_a_legacy_text_is_never_taken_for_utf8_with_stray_bytes(words_and_encoding):
    words, encoding = words_and_encoding
    data = " ".join(words).encode(encoding, errors="ignore")  # its letters it has
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        assert mostly_utf8(data) is None, (encoding, data[:60])


def test_binary_is_not_text():
    with pytest.raises(NotText):
        decode_bytes(bytes(range(256)) * 40)


def test_whole_file_records_and_rejects():
    record = read_whole_file("in/a.txt", "text", b"Some article text.")
    assert isinstance(record, RawRecord)
    assert record.article_id == stable_id("in/a.txt")
    empty = read_whole_file("in/b.txt", "text", b"  \n ")
    assert isinstance(empty, Reject) and empty.stage == "read"
    binary = read_whole_file("in/c.html", "html", bytes(range(256)) * 40)
    assert isinstance(binary, Reject) and binary.stage == "decode"


def test_jsonl_line_fields():
    line = ('{"id": 7, "url": "https://ex.com/a", "source": "Ex", "published": '
            '"2024-10-28T10:00:00Z", "title": "T", "text": "Body text."}')
    record = parse_jsonl_line(line, "in.jsonl", 3)
    assert record == RawRecord("7", "in.jsonl", 3, "text", "Body text.", "https://ex.com/a",
                               "Ex", "T", "2024-10-28T10:00:00Z")


def test_jsonl_line_without_id_gets_an_id_from_the_record_itself():
    def article_id(record: dict, uri: str = "in.jsonl", number: int = 5) -> str:
        return parse_jsonl_line(json.dumps(record), uri, number).article_id

    page = {"html": "<p>x</p>"}
    assert parse_jsonl_line(json.dumps(page), "in.jsonl", 5).kind == "html"
    # Wherever the record stands, in whichever file, it has one id; another record another.
    assert article_id(page) == article_id(page, "other.jsonl", 9)
    assert article_id(page) != article_id({"html": "<p>y</p>"})
    dated = {"title": "Flood", "published": "2025-03-02", "text": "Body."}
    assert len({article_id(dated), article_id({**dated, "title": "Flood update"}),
                article_id({**dated, "published": "2025-03-03"}),
                article_id({**dated, "text": "Body!"})}) == 4
    # A url names the article: the same url is the same article, whatever else changed.
    at = {"url": "https://example.com/flood", "text": "Body."}
    assert article_id(at) == article_id({**at, "title": "New", "text": "Body, updated."})
    assert article_id(at) != article_id({**at, "url": "https://example.com/fire"})
    # A given id wins; a reject of a record with a url says which article it was.
    assert article_id({**at, "id": "a-1"}) == "a-1"
    assert parse_jsonl_line(json.dumps({**at, "text": 42}), "in.jsonl", 1).article_id == (
        article_id(at))


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"text": "unterminated', "invalid JSON"),
        ("[1, 2]", "must be an object"),
        ('{"id": "x"}', "neither a non-empty 'text' nor 'html'"),
        ('{"text": 42}', "'text' must be a string"),
        ('{"text": "ok", "title": {"a": 1}}', "'title' must be a string"),
    ],
)
def test_bad_jsonl_lines_become_rejects(line, reason):
    reject = parse_jsonl_line(line, "in.jsonl", 9)
    assert isinstance(reject, Reject)
    assert reject.stage == "parse" and reject.line == 9
    assert reason in reject.reason
    assert reject.excerpt == line[:200]


def test_record_fields_win_over_extracted_metadata():
    from datetime import datetime, timezone

    from storywire.transforms.clean.cleaning import clean_record, to_micros

    raw = ("Some Headline Of The Page\n\nPublished March 1, 2025\n\n"
           "The body of the article says something that is long enough to be prose.")
    record = RawRecord("x", "in.jsonl", 1, "text", raw, source="Wire",
                       title="Given title", published="2025-03-02T00:00:00Z")
    article = clean_record(record)
    assert article.title == "Given title"
    assert article.published_at == to_micros(datetime(2025, 3, 2, tzinfo=timezone.utc))
    assert article.text == ("The body of the article says something that is long enough "
                            "to be prose.")
    unset = clean_record(RawRecord("y", "in.jsonl", 2, "text", raw))
    assert unset.title == "Some Headline Of The Page"
    assert unset.published_at == to_micros(datetime(2025, 3, 1, tzinfo=timezone.utc))


def test_a_record_without_article_text_is_rejected_at_clean():
    from storywire.transforms.clean.cleaning import clean_record

    reject = clean_record(RawRecord("z", "in/x.html", None, "html", "<html><body></body></html>"))
    assert isinstance(reject, Reject)
    assert reject.stage == "clean" and "no article text" in reject.reason


@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.booleans(), st.integers(1, 40), st.integers(1, 17))
def test_line_chunks_cover_the_file_at_line_starts(lines, final_newline, chunk_bytes, block):
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    chunks = line_chunks([data[i:i + block] for i in range(0, len(data), block)], chunk_bytes)
    assert chunks[-1][1] is None
    position = 0
    for start, end, first_line, joint in chunks:
        assert start == position and (
            joint == (joint_digest(data[max(0, start - JOINT_BYTES):start]) if start else b""))
        assert start == 0 or data[start - 1:start] == b"\n"
        assert first_line == data[:start].count(b"\n") + 1
        if end is not None:
            assert end - start >= chunk_bytes
        position = len(data) if end is None else end


@pytest.mark.parametrize("name, most_pieces", [("feed.jsonl", 40), ("feed.jsonl.gz", 16)])
def test_a_big_jsonl_file_read_in_parts_gives_the_records_of_a_whole_read(tmp_path, name,
                                                                          most_pieces):
    import gzip

    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from storywire.transforms.read.inputs import ReadRecords, file_chunks
    from storywire.transforms.read.matching import FindInputFiles

    path = tmp_path / name
    lines = []
    for n in range(40):
        if n % 7 == 3:
            lines.append("")  # blank lines are skipped but counted
        lines.append("{not json" if n % 11 == 5 else
                     json.dumps({"text": f"Article number {n} says something new today."}))
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    # A compressed file is cut too (in what it unpacks to), in at most 16 pieces (each piece
    # read unpacks the file up to it).
    assert 1 < len(file_chunks(str(path), path.stat().st_size, 60)) <= most_pieces

    def read(chunk_bytes):
        with beam.Pipeline("DirectRunner", options=beam.options.pipeline_options
                           .PipelineOptions(FAST)) as p:
            read = (p | FindInputFiles([str(path)])).files | ReadRecords(chunk_bytes)
            records = read.records | "R" >> beam.Map(lambda r: (r.article_id, r.line, r.body))
            rejects = read.rejects | "J" >> beam.Map(lambda r: (r.line, r.reason[:12]))
            expected_records = [(r.article_id, r.line, r.body) for r in whole_records]
            assert_that(records, equal_to(expected_records), label="records")
            assert_that(rejects, equal_to(whole_rejects), label="rejects")

    whole_records, whole_rejects = [], []
    for number, line in enumerate(lines, start=1):
        if line:
            out = parse_jsonl_line(line, str(path), number)
            if isinstance(out, Reject):
                whole_rejects.append((out.line, out.reason[:12]))
            else:
                whole_records.append(out)
    assert len(whole_records) == 36 and len(whole_rejects) == 4
    read(60)      # many parts, cut inside the file
    read(10**9)   # one part


def test_a_utf16_or_utf32_jsonl_file_gives_every_record(tmp_path, capsys):
    # Windows PowerShell writes UTF-16 with `>`. Lines were split at the byte b"\n": the
    # first record was read and every later one rejected as binary data.
    import gzip

    from storywire.transforms.read.parts import plan_parts

    body = "The harbour authority said on Monday that the new quay will open in May. " * 3
    feed = tmp_path / "in"
    feed.mkdir()

    def lines(tag: str, count: int, end: str = "\n", mark: str = "\ufeff") -> str:
        return mark + "".join(
            json.dumps({"id": f"{tag}{n}", "text": f"Z\u00fcrich {tag} report {n}. {body}"},
                       ensure_ascii=False) + end + ("\n" if n == 1 else "")  # a blank line
            for n in range(count))

    (feed / "le.jsonl").write_bytes(lines("le", 3, "\r\n").encode("utf-16-le"))
    (feed / "be.jsonl").write_bytes(lines("be", 3).encode("utf-16-be"))
    (feed / "w32.jsonl").write_bytes(lines("w", 2).encode("utf-32"))
    (feed / "packed.jsonl.gz").write_bytes(gzip.compress(lines("gz", 2).encode("utf-16")))
    # Without a byte order mark, as some tools write them: known by their NUL bytes.
    (feed / "bare16.jsonl").write_bytes(lines("bare", 3, mark="").encode("utf-16-le"))
    (feed / "bare32.jsonl").write_bytes(lines("bw", 2, mark="").encode("utf-32-be"))
    # Bigger than a piece a big JSONL file is cut in: read whole, never cut at a byte.
    (feed / "big.jsonl").write_bytes(lines("big", 1300).encode("utf-16-le"))
    assert [len(p.chunks) for p in plan_parts([str(feed)], None, 100_000)] == [7]
    out = tmp_path / "out"
    summary = run(capsys, "--input", str(feed), "--output", str(out), *FAST)
    assert (summary["read"], summary["articles"], summary["rejects"]) == (1315, 1315, 0)
    articles = rows(out, "articles", "article_id")
    assert {a["article_id"] for a in articles} >= {"le0", "le1", "le2", "be2", "w1", "gz1",
                                                   "bare2", "bw1"}
    assert all(a["text"].startswith("Z\u00fcrich") for a in articles)
    # A file cut inside a character keeps the records before, and says where it stopped.
    (feed / "cut.jsonl").write_bytes(lines("cut", 2).encode("utf-16-le")[:-1])
    for name in ("le.jsonl", "be.jsonl", "w32.jsonl", "packed.jsonl.gz", "big.jsonl",
                 "bare16.jsonl", "bare32.jsonl"):
        (feed / name).unlink()
    out = tmp_path / "out2"
    main_status = main(["run", "--input", str(feed), "--output", str(out), *FAST])
    capsys.readouterr()
    assert main_status == 0
    assert [a["article_id"] for a in rows(out, "articles", "article_id")] == ["cut0", "cut1"]
    (reject,) = rows(out, "rejects", "line")
    assert reject["line"] == 3 and "UnicodeDecodeError" in reject["reason"]


def test_utf16_or_utf32_without_a_mark_is_told_by_a_record_opening_only():
    from storywire.transforms.read.wide import wide_encoding

    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        for opening in ('{"id": 1}', ' {"id": 1}', '\r\n{"id": 1}'):
            assert wide_encoding(opening.encode(encoding)[:4]) == encoding, (encoding, opening)
    # UTF-8 text, and binary junk that a UTF-8 file may open with, are not.
    for head in (b'{"id', b"\xef\xbb\xbf{", b"A\x00\x00\x00", b"\x00\x01\x02\x03", b"{\x00"):
        assert wide_encoding(head) is None, head


class _Handle(io.BytesIO):
    """A file that remembers the most it was asked to read at once."""

    most = 0

    def readline(self, size=-1):
        self.most = max(self.most, size)
        assert size > 0, "a line read without a limit"
        return super().readline(size)


def test_a_line_over_the_limit_is_skipped_in_bounded_pieces_and_reading_goes_on():
    handle = _Handle(b"a\n" + b"b" * 50 + b"\n" + b"\n" + b"c" * 9 + b"\n" + b"d" * 10)
    lines = list(read_lines(handle, max_line_bytes=10, skip_bytes=4))
    assert lines == [Line(1, b"a\n", 2), Line(2, b"b" * 10, 51), Line(3, b"\n", 1),
                     Line(4, b"c" * 9 + b"\n", 10), Line(5, b"d" * 10, 10)]
    assert [line.whole for line in lines] == [True, False, True, True, True]
    assert handle.most == 10


def test_reading_stops_past_the_total_limit_and_keeps_the_lines_before():
    import gzip

    packed = gzip.compress(b"".join(b"%d\n" % n for n in range(1000)))
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as handle:
        lines = read_lines(handle, max_line_bytes=10, max_total_bytes=100)
        kept = []
        with pytest.raises(UnpackedTooLarge) as stop:
            for line in lines:
                kept.append(line.data)
    assert kept == [b"%d\n" % n for n in range(len(kept))]
    assert sum(map(len, kept)) <= 100 < stop.value.unpacked_bytes


def test_a_compressed_file_may_unpack_to_100_times_its_size_or_16_mib():
    assert unpacked_limit(10 * 2**20) == 1000 * 2**20
    assert unpacked_limit(1000) == 16 * 2**20
    assert unpacked_limit(None) == 16 * 2**20


def read_chunk(path, **chunk):
    """What the reader makes of a file, or of a part of it, output by output."""
    from storywire.transforms.read import inputs

    return inputs._ReadRecords()._read(inputs.InputChunk(str(path), None, **chunk), "jsonl")


def record_lines(*numbers: int) -> bytes:
    return b"".join(json.dumps({"text": f"Record {n} says something new."}).encode() + b"\n"
                    for n in numbers)


def test_ten_thousand_lines_in_a_row_without_an_article_end_the_reading(tmp_path):
    import gzip
    import itertools

    # 4 KB on disk: three records, then 2,000,000 lines "1", each a reject of its own.
    path = tmp_path / "ones.jsonl.gz"
    path.write_bytes(gzip.compress(record_lines(1, 2, 3) + b"1\n" * 2_000_000))
    out = list(itertools.islice(read_chunk(path), 10_010))
    assert [r.body for r in out[:3]] == [f"Record {n} says something new." for n in (1, 2, 3)]
    rejects = out[3:-1]
    assert len(rejects) == 10_000
    assert {(r.stage, r.reason) for r in rejects} == {
        ("parse", "a JSONL line must be an object, not int")}
    assert [r.line for r in rejects] == list(range(4, 10_004))
    stop = out[-1]
    assert (stop.line, stop.stage, stop.reason) == (
        10_004, "read", "10,000 lines in a row held no article (lines 4 to 10,003, each "
                        "blank or rejected): the rest of the file is not read")
    assert len(out) == 10_004  # nothing after it


def test_blank_lines_count_towards_the_run_and_a_record_ends_it(tmp_path):
    import gzip

    blanks = tmp_path / "blanks.jsonl.gz"
    blanks.write_bytes(gzip.compress(record_lines(1) + b"\r\n" * 1_000_000 + record_lines(2)))
    first, stop = read_chunk(blanks)
    assert first.body == "Record 1 says something new."
    assert (stop.line, stop.reason) == (10_002, "10,000 lines in a row held no article (lines "
                                                "2 to 10,001, each blank or rejected): the "
                                                "rest of the file is not read")
    # Runs just short of the limit, broken by a record, are read to the end; so is a file
    # that ends with a run of exactly the limit (nothing is left unread).
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n" * 9_999 + record_lines(1) + b"[]\n" * 5_000 + b"\n" * 4_999
                      + record_lines(2) + b"{\n" * 10_000)
    out = list(read_chunk(mixed))
    assert [r.line for r in out if isinstance(r, RawRecord)] == [10_000, 20_000]
    assert len(out) == 2 + 5_000 + 10_000
    assert all(r.stage == "parse" for r in out if isinstance(r, Reject))


def test_a_part_of_a_file_stops_alone_and_says_where_it_ends(tmp_path):
    path = tmp_path / "feed.jsonl"
    data = record_lines(1) + b"\n" * 20_000 + record_lines(2)
    path.write_bytes(data)
    end = len(data) - len(record_lines(2))
    *_, stop = read_chunk(path, start=0, end=end)
    assert (stop.line, stop.reason) == (10_002, "10,000 lines in a row held no article (lines "
                                                "2 to 10,001, each blank or rejected): the "
                                                "rest of this part of the file, to byte "
                                                f"{end:,}, is not read")
    # The next part, read on its own, still gives its record.
    (last,) = read_chunk(path, start=end, end=None, first_line=20_002)
    assert (last.line, last.body) == (20_002, "Record 2 says something new.")


def test_the_reader_keeps_the_records_before_the_unpacked_limit(tmp_path, monkeypatch):
    import gzip

    from storywire.transforms.read import inputs

    path = tmp_path / "feed.jsonl.gz"
    lines = [json.dumps({"text": f"record {n}"}).encode() + b"\n" for n in range(100)]
    path.write_bytes(gzip.compress(b"".join(lines)))
    monkeypatch.setattr(inputs, "MIN_UNPACKED_LIMIT_BYTES", 500)
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 64)
    monkeypatch.setattr(inputs, "MIN_LINE_COST_BYTES", 0)
    out = list(read_chunk(path))
    *records, stop = out
    assert [r.body for r in records] == [f"record {n}" for n in range(len(records))]
    assert sum(map(len, lines[:len(records)])) <= 500 < sum(map(len, lines[:len(records) + 1]))
    assert stop.line == len(records) + 1 and stop.stage == "read"
    assert stop.reason.startswith(f"stopped reading after {sum(map(len, lines[:stop.line])):,}"
                                  f" bytes in {stop.line} lines unpacked from ? packed: over "
                                  "100x the packed size")


def test_a_compressed_file_read_in_pieces_stops_where_a_whole_read_stops(tmp_path,
                                                                          monkeypatch):
    # Each piece is read from the file's start, its lines before it counted towards the
    # limit: the same records and the one reject, whichever piece the limit falls in.
    import gzip

    from storywire.transforms.read import inputs

    path = tmp_path / "feed.jsonl.gz"
    path.write_bytes(gzip.compress(record_lines(*range(300))))
    monkeypatch.setattr(inputs, "MAX_EXPANSION", 2)
    monkeypatch.setattr(inputs, "MIN_UNPACKED_LIMIT_BYTES", 4_000)
    monkeypatch.setattr(inputs, "MIN_LINE_COST_BYTES", 0)
    size = path.stat().st_size
    pieces = inputs.file_chunks(str(path), size, chunk_bytes=500)
    assert len(pieces) == inputs.MAX_PACKED_PIECES
    whole = list(inputs._ReadRecords()._read(inputs.InputChunk(str(path), size), "jsonl"))
    assert isinstance(whole[-1], Reject) and "decompression bomb" in whole[-1].reason
    stop = whole[-1].line
    read = [out for piece in pieces for out in inputs._ReadRecords()._read(piece, "jsonl")]
    assert read[:len(whole)] == whole
    # Each piece after the one it stops in says it is not read (none is lost unsaid).
    after = [piece for piece in pieces if piece.first_line > stop]
    assert after and [(r.line, r.reason.split(":")[0]) for r in read[len(whole):]] == [
        (p.first_line, f"lines {p.first_line:,} "
                       + ("on" if p.last_line is None else f"to {p.last_line:,}")
                       + " are not read") for p in after]


def test_a_compressed_file_reads_the_same_however_its_pieces_are_joined(tmp_path,
                                                                        monkeypatch):
    # A run in one piece joins a .jsonl.gz's pieces into 16, a run in parts into one for
    # each worker of a part. Where 10,000 lines in a row without an article end reading,
    # and which blank pieces are a reject, went by the joined pieces: the same file gave
    # other articles and rejects in one piece, in parts, and unpacked.
    import gzip

    from storywire.transforms.read import inputs

    monkeypatch.setattr(inputs, "MAX_LINES_WITHOUT_RECORD", 100)
    data = (record_lines(*range(40)) + b'{"not json\n' * 150 + record_lines(*range(40, 80))
            + b" " * 100 + b"\n" * 3000 + record_lines(*range(80, 120)))
    plain, packed = tmp_path / "feed.jsonl", tmp_path / "feed.jsonl.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))

    def read(pieces) -> list[tuple]:
        outs = [out for piece in pieces for out in inputs._ReadRecords()._read(piece, "jsonl")]
        return [(out.line, getattr(out, "body", None) or out.reason) for out in outs]

    fine = inputs.file_chunks(str(packed), packed.stat().st_size, 600, most_packed_pieces=None)
    unpacked = read(inputs.file_chunks(str(plain), plain.stat().st_size, 600))
    assert len(fine) > 8 and read(fine) == unpacked
    assert any("held no article" in what for _, what in unpacked)
    for most in (1, 2, 3, 16):
        assert read(inputs.joined(fine, most)) == unpacked, most
    # A decompression bomb's limit reached where reading a piece had stopped already: the
    # pieces after it were lost without a reject, and a joined piece said it stopped at
    # the wrong line.
    stop = next(line for line, what in unpacked if "held no article" in what)
    limit_line = stop + 5  # reached where reading that piece stopped already
    (stopped_in,) = [p for p in fine if p.first_line <= stop <= (p.last_line or stop)]
    assert limit_line <= stopped_in.last_line
    monkeypatch.setattr(inputs, "MAX_EXPANSION", 1)
    monkeypatch.setattr(inputs, "MIN_LINE_COST_BYTES", 0)
    monkeypatch.setattr(inputs, "MIN_UNPACKED_LIMIT_BYTES",
                        sum(len(line) + 1 for line in data.split(b"\n")[:limit_line - 1]))
    separately = read(fine)
    assert [what for line, what in separately if line == stop][0].startswith(
        "100 lines in a row held no article")
    assert [line for line, what in separately if "reading the file stopped" in what] == [
        p.first_line for p in fine if p.first_line > stopped_in.last_line]
    for most in (1, 2, 3, 16):
        assert read(inputs.joined(fine, most)) == separately, most


def test_a_small_compressed_file_is_cut_where_the_same_bytes_unpacked_are(tmp_path):
    # 80 KB packed, 5 MB unpacked: it was one piece, so 10,000 bad lines across where the
    # unpacked file is cut ended its reading, and the records after them were lost.
    import gzip

    from storywire.transforms.read.inputs import file_chunks

    data = record_lines(*range(10)) + b"{x\n" * 1_200_000 + record_lines(*range(10, 20))
    plain, packed = tmp_path / "feed.jsonl", tmp_path / "feed.jsonl.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    assert packed.stat().st_size < 100_000

    def cuts(path):
        return [(c.start, c.end, c.first_line, c.last_line)
                for c in file_chunks(str(path), path.stat().st_size)]

    assert len(cuts(plain)) == 2 and cuts(packed) == cuts(plain)


def test_a_piece_of_a_file_that_shrank_since_it_was_cut_is_one_reject_saying_so(tmp_path):
    # A feed rewritten while a run in parts read it: the later pieces read lines of the new
    # file as if they were where the old one had them, and one said "lines 101 to 100 of
    # the file are all blank".
    from storywire.transforms.read import inputs

    path = tmp_path / "feed.jsonl"
    path.write_bytes(record_lines(*range(130)))
    pieces = inputs.file_chunks(str(path), path.stat().st_size, 1000)
    # Rewritten with as many bytes in shorter lines, a piece holds more lines than it did
    # (not told apart from the file it was): they are read, as its bytes are.
    size = path.stat().st_size
    shorter = b"".join(json.dumps({"text": f"R{n}"}).encode() + b"\n" for n in range(size))
    path.write_bytes(shorter[:size - 1] + b"\n")
    first = list(inputs._ReadRecords()._read(pieces[0], "jsonl"))
    assert len(first) > pieces[0].last_line and all(isinstance(r, RawRecord) for r in first)
    path.write_bytes(record_lines(*range(40, 130)))
    (reject,) = inputs._ReadRecords()._read(pieces[-1], "jsonl")
    assert reject.line == pieces[-1].first_line and reject.reason == (
        f"the file is {path.stat().st_size:,} bytes, smaller than the "
        f"{pieces[-1].size:,} it was when the run cut it into pieces: it changed, and its "
        f"lines from {pieces[-1].first_line:,} are not read (a rerun reads it as it is now)")


@pytest.mark.parametrize("name", ["feed.jsonl", "feed.jsonl.gz"])
def test_a_piece_of_a_file_rewritten_larger_since_it_was_cut_is_one_reject_saying_so(
        tmp_path, name):
    # A feed rewritten, larger, while a run in parts read it: the later pieces read the new
    # file's bytes where the old one's lines had been, from the middle of a line, under the
    # old line numbers. A feed appended to still reads as it did.
    import gzip

    from storywire.transforms.read import inputs

    path = tmp_path / name
    write = ((lambda data: path.write_bytes(gzip.compress(data))) if name.endswith(".gz")
             else path.write_bytes)
    write(record_lines(*range(130)))
    pieces = inputs.file_chunks(str(path), path.stat().st_size, 1000, most_packed_pieces=None)
    assert len(pieces) > 3

    def read(piece) -> list:
        return list(inputs._ReadRecords()._read(piece, "jsonl"))

    write(record_lines(*range(130), *range(500, 520)))  # appended to
    appended = [out for piece in pieces for out in read(piece)]
    assert all(isinstance(out, RawRecord) for out in appended)
    assert [out.line for out in appended] == list(range(1, 151))
    def changed(piece) -> bool:
        (reject,) = read(piece)
        return reject.line == piece.first_line and reject.reason == (
            f"the file changed since the run cut it into pieces: it no longer holds, before "
            f"line {piece.first_line:,}, what it held there, so its lines from "
            f"{piece.first_line:,} are not read (a rerun reads it as it is now)")

    write(record_lines(*range(1000, 1300)))  # rewritten, longer lines and more of them
    assert all(isinstance(out, RawRecord) for out in read(pieces[0]))
    assert all(changed(piece) for piece in pieces[1:])
    # Records of one length that all end alike, three more put first: every line ends
    # where one ended, with the same bytes before it (the 32 bytes once compared).
    alike = [json.dumps({"id": f"a{n:06d}", "text": "The same words in every record.",
                         "source": "Valley Wire"}).encode() + b"\n" for n in range(303)]
    write(b"".join(alike[3:]))
    pieces = inputs.file_chunks(str(path), path.stat().st_size, 1000, most_packed_pieces=None)
    write(b"".join(alike))
    assert len(pieces) > 3 and all(changed(piece) for piece in pieces[1:])


def test_short_lines_count_at_their_cost_towards_the_unpacked_limit(tmp_path):
    import gzip

    # 2 KB on disk: a record, then 9,999 lines "1", again and again: no run of 10,000
    # lines without an article, and 1,000,000 lines in all. Each line counts as 1 KiB.
    path = tmp_path / "mixed.jsonl.gz"
    block = record_lines(1) + b"1\n" * 9_999
    path.write_bytes(gzip.compress(block * 100))
    out = list(read_chunk(path))
    *read, stop = out
    assert len(read) == 16 * 1024 and stop.line == 16 * 1024 + 1  # 16 MiB in 1 KiB lines
    assert sum(isinstance(r, RawRecord) for r in read) == 2
    assert stop.reason == (
        f"stopped reading after {(stop.line - 2) * 2 + 2 * len(record_lines(1)):,} bytes in "
        f"{stop.line:,} lines unpacked from ? packed: over 100x the packed size and over "
        "16 MiB, each line counted as 1,024 bytes at least (a decompression bomb?); lines "
        f"from {stop.line} on are not read")
    # A news feed's lines are longer than that: they count at their size.
    news = tmp_path / "news.jsonl.gz"
    news.write_bytes(gzip.compress(b"".join(
        json.dumps({"text": seed_text("000").replace("troops", f"troops ({n})")}).encode()
        + b"\n" for n in range(2_000))))
    assert sum(isinstance(r, RawRecord) for r in read_chunk(news)) == 2_000


def rejected(found) -> dict[str, str]:
    return {Path(f.input_uri).name: f.reason for f in found if isinstance(f, Reject)}


def files(found) -> list[str]:
    return [f.path for f in found if not isinstance(f, Reject)]


def test_pipes_sockets_and_devices_are_rejects_not_files(tmp_path):
    import socket

    (tmp_path / "a.txt").write_text("x")
    os.mkfifo(tmp_path / "pipe.jsonl")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "feed.sock"))
    (tmp_path / "null.txt").symlink_to("/dev/null")
    found = match_input_path(str(tmp_path))
    sock.close()
    assert files(found) == [str(tmp_path / "a.txt")]
    reasons = rejected(found)
    assert reasons["pipe.jsonl"].startswith("a named pipe (FIFO), not a regular file")
    assert reasons["feed.sock"].startswith("a socket")
    assert reasons["null.txt"].startswith("a character device")
    # Named directly too, never opened.
    (direct,) = match_input_path(str(tmp_path / "pipe.jsonl"))
    assert isinstance(direct, Reject) and direct.stage == "match"
    (device,) = match_input_path("/dev/null")
    assert "character device" in device.reason


def test_links_are_followed_and_loops_and_dangling_links_are_rejects(tmp_path):
    inbox, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    (inbox / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (inbox / "a.txt").write_text("x")
    (elsewhere / "b.txt").write_text("x")
    (inbox / "sub" / "linked").symlink_to(elsewhere)          # a folder elsewhere: listed
    (inbox / "c.txt").symlink_to(elsewhere / "b.txt")         # a file: read
    (inbox / "sub" / "up").symlink_to("..")                   # its own ancestor: a loop
    (inbox / "gone.txt").symlink_to("missing.txt")            # dangling
    (inbox / "loop1").symlink_to("loop2")                     # links that never end
    (inbox / "loop2").symlink_to("loop1")
    found = match_input_path(str(inbox))
    assert files(found) == [str(inbox / n) for n in ("a.txt", "c.txt", "sub/linked/b.txt")]
    reasons = rejected(found)
    assert set(reasons) == {"up", "gone.txt", "loop1", "loop2"}
    assert reasons["up"] == (f"symbolic link loop: leads back to the folder {str(inbox)!r} "
                             "it is in; not followed")
    assert reasons["gone.txt"].startswith("dangling symbolic link to 'missing.txt'")
    assert reasons["loop1"].startswith("symbolic link loop")
    assert all(f.stage == "match" for f in found if isinstance(f, Reject))
    # A glob sees the same things, filtered by the pattern.
    globbed = match_input_path(str(inbox / "*.txt"))
    assert files(globbed) == [str(inbox / "a.txt"), str(inbox / "c.txt")]
    assert set(rejected(globbed)) == {"gone.txt"}


def test_a_link_into_proc_is_one_reject_and_the_rest_of_the_folder_is_read(tmp_path):
    # /proc/self/root leads to "/", and /proc holds links that cannot even be read: a walk
    # into it used to make the whole --input one reject.
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "sub" / "b.txt").write_text("x")
    (tmp_path / "me").symlink_to("/proc/self")
    (tmp_path / "env.txt").symlink_to("/proc/self/environ")
    (tmp_path / "sub" / "devices").symlink_to("/sys/devices")
    found = match_input_path(str(tmp_path))
    assert files(found) == [str(tmp_path / "a.txt"), str(tmp_path / "sub" / "b.txt")]
    assert rejected(found) == {
        "me": "leads into /proc, a kernel filesystem (no articles there, and its links lead "
              "round the whole machine); not read",
        "env.txt": "leads into /proc, a kernel filesystem (no articles there, and its links "
                   "lead round the whole machine); not read",
        "devices": "leads into /sys, a kernel filesystem (no articles there, and its links "
                   "lead round the whole machine); not read"}
    (named,) = match_input_path("/proc")
    assert named.reason.startswith("in /proc, a kernel filesystem")


def test_each_entry_that_cannot_be_looked_at_is_a_reject_of_its_own(tmp_path, monkeypatch):
    for name in ("a.txt", "locked.txt", "z.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "gone.txt").symlink_to("deleted.txt")
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)

    def readlink(path, *args, **kwargs):
        # As when the link is removed between looking at it and reading where it leads.
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(os, "readlink", readlink)
    found = match_input_path(str(tmp_path))
    assert files(found) == [str(tmp_path / "a.txt"), str(tmp_path / "z.txt")]
    assert rejected(found) == {
        "gone.txt": "dangling symbolic link (no such file); not read",
        "locked.txt": "cannot look at it: Permission denied; not read"}


def test_an_empty_input_path_names_nothing_never_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "out").mkdir()
    assert match_input_path("") == [Reject("", None, None, "match", "empty input path: it "
                                           "names no file; nothing read")]
    assert match_input_path("", exclude="out") == match_input_path("")
    # Nor does it overlap the output folder.
    assert input_output_overlap(["", "a.txt"], "out") is None


def test_the_output_folder_is_not_input_however_it_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in" / "out" / "articles").mkdir(parents=True)
    (tmp_path / "in" / "a.txt").write_text("x")
    (tmp_path / "in" / "out" / "articles" / "part.parquet").write_text("x")
    (tmp_path / "in" / "out" / "note.txt").write_text("x")
    (tmp_path / "in" / "via-link").symlink_to(tmp_path / "in" / "out")
    (tmp_path / "in" / "log.txt").symlink_to(tmp_path / "in" / "out" / "note.txt")
    (tmp_path / "alias").symlink_to(tmp_path / "in")
    for output in ("in/out", "./in/out/", str(tmp_path / "alias" / "out"), "in/via-link"):
        assert files(match_input_path("in", exclude=output)) == ["in/a.txt"], output
        assert files(match_input_path("./in/*.txt", exclude=output)) == ["in/a.txt"]
    assert len(files(match_input_path("in"))) == 6  # without exclude, all of it


def test_inside_compares_real_local_paths_and_cloud_prefixes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "out").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "data")
    assert is_inside("data/out", "data") and is_inside("./data/out/", "link")
    assert is_inside("data", "data/") and not is_inside("data", "data/out")
    assert not is_inside("database", "data")
    assert is_inside("gs://b/in/out", "gs://b/in/") and not is_inside("gs://b/input", "gs://b/in")
    assert not is_inside("gs://b/in", "s3://b/in") and not is_inside("gs://b/in", "in")


def test_overlapping_input_and_output_say_so_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    note = input_output_overlap(["./"], "out/")
    assert note == ("--output out/ is inside --input ./: its files are not read as input",
                    False)
    assert input_output_overlap(["in/*.txt"], "in/out").fatal is False
    for inputs, output in ((["out/inbox"], "out"), (["in"], "in/"), (["in/x*.txt"], "in"),
                           (["seeds", "gs://b/out/in"], "gs://b/out")):
        problem = input_output_overlap(inputs, output)
        assert problem.fatal and "is inside --output" in problem.message, inputs
    assert input_output_overlap(["in", "gs://b/in"], "out") is None


def test_rows_store_names_that_are_not_utf8_as_escapes():
    name = os.fsdecode(b"in/bad\xff.txt")
    row = storable_row({"input_uri": name, "reason": f"at {name}: no \ud800 here",
                        "sources": [name, "ok"], "line": 3})
    assert row == {"input_uri": "in/bad\\xff.txt", "reason": "at in/bad\\xff.txt: no "
                   "\\ud800 here", "sources": ["in/bad\\xff.txt", "ok"], "line": 3}
    row["input_uri"].encode("utf-8")  # storable


def test_a_jsonl_file_with_lines_ended_by_cr_alone_says_so():
    # One reject saying "Extra data", and no word of the line ends.
    reject = parse_jsonl_line('{"id": "a", "text": "x"}\r{"id": "b", "text": "y"}\r', "f.jsonl", 1)
    assert reject.reason.startswith("invalid JSON: Extra data")
    assert "if the file's lines end in \\r alone, convert them to \\n" in reject.reason
    assert "carriage" not in parse_jsonl_line('{"id": "a"', "f.jsonl", 1).reason


def test_a_file_named_twice_is_said_to_be_read_twice_not_kept_at_itself():
    from storywire.transforms.read.unique import first_per_id
    from storywire.transforms.records import RawRecord

    same = [RawRecord("a", "in/feed.jsonl", 3, "text", "Body."),
            RawRecord("a", "in/feed.jsonl", 3, "text", "Body.")]
    kept, (reject,) = first_per_id(same)
    assert reject.reason == ("duplicate article_id 'a': in/feed.jsonl:3 was read twice (its "
                             "file is named by two --input paths); it is kept once")
    other = RawRecord("a", "in/later.jsonl", 1, "text", "Another body.")
    kept, (reject,) = first_per_id([other, same[0]])
    assert kept is same[0]
    assert reject.reason == "duplicate article_id 'a': the record at in/feed.jsonl:3 is kept"


def test_a_jsonl_file_or_piece_with_nothing_to_read_is_a_reject(tmp_path):
    # A blank file cut into pieces: each piece says so (none started the file whole).
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes((b" " * 99 + b"\n") * 30)
    chunks = file_chunks(str(blank), blank.stat().st_size, chunk_bytes=1000)
    assert len(chunks) == 3
    reasons = [(r.line, r.reason) for chunk in chunks
               for r in _ReadRecords()._read_jsonl(chunk)]
    assert reasons == [(1, "lines 1 to 10 of the file are all blank"),
                       (11, "lines 11 to 20 of the file are all blank"),
                       (21, "lines 21 to 30 of the file are all blank")]
    one = tmp_path / "one.jsonl"
    one.write_bytes(b"\n")
    ((reject,),) = [list(_ReadRecords()._read_jsonl(c)) for c in file_chunks(str(one), 1)]
    assert reject.reason == "file holds only blank lines (1 line)"
