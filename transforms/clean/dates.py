"""Date strings to timezone-aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from dateutil import parser as dateparser

# Dates outside these are typos or placeholders ("9999-12-31"), taken as no date. The bound
# is fixed, not "now": the same record gives the same row on every run.
_EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


# Seconds or milliseconds since 1970, as feeds export them: "1730000000", "1730000000.5",
# "1730000000123", "1730000000123.0" (JavaScript's Date.now()). Ten digits that read as a
# compact date and hour ("2024102810") are no such count (nor a date any parser reads),
# and other lengths are dates or nothing ("20241028", "202410281030" are dates).
_EPOCH = re.compile(r"([0-9]{9,10}|[0-9]{13})(\.[0-9]+)?")


def parse_date(value: str | None) -> datetime | None:
    """Parse a date or date-time string; None when it is not one.

    A value without a time zone is taken as UTC; a zone named by its abbreviation ("EDT",
    "CET") is read as dateparser's table of them reads it. The result is always UTC. Dates
    before 1900 or from 2100 on are no date.
    """
    if not value or not isinstance(value, str) or len(value) > 100:
        return None
    text = value.strip()
    epoch = _EPOCH.fullmatch(text)
    if epoch and not _compact_date(epoch.group(1)):
        seconds = float(text) / (1000 if len(epoch.group(1)) == 13 else 1)
        if not seconds:
            return None  # 0: a placeholder, not 1970
        parsed = datetime.fromtimestamp(seconds, timezone.utc)
        return parsed if _EARLIEST <= parsed < _LATEST else None
    try:
        # ISO 8601, what most feeds carry: Python's own parser, many times faster than
        # dateutil's (which took a tenth of the time of cleaning a plain-text article).
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = parse_loose_date(text)
    if parsed is None:
        return None
    try:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # an offset of a day or more ("-24:00"): no zone
        return None
    return parsed if _EARLIEST <= parsed < _LATEST else None


def _compact_date(digits: str) -> bool:
    """Whether ten digits read as a date and hour, YYYYMMDDHH, in the years dates are kept."""
    if len(digits) != 10:
        return False
    year, month, day, hour = (int(digits[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10)))
    return 1900 <= year < 2100 and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24


# Abbreviations that name several zones, read as news means them where dateparser's table
# says otherwise: "IST" is India's, Israel's and Ireland's; the table says Israel, but
# it is the Indian press that prints every time in IST.
NEWS_ZONES = {"IST": timezone(timedelta(hours=5, minutes=30))}


def _zone(name: str, offset: int | None):
    """The zone dateutil found named in a date ("EDT"), from dateparser's table of zone
    abbreviations (NEWS_ZONES first); None (taken as UTC) for a name it does not know.
    dateutil alone knows only UTC and the machine's own zone, and took "10:00 EDT" as
    10:00 UTC."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    if not name:
        return None  # no zone given: taken as UTC
    if name.upper() in NEWS_ZONES:
        return NEWS_ZONES[name.upper()]
    from dateparser.timezone_parser import pop_tz_offset_from_string

    rest, zone = pop_tz_offset_from_string(f" {name}")  # it finds names after a space
    return zone if zone is not None and not rest.strip() else None


# Zones as feeds and pages write them, made plain for dateutil, which reads a name
# followed by an offset the POSIX way ("GMT+3" three hours behind, "GMT-0400" four ahead):
# - a name with its offset ("GMT+5:30", "UTC-4", "IST+0530", "IST GMT+5:30"): the offset;
# - an offset with a name in brackets (email's "+0000 (UTC)", JavaScript's "GMT-0400
#   (Eastern Daylight Time)"): the offset;
# - a zone in brackets ("(IST)", "(GMT+5:30)"): without them, when it is a zone.
# A name is a word of one to five capitals, never a month, a day, AM or PM ("29-OCT-2024",
# "10:00 PM-05:00"); an offset ends the string or is followed by a space, a bracket or a
# comma ("DELHI-29.10.2024" holds none). Each pattern matches a string one way only, so it
# takes time in proportion to the string's length.
_OFFSET = r"[+-]\d{1,2}(?::?\d{2})?(?=[\s),;]|$)"
_NOT_ZONES = ("AM|PM|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEPT?|OCT|NOV|DEC|MARCH|APRIL|JUNE|"
              "JULY|MON|TUES?|WED|THU|THURS|FRI|SAT|SUN")
_NAME = rf"(?!(?:{_NOT_ZONES})\b)[A-Z]{{1,5}}\b"
_NAME_AFTER_OFFSET = re.compile(rf"({_OFFSET})\s*\([A-Za-z][A-Za-z .'-]*\)")
_BRACKETED_ZONE = re.compile(rf"\(\s*((?:GMT|UTC)?\s*{_OFFSET}|{_NAME})\s*\)")
_NAMES_BEFORE_OFFSET = re.compile(rf"\b(?:{_NAME}\s*)+(?={_OFFSET})")


def plain_zone(text: str) -> str:
    """A date string with its zone written as dateutil reads it right (see above)."""
    if "(" in text:
        text = _NAME_AFTER_OFFSET.sub(r"\1", text)
        text = _BRACKETED_ZONE.sub(_unbracketed, text)
    return _NAMES_BEFORE_OFFSET.sub("", text)


def _unbracketed(match: re.Match) -> str:
    zone = match.group(1).strip()
    offset = zone[-1].isdigit()
    return f" {zone}" if offset or zone in ("UTC", "GMT") or _zone(zone, None) else match.group()


def parse_loose_date(text: str) -> datetime | None:
    """Any date format dateutil reads ("Nov 20, 2024 10:00 AM"), as given (naive or
    aware); None for a string that is no complete date."""
    text = plain_zone(text)
    try:
        # Parsed against two different defaults: a string that lacks its year, month or
        # day ("10:00 AM", "Nov 20") takes them from the default, and is no date.
        parsed = dateparser.parse(text, fuzzy=False, default=_DEFAULTS[0], tzinfos=_zone)
        other = dateparser.parse(text, fuzzy=False, default=_DEFAULTS[1], tzinfos=_zone)
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed if parsed.date() == other.date() else None
