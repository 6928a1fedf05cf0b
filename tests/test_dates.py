"""Date strings to UTC datetimes."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from storywire.transforms.clean.dates import parse_date, parse_loose_date


def test_full_dates_and_times():
    assert parse_date("2024-10-28") == datetime(2024, 10, 28, tzinfo=timezone.utc)
    assert parse_date("October 29, 2024 10:00 AM") == datetime(2024, 10, 29, 10,
                                                                tzinfo=timezone.utc)
    assert parse_date("2025-02-03T08:15:00+01:00") == datetime(2025, 2, 3, 7, 15,
                                                               tzinfo=timezone.utc)


def test_partial_dates_are_no_dates():
    # Without a year, month or day the parser would fill in today's: that is no date.
    for value in ("10:00 AM", "Nov 20", "Monday", "2024", "November 2019"):
        assert parse_date(value) is None, value


def test_garbage():
    for value in ("", "not a date", "x" * 500, None, "1850-01-01", "9999-12-31", "2100-01-01"):
        assert parse_date(value) is None, value


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2099, 12, 30),
                    timezones=st.one_of(st.none(), st.builds(timezone, st.integers(
                        -14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))))),
       st.sampled_from(["T", " "]), st.booleans())
def test_iso_dates_read_fast_as_dateutil_reads_them(when, separator, as_z):
    when = when.replace(microsecond=0)
    text = when.isoformat(sep=separator)
    if as_z and when.utcoffset() == timedelta(0):
        text = text.replace("+00:00", "Z")
    loose = parse_loose_date(text)
    if loose is not None and loose.tzinfo is None:
        loose = loose.replace(tzinfo=timezone.utc)
    expected = loose.astimezone(timezone.utc) if loose is not None else None
    if expected is not None and not (datetime(1900, 1, 1, tzinfo=timezone.utc) <= expected
                                     < datetime(2100, 1, 1, tzinfo=timezone.utc)):
        expected = None
    assert parse_date(text) == expected
    assert parse_date(when.date().isoformat()) == datetime(
        when.year, when.month, when.day, tzinfo=timezone.utc)


def test_zone_names_as_feeds_write_them():
    # RSS dates name their zone: "10:00 EDT" was stored as 10:00 UTC, four hours off.
    utc = timezone.utc
    assert parse_date("Mon, 28 Oct 2024 10:00:00 EDT") == datetime(2024, 10, 28, 14, tzinfo=utc)
    assert parse_date("Oct 28, 2024 10:00 AM PST") == datetime(2024, 10, 28, 18, tzinfo=utc)
    assert parse_date("2024-10-28 10:00 CEST") == datetime(2024, 10, 28, 8, tzinfo=utc)
    assert parse_date("28 Oct 2024 10:00 GMT") == datetime(2024, 10, 28, 10, tzinfo=utc)
    # A name with its offset means the offset: dateutil read "GMT+5:30" as 5:30 behind.
    assert parse_date("Oct 29, 2024 10:00 GMT+5:30") == datetime(2024, 10, 29, 4, 30, tzinfo=utc)
    assert parse_date("2024-10-29 10:00 IST+0530") == datetime(2024, 10, 29, 4, 30, tzinfo=utc)
    assert parse_date("29 Oct 2024 10:15:00 UTC+2") == datetime(2024, 10, 29, 8, 15, tzinfo=utc)
    # JavaScript's Date.toString(), its long zone name and all.
    for js in ("Tue Oct 29 2024 10:15:00 GMT-0400",
               "Tue Oct 29 2024 10:15:00 GMT-0400 (Eastern Daylight Time)"):
        assert parse_date(js) == datetime(2024, 10, 29, 14, 15, tzinfo=utc)
    # Zones in brackets; months and AM/PM before a dash are no zone names.
    for bracketed in ("Tuesday, October 29, 2024 10:15 AM (IST)",
                      "Oct 29, 2024 10:15 AM IST (GMT+5:30)"):
        assert parse_date(bracketed) == datetime(2024, 10, 29, 4, 45, tzinfo=utc)
    assert parse_date("Oct 29, 2024 10:00 PM-05:00") == datetime(2024, 10, 30, 3, tzinfo=utc)
    assert parse_date("29-OCT-2024 10:00") == datetime(2024, 10, 29, 10, tzinfo=utc)
    # A long name alone is no zone storywire knows: no date rather than a guess.
    assert parse_date("29 Oct 2024 10:15 (Eastern Time)") is None
    # Email's offset with its zone in brackets; months in capitals; brackets that hold no
    # zone; a dateline's place before a date is no zone.
    assert parse_date("Tue, 29 Oct 2024 10:00:00 -0700 (PDT)") == datetime(2024, 10, 29, 17,
                                                                           tzinfo=utc)
    assert parse_date("29 Oct 2024 10:00:00 +0530 (IST)") == datetime(2024, 10, 29, 4, 30,
                                                                      tzinfo=utc)
    for capitals in ("29-OCTOBER-2024 10:00", "OCTOBER-29-2024 10:00"):
        assert parse_date(capitals) == datetime(2024, 10, 29, 10, tzinfo=utc)
    assert parse_date("JUNE-29-2024 10:00") == datetime(2024, 6, 29, 10, tzinfo=utc)
    assert parse_date("29 Oct 2024 10:00 (AP)") is None
    assert parse_date("NEW DELHI-29.10.2024 10:00") is None
    # Runs of capitals are read once through: each of these took seconds (each two more
    # capitals four times longer), and a longer one would stall a worker.
    for shouting in ("BREAKING NEWS FROM THE WHITE HOUSE TODAY",
                     "29 Oct 2024 " + "A" * 24 + "+", "A B C D E F G H I J K L M N O P+"):
        assert parse_date(shouting) is None
    # IST as the Indian press prints it (India, +5:30), not Israel's (+2); IDT is Israel's.
    assert parse_date("Oct 29, 2024 10:00 AM IST") == datetime(2024, 10, 29, 4, 30, tzinfo=utc)
    assert parse_date("Oct 29, 2024 10:00 AM IDT") == datetime(2024, 10, 29, 7, tzinfo=utc)
    # A name no table knows is taken as UTC, as a date without a zone is.
    assert parse_date("28 Oct 2024 10:00 XYZ") == datetime(2024, 10, 28, 10, tzinfo=utc)


def test_an_offset_of_a_day_or_more_is_no_date_not_an_error():
    # It raised, and the whole article became a reject.
    for value in ("2024-10-28T10:00:00-24:00", "28 Oct 2024 10:00 -2400",
                  "2024-10-28T10:00:00+25:00"):
        assert parse_date(value) is None, value


def test_seconds_and_milliseconds_since_1970():
    when = datetime(2024, 10, 27, 3, 33, 20, tzinfo=timezone.utc)
    assert parse_date("1730000000") == when
    assert parse_date("1730000000123") == when + timedelta(milliseconds=123)
    assert parse_date("1730000000.5") == when + timedelta(milliseconds=500)
    assert parse_date("1730000000123.0") == when + timedelta(milliseconds=123)  # a JS float
    assert parse_date("9999999999") is None  # 2286: out of range, as any date would be
    assert parse_date("0000000000") is None  # a placeholder, not 1970
    assert parse_date("０１７３００００００００") is None  # full-width digits are no count
    # Compact dates stay dates: they were read as milliseconds (1976) or seconds (2034).
    assert parse_date("20241028") == datetime(2024, 10, 28, tzinfo=timezone.utc)
    assert parse_date("202410281030") == datetime(2024, 10, 28, 10, 30, tzinfo=timezone.utc)
    assert parse_date("2024102810") is None  # a date and hour no parser reads: not 2034
