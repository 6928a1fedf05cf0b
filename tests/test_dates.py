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
