"""Which zone a person reads times in, and a UTC moment shown in it."""

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC_NAME = "UTC"


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone the system knows, sorted; the only values a profile may hold."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == UTC_NAME))


def valid_zone(name: str | None) -> str | None:
    """`name` if it is a known IANA zone, else None (never raises on hostile input)."""
    if not name or len(name) > 64 or name not in zone_names():
        return None
    return name


def effective_zone(profile_zone: str | None, browser_zone: str | None) -> str:
    """The profile's zone, else the browser's, else UTC."""
    return valid_zone(profile_zone) or valid_zone(browser_zone) or UTC_NAME


def to_zone(value: datetime, zone_name: str) -> datetime:
    """A stored moment (naive UTC, as the models keep them) in the named zone."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone)
