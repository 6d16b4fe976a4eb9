"""The specialist directory: search, the send panel's picker, and audited changes."""

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from models import Absence, Handoff, Specialist, db
from services import audit

EDITABLE_FIELDS = (
    "display_name",
    "first_name",
    "last_name",
    "phone",
    "phone_type",
    "email",
    "organisation",
    "department",
    "title",
    "tags",
    "notes",
    "active",
    "time_zone",
    "working_hours",
    "languages",
    "daily_capacity",
)


def search(query: str = "", *, include_inactive: bool = False, limit: int = 200) -> list[Specialist]:
    """Specialists whose name, tags, department, organisation or title contain every word, active first."""
    statement = select(Specialist)
    if not include_inactive:
        statement = statement.where(Specialist.active.is_(True))
    for word in (query or "").split():
        like = f"%{word.lower()}%"
        statement = statement.where(
            or_(
                Specialist.display_name.ilike(like),
                Specialist.tags.ilike(like),
                Specialist.department.ilike(like),
                Specialist.organisation.ilike(like),
                Specialist.title.ilike(like),
            )
        )
    statement = statement.order_by(Specialist.active.desc(), Specialist.display_name).limit(limit)
    return db.session.scalars(statement).all()


def recently_used_ids(agent_id: int | None, limit: int = 5) -> list[int]:
    """The specialists this agent handed off to most recently, newest first (one indexed read)."""
    if agent_id is None:
        return []
    newest = func.max(Handoff.id)
    rows = db.session.execute(
        select(Handoff.specialist_id)
        .where(Handoff.agent_id == agent_id)
        .group_by(Handoff.specialist_id)
        .order_by(newest.desc())
        .limit(limit)
    )
    return [specialist_id for (specialist_id,) in rows]


@dataclass(frozen=True)
class PickerRow:
    specialist: Specialist
    recent: bool  # this agent handed off to them lately


@dataclass(frozen=True)
class Picker:
    query: str
    rows: list[PickerRow]
    total: int  # how many match, of which `rows` shows the first few
    chosen: Specialist | None


def picker(query: str, agent_id: int | None, *, chosen_id: int | None = None, limit: int = 10) -> Picker:
    """The send panel's list: matches with the agent's recent ones first, and nobody chosen by us.

    Only the agent's own choice (`chosen_id`) is ever marked, and it stays listed whatever they type."""
    matches = search(query)
    recent = recently_used_ids(agent_id)
    rank = {specialist_id: position for position, specialist_id in enumerate(recent)}
    matches = sorted(matches, key=lambda s: rank.get(s.id, len(rank)))  # stable: by name otherwise
    chosen = db.session.get(Specialist, chosen_id) if chosen_id else None
    if chosen is not None and not chosen.active:
        chosen = None
    shown = matches[:limit]
    if chosen is not None and chosen not in shown:
        shown = [chosen] + shown[: limit - 1]
    return Picker(query.strip(), [PickerRow(s, s.id in rank) for s in shown], len(matches), chosen)


def tidy_tags(text: str) -> str:
    """ "a,b ,, c" -> "a, b, c": the stored form, which can be longer than what was typed."""
    return ", ".join(t.strip() for t in text.split(",") if t.strip())


def _clean(data: dict) -> dict:
    cleaned = {key: data.get(key) for key in EDITABLE_FIELDS if key in data}
    for key, value in cleaned.items():
        if isinstance(value, str):
            cleaned[key] = value.strip()
    if "tags" in cleaned:
        cleaned["tags"] = tidy_tags(cleaned["tags"] or "")
    for optional in ("email", "organisation", "department", "title", "time_zone"):
        if optional in cleaned and not cleaned[optional]:
            cleaned[optional] = None
    for text in ("working_hours", "languages"):
        if text in cleaned and cleaned[text] is None:
            cleaned[text] = ""
    if "daily_capacity" in cleaned and not cleaned["daily_capacity"]:
        cleaned["daily_capacity"] = None
    return cleaned


def create(data: dict, actor) -> Specialist:
    specialist = Specialist(**_clean(data))
    db.session.add(specialist)
    db.session.flush()
    audit.record(
        "specialist.create",
        "specialist",
        specialist.id,
        actor=actor,
        summary=f"added {specialist.display_name}",
        after=specialist.snapshot(),
    )
    return specialist


def update(specialist: Specialist, data: dict, actor) -> None:
    """Apply changes; the audit entry keeps before and after of what changed."""
    before = specialist.snapshot()
    for key, value in _clean(data).items():
        setattr(specialist, key, value)
    b, a = audit.changed_fields(before, specialist.snapshot())
    if a:
        action = "specialist.deactivate" if a.get("active") is False else "specialist.update"
        audit.record(
            action,
            "specialist",
            specialist.id,
            actor=actor,
            summary=f"changed {specialist.display_name}: {', '.join(a)}",
            before=b,
            after=a,
        )


def exact_duplicates(display_name: str, phone: str, *, exclude_id: int | None = None) -> list[Specialist]:
    """Other specialists with the same name (ignoring case and spaces around) and the same phone."""
    name = (display_name or "").strip().lower()
    statement = select(Specialist).where(
        Specialist.phone == phone, func.lower(func.trim(Specialist.display_name)) == name
    )
    if exclude_id is not None:
        statement = statement.where(Specialist.id != exclude_id)
    return db.session.scalars(statement.order_by(Specialist.id)).all()


def add_absence(specialist: Specialist, data: dict, actor) -> Absence:
    """Record days away (and who stands in); the caller commits."""
    absence = Absence(
        specialist=specialist,
        starts_on=data["starts_on"],
        ends_on=data["ends_on"],
        stand_in_id=data.get("stand_in_id") or None,
        note=(data.get("note") or "").strip(),
    )
    db.session.add(absence)
    db.session.flush()
    stand_in = f", stand-in {absence.stand_in.display_name}" if absence.stand_in else ""
    audit.record(
        "specialist.absence_add",
        "specialist",
        specialist.id,
        actor=actor,
        summary=f"{specialist.display_name} away {absence.starts_on} to {absence.ends_on}{stand_in}",
        after={"absence_id": absence.id, **absence.snapshot()},
    )
    return absence


def remove_absence(absence: Absence, actor) -> None:
    """Drop an absence (entered by mistake, or cancelled); the audit entry keeps what it was."""
    specialist = absence.specialist
    audit.record(
        "specialist.absence_remove",
        "specialist",
        specialist.id,
        actor=actor,
        summary=f"{specialist.display_name} no longer away {absence.starts_on} to {absence.ends_on}",
        before={"absence_id": absence.id, **absence.snapshot()},
    )
    db.session.delete(absence)
