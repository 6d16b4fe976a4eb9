"""When a specialist can answer: weekly hours in their own zone, absences, today's load.

Plain functions over plain values (no Flask, no database): services/specialist_board.py loads
the rows and the counts and calls these. Every moment is compared in UTC, because Python
compares two datetimes of the same zone by wall clock, which is wrong across a DST change.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_ABBREVIATIONS = tuple(name[:3].title() for name in DAY_NAMES)
MINUTES_PER_DAY = 24 * 60
LOOK_AHEAD_DAYS = 60  # "back ..." is searched this far; beyond it the text says "not back soon"

# Hours as admins type them, in the specialist's zone: "Mon-Fri 09:00-17:00; Sat 10:00-13:00".
_SEGMENT = re.compile(
    r"^(?P<days>[A-Za-z]+(?:\s*-\s*[A-Za-z]+)?(?:\s*,\s*[A-Za-z]+(?:\s*-\s*[A-Za-z]+)?)*)"
    r"\s+(?P<times>[0-9].*)$"
)
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")

WeeklyHours = dict[int, list[tuple[int, int]]]  # weekday (0 = Monday) -> [(start, end) minutes]


class HoursError(ValueError):
    """Working hours that cannot be read, with a sentence saying what to write instead."""


def parse_hours(text: str) -> WeeklyHours:
    """ "Mon-Fri 09:00-12:00, 13:00-17:00; Sat 10:00-13:00" -> {0: [(540, 720), (780, 1020)], ...}.

    Segments are separated by ";" or new lines; a range ends before midnight or at 24:00 (a
    night shift is two segments: "Mon 22:00-24:00; Tue 00:00-06:00")."""
    hours: WeeklyHours = {}
    for segment in filter(None, (part.strip() for part in re.split(r"[;\n]", text or ""))):
        match = _SEGMENT.match(segment)
        if not match:
            raise HoursError(f"Cannot read {segment!r}: write days then times, e.g. Mon-Fri 09:00-17:00.")
        days = _days(match["days"], segment)
        ranges = [_minutes_range(part.strip(), segment) for part in match["times"].split(",")]
        for day in days:
            hours.setdefault(day, []).extend(ranges)
    for day, ranges in hours.items():
        ranges.sort()
        for (_, end), (start, _) in zip(ranges, ranges[1:]):
            if start < end:
                raise HoursError(f"The hours given for {DAY_ABBREVIATIONS[day]} overlap.")
    return hours


def _day_number(word: str, segment: str) -> int:
    word = word.lower()
    for number, name in enumerate(DAY_NAMES):
        if len(word) >= 3 and name.startswith(word):
            return number
    raise HoursError(f"{word!r} in {segment!r} is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun.")


def _days(text: str, segment: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = (piece.strip() for piece in part.partition("-"))
        start = _day_number(first, segment)
        end = _day_number(last, segment) if last else start
        days.extend((start + offset) % 7 for offset in range((end - start) % 7 + 1))  # Fri-Mon wraps
    return days


def _minutes_range(text: str, segment: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    if not match:
        raise HoursError(f"Cannot read the times {text!r} in {segment!r}: write them as 09:00-17:00.")
    sh, sm, eh, em = (int(group) for group in match.groups())
    start, end = sh * 60 + sm, eh * 60 + em
    if sm > 59 or em > 59 or start >= MINUTES_PER_DAY or end > MINUTES_PER_DAY:
        raise HoursError(f"{text!r} is not a time of day (00:00 to 24:00).")
    if end <= start:
        raise HoursError(
            f"{text!r} ends before it starts: split a night shift at midnight (Mon 22:00-24:00; Tue 00:00-06:00)."
        )
    return start, end


def format_hours(hours: WeeklyHours) -> str:
    """The stored form: days with the same hours grouped, "Mon-Fri 09:00-17:00; Sat 10:00-13:00"."""
    segments, day = [], 0
    while day < 7:
        ranges = hours.get(day)
        if not ranges:
            day += 1
            continue
        last = day
        while last + 1 < 7 and hours.get(last + 1) == ranges:
            last += 1
        days = DAY_ABBREVIATIONS[day] if last == day else f"{DAY_ABBREVIATIONS[day]}-{DAY_ABBREVIATIONS[last]}"
        segments.append(f"{days} {', '.join(f'{_hhmm(s)}-{_hhmm(e)}' for s, e in ranges)}")
        day = last + 1
    return "; ".join(segments)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def zone_of(name: str | None) -> ZoneInfo | None:
    """The IANA zone, or None when it is not set or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class AbsenceDays:
    """Away from starts_on to ends_on, both included, as dates in the specialist's zone."""

    starts_on: date
    ends_on: date
    stand_in: str | None = None


@dataclass(frozen=True)
class Availability:
    state: str  # "available", "off_hours", "on_leave" or "unknown" (no zone or no hours)
    text: str  # what the agent reads: "available now", "back Monday 09:00 (their time)", ...
    next_start: datetime | None = None  # when they are next at work, in their zone
    until: date | None = None  # last day of the absence under way
    stand_in: str | None = None

    @property
    def is_working(self) -> bool:
        return self.state == "available"

    @property
    def is_off(self) -> bool:
        """Known not to be at work now (the send asks for a confirmation)."""
        return self.state in ("off_hours", "on_leave")


