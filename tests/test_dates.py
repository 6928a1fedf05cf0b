"""Date strings to UTC datetimes."""

from datetime import datetime, timezone

from storywire.transforms.dates import parse_date


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
