"""Limits on numbers and dates people type or edit in URLs, checked before any query.

PostgreSQL's integer ids stop at 2**31 - 1 ("integer out of range" otherwise), and Python's
dates at 9999-12-31 (the day after it cannot be computed): past these, a query fails with a
500 instead of finding nothing. Values outside are refused with a message instead.
"""

from datetime import date, datetime

MAX_ID = 2**31 - 1
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."


def id_in_range(value: int) -> bool:
    return 0 < value <= MAX_ID


def parse_id(raw: str) -> int:
    """A row id from a URL or form; ValueError when it is not one (sign, spaces, huge, non-ASCII digits)."""
    if not raw.isascii() or not raw.isdigit() or not id_in_range(int(raw)):
        raise ValueError(f"not an id between 1 and {MAX_ID}")
    return int(raw)


def date_in_range(value: date) -> bool:
    return EARLIEST_DATE <= value <= LATEST_DATE


def parse_cursor_time(raw: str) -> datetime:
    """A cursor's timestamp: ISO, without a time zone (we store naive UTC), within the date range."""
    stamp = datetime.fromisoformat(raw)
    if stamp.tzinfo is not None or not date_in_range(stamp.date()):
        raise ValueError("cursor time out of range")
    return stamp