def _as_utc(moment: datetime) -> datetime:
    """Naive moments are UTC, as the models store them."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def wall_to_utc(day: date, minutes: int, zone) -> datetime:
    """A wall-clock time of a day in the zone as a UTC moment (24:00 is the next day's 00:00).

    A time the clocks skip (02:30 on Berlin's spring change) is the moment they jump (03:00):
    zoneinfo alone would read it with the old offset, i.e. 03:30, half an hour late."""
    day, minutes = (day + timedelta(days=1), 0) if minutes >= MINUTES_PER_DAY else (day, minutes)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone) == local:  # same tzinfo: compared by wall clock, so False only in a gap
        return moment
    return _jump_between(local.replace(fold=1).astimezone(UTC), moment, zone)


def _jump_between(before: datetime, after: datetime, zone) -> datetime:
    """The first second of the new offset, found by halving [before, after) in whole seconds."""
    offset = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if datetime.fromtimestamp(middle, zone).utcoffset() == offset else (middle, high)
    return datetime.fromtimestamp(high, UTC)


def _absence_on(day: date, absences: list[AbsenceDays]) -> AbsenceDays | None:
    return next((a for a in absences if a.starts_on <= day <= a.ends_on), None)


def _away_until(absence: AbsenceDays, absences: list[AbsenceDays]) -> date:
    """The last day of the leave under way: absences that overlap it or follow it without a day
    between are one leave to the customer ("until 3 Dec" then "until 10 Dec" would be untrue)."""
    until = absence.ends_on
    while until < date.max and (following := _absence_on(until + timedelta(days=1), absences)) is not None:
        until = following.ends_on
    return until


def next_start(hours: WeeklyHours, zone, absences: list[AbsenceDays], now: datetime) -> datetime | None:
    """The next moment after `now` that a working range begins on a day they are not away."""
    now = _as_utc(now)
    today = now.astimezone(zone).date()
    for offset in range(LOOK_AHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if _absence_on(day, absences):
            continue
        for start, _ in hours.get(day.weekday(), []):
            begins = wall_to_utc(day, start, zone)
            if begins > now:
                return begins.astimezone(zone)
    return None


def today_in_zone(now: datetime, zone_name: str | None) -> date:
    """The specialist's date now (their zone, UTC when unset)."""
    return _as_utc(now).astimezone(zone_of(zone_name) or UTC).date()


def status_at(now: datetime, zone_name: str | None, hours: WeeklyHours, absences: list[AbsenceDays]) -> Availability:
    """Available now, off until their next start, on leave (with the stand-in), or unknown."""
    now = _as_utc(now)
    zone = zone_of(zone_name)
    local_today = now.astimezone(zone or UTC).date()
    absence = _absence_on(local_today, absences)
    if zone is None or not hours:
        if absence:
            return _on_leave(absence, _away_until(absence, absences), None, local_today)
        return Availability("unknown", "working hours not set" if zone else "time zone not set")
    if absence:
        return _on_leave(absence, _away_until(absence, absences), next_start(hours, zone, absences, now), local_today)
    for start, end in hours.get(local_today.weekday(), []):
        if wall_to_utc(local_today, start, zone) <= now < wall_to_utc(local_today, end, zone):
            return Availability("available", "available now")
    upcoming = next_start(hours, zone, absences, now)
    return Availability(
        "off_hours",
        f"back {when(upcoming, local_today)} (their time)" if upcoming else "no working hours in the next weeks",
        next_start=upcoming,
    )


def _on_leave(absence: AbsenceDays, until: date, upcoming: datetime | None, today: date) -> Availability:
    """Today's absence names the stand-in; `until` is the last day of the whole leave."""
    text = f"on leave until {short_date(until, today)}"
    if absence.stand_in:
        text += f", stand-in: {absence.stand_in}"
    return Availability("on_leave", text, next_start=upcoming, until=until, stand_in=absence.stand_in)


def short_date(day: date, today: date) -> str:
    """ "3 Dec", with the year when it is not this year's."""
    text = f"{day.day} {day.strftime('%b')}"
    return text if day.year == today.year else f"{text} {day.year}"


def when(moment: datetime, today: date) -> str:
    """ "today 13:00", "Monday 09:00" within the week, "Mon 14 Dec 09:00" beyond it."""
    days_ahead = (moment.date() - today).days
    clock = moment.strftime("%H:%M")
    if days_ahead == 0:
        return f"today {clock}"
    if days_ahead < 7:
        return f"{DAY_NAMES[moment.weekday()].title()} {clock}"
    return f"{DAY_ABBREVIATIONS[moment.weekday()]} {short_date(moment.date(), today)} {clock}"


def day_bounds(now: datetime, zone_name: str | None) -> tuple[datetime, datetime]:
    """The specialist's today (their zone, UTC when unset) as naive UTC [start, end) for queries."""
    zone, today = zone_of(zone_name) or UTC, today_in_zone(now, zone_name)
    start = wall_to_utc(today, 0, zone)
    end = wall_to_utc(today + timedelta(days=1), 0, zone)
    return start.replace(tzinfo=None), end.replace(tzinfo=None)


def load_text(count: int, capacity: int | None) -> str:
    """ "2 of 8 today", or "2 today" when no capacity is set."""
    return f"{count} of {capacity} today" if capacity else f"{count} today"


def over_capacity(count: int, capacity: int | None) -> bool:
    """One more card would go past the day's capacity."""
    return capacity is not None and count >= capacity


def intro_phrase(availability: Availability, zone_name: str | None) -> str:
    """What {next_available} becomes in the introduction the customer reads."""
    if availability.state == "available":
        return "now"
    if availability.next_start is None:
        # No working day within LOOK_AHEAD_DAYS: a long leave says when it ends rather than "soon".
        until = availability.until
        return f"after {until.day} {until:%B %Y}" if until else "soon"
    moment = availability.next_start
    # The customer reads it: "America/Sao Paulo", as the admin's list shows zones, not "Sao_Paulo".
    return f"{moment:%A} {moment.day} {moment:%B}, {moment:%H:%M} ({zone_name.replace('_', ' ')} time)"
