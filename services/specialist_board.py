"""Each specialist's availability and load now: loads what services/availability.py needs.

The picker, the suggestion, the send rules and the API all read this one view, so "available"
means the same everywhere.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from models import Absence, Handoff, Specialist, db, utcnow
from services import availability, languages
from services.send_rules import MAY_HAVE_REACHED


@dataclass(frozen=True)
class SpecialistNow:
    specialist: Specialist
    availability: availability.Availability
    handoffs_today: int

    @property
    def capacity(self) -> int | None:
        return self.specialist.daily_capacity

    @property
    def over_capacity(self) -> bool:
        return availability.over_capacity(self.handoffs_today, self.capacity)

    @property
    def load_text(self) -> str:
        return availability.load_text(self.handoffs_today, self.capacity)

    @property
    def unavailable_reason(self) -> str | None:
        """Why a card now needs a confirmation: on_leave, off_hours, over_capacity, or None."""
        if self.availability.is_off:
            return self.availability.state
        return "over_capacity" if self.over_capacity else None

    @property
    def text(self) -> str:
        """ "available now · 2 of 8 today" for the picker."""
        return f"{self.availability.text} · {self.load_text}"

    def json(self) -> dict:
        moment = self.availability.next_start
        return {
            "state": self.availability.state,
            "text": self.availability.text,
            "next_available_at": moment.isoformat() if moment else None,
            "on_leave_until": self.availability.until.isoformat() if self.availability.until else None,
            "stand_in": self.availability.stand_in,
            "handoffs_today": self.handoffs_today,
            "over_capacity": self.over_capacity,
        }


def filtered(
    board_now: dict[int, "SpecialistNow"],
    *,
    available_now: bool = False,
    language: str | None = None,
    skill: str | None = None,
) -> list["SpecialistNow"]:
    """The API's filters: at work now and under today's capacity; speaks the language (same primary
    language); has the skill among their tags (case ignored)."""

    def keep(entry: SpecialistNow) -> bool:
        if available_now and (not entry.availability.is_working or entry.over_capacity):
            return False
        if language and not languages.speaks(entry.specialist.language_list, language):
            return False
        return not skill or skill.lower() in (tag.lower() for tag in entry.specialist.tag_list)

    return [entry for entry in board_now.values() if keep(entry)]


def _parsed_hours(specialist: Specialist) -> availability.WeeklyHours:
    try:
        return availability.parse_hours(specialist.working_hours or "")
    except availability.HoursError:
        return {}  # the form stores only what it could read; a hand-edited row counts as "not set"


def board(specialists: list[Specialist], now: datetime | None = None) -> dict[int, SpecialistNow]:
    """{specialist id: availability and today's count}, in three queries whatever the number."""
    now = now or utcnow()
    ids = [s.id for s in specialists]
    if not ids:
        return {}
    absences = _absences(ids, now)
    counts = _counts_today(specialists, now)
    return {
        s.id: SpecialistNow(
            s, availability.status_at(now, s.time_zone, _parsed_hours(s), absences.get(s.id, [])), counts.get(s.id, 0)
        )
        for s in specialists
    }


def one(specialist: Specialist, now: datetime | None = None) -> SpecialistNow:
    return board([specialist], now)[specialist.id]


def current_absences(ids: list[int], now: datetime) -> dict[int, list[Absence]]:
    """Absences that have not ended (a day of slack: dates are in each specialist's own zone)."""
    rows = db.session.scalars(
        select(Absence)
        .options(selectinload(Absence.stand_in))
        .where(Absence.specialist_id.in_(ids), Absence.ends_on >= (now.date() - timedelta(days=1)))
        .order_by(Absence.starts_on)
    ).all()
    found: dict[int, list[Absence]] = {}
    for row in rows:
        found.setdefault(row.specialist_id, []).append(row)
    return found


def absences_not_over(board_now: dict[int, SpecialistNow], now: datetime) -> dict[int, list[Absence]]:
    """Each specialist's absences whose last day is today or later in their own zone (the API lists these)."""
    found = current_absences(list(board_now), now)
    return {
        specialist_id: [
            row
            for row in rows
            if row.ends_on >= availability.today_in_zone(now, board_now[specialist_id].specialist.time_zone)
        ]
        for specialist_id, rows in found.items()
    }


def _absences(ids: list[int], now: datetime) -> dict[int, list[availability.AbsenceDays]]:
    # A stand-in deactivated since cannot be handed a customer: naming them would send the agent nowhere.
    return {
        specialist_id: [
            availability.AbsenceDays(
                row.starts_on, row.ends_on, row.stand_in.display_name if row.stand_in and row.stand_in.active else None
            )
            for row in rows
        ]
        for specialist_id, rows in current_absences(ids, now).items()
    }


def _counts_today(specialists: list[Specialist], now: datetime) -> dict[int, int]:
    """Cards that may have reached a customer since each specialist's own midnight."""
    by_zone: dict[str | None, list[int]] = {}
    for s in specialists:
        by_zone.setdefault(s.time_zone, []).append(s.id)
    windows = []
    for zone, ids in by_zone.items():  # one condition per zone: a few, however many specialists
        start, end = availability.day_bounds(now, zone)
        windows.append(and_(Handoff.specialist_id.in_(ids), Handoff.created_at >= start, Handoff.created_at < end))
    rows = db.session.execute(
        select(Handoff.specialist_id, func.count())
        .where(Handoff.kind == "card", MAY_HAVE_REACHED, or_(*windows))
        .group_by(Handoff.specialist_id)
    ).all()
    return dict(rows)
