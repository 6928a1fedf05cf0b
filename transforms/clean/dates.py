"""Date strings to timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import datetime, timezone

from dateutil import parser as dateparser

# Dates outside these are typos or placeholders ("9999-12-31"), taken as no date. The bound
# is fixed, not "now": the same record gives the same row on every run.
_EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


def parse_date(value: str | None) -> datetime | None:
    """Parse a date or date-time string; None when it is not one.

    A value without a time zone is taken as UTC. The result is always UTC. Dates before
    1900 or from 2100 on are no date.
    """
    if not value or not isinstance(value, str) or len(value) > 100:
        return None
    text = value.strip()
    try:
        # ISO 8601, what most feeds carry: Python's own parser, many times faster than
        # dateutil's (which took a tenth of the time of cleaning a plain-text article).
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = parse_loose_date(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    return parsed if _EARLIEST <= parsed < _LATEST else None


def parse_loose_date(text: str) -> datetime | None:
    """Any date format dateutil reads ("Nov 20, 2024 10:00 AM"), as given (naive or
    aware); None for a string that is no complete date."""
    try:
        # Parsed against two different defaults: a string that lacks its year, month or
        # day ("10:00 AM", "Nov 20") takes them from the default, and is no date.
        parsed = dateparser.parse(text, fuzzy=False, default=_DEFAULTS[0])
        other = dateparser.parse(text, fuzzy=False, default=_DEFAULTS[1])
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed if parsed.date() == other.date() else None
