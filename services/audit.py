"""The append-only audit trail: writing entries, and reading them merged with delivery status
changes, newest first.

Status changes are not written as audit entries (services/status.py applies them with one
conditional UPDATE per webhook event, on the hot path). Every status 1MSG reports is already
kept, append-only, in status_events (unique per message and status), so the trail shows
those rows beside the audit entries instead of copying them: a UNION ALL of two keyset
queries, each walking its own (time, id) order.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_login import current_user
from sqlalchemy import String, cast, func, literal, select, tuple_, union_all

from models import AuditEntry, Handoff, StatusEvent, db
from services.bounds import parse_cursor_time, parse_id

PAGE_SIZE = 50
STATUS_ACTION = "handoff.status"
STATUS_ACTOR = "1MSG webhook"
SUBJECT_TYPES = ("user", "specialist", "ticket", "handoff", "setting", "api_key", "outbox_event")
KINDS = ("audit", "status")  # tie-break order within one timestamp (descending: status first)


# Writing


def actor_label(user) -> str:
    return user.email if user is not None else "system"


def record(
    action: str,
    subject_type: str,
    subject_id=None,
    *,
    actor=None,
    label: str | None = None,
    summary: str = "",
    before=None,
    after=None,
) -> AuditEntry:
    """Add an audit entry to the current transaction; the caller commits."""
    if actor is None and label is None and current_user and current_user.is_authenticated:
        actor = current_user._get_current_object()
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_label=label or actor_label(actor),
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id is not None else None,
        summary=summary[:500],
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, so entries stay readable."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


# Reading


@dataclass
class AuditFilters:
    date_from: date | None = None
    date_to: date | None = None
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: str = ""


@dataclass
class TrailCursor:
    at: datetime
    kind: str
    id: int

    def encode(self) -> str:
        return f"{self.at.isoformat()}_{self.kind}_{self.id}"

    @classmethod
    def decode(cls, raw: str | None) -> "TrailCursor | None":
        """Parse ?before=; raises ValueError on anything malformed."""
        if not raw:
            return None
        stamp, kind, ident = raw.rsplit("_", 2)
        if kind not in KINDS:
            raise ValueError("unknown cursor kind")
        return cls(parse_cursor_time(stamp), kind, parse_id(ident))


@dataclass
class TrailPage:
    rows: list = field(default_factory=list)
    details: dict = field(default_factory=dict)  # audit entry id -> AuditEntry (before/after)
    older: TrailCursor | None = None


def trail_page(filters: AuditFilters, before: TrailCursor | None = None, size: int = PAGE_SIZE) -> TrailPage:
    """One page of the merged trail, newest first, strictly older than `before`."""
    # Each branch is its own subquery so that its ORDER BY ... LIMIT walks its own index.
    branches = [
        select(branch.subquery())
        for branch in (_audit_branch(filters, before, size), _status_branch(filters, before, size))
        if branch is not None
    ]
    merged = (union_all(*branches) if len(branches) > 1 else branches[0]).subquery()
    rows = db.session.execute(
        select(merged).order_by(merged.c.at.desc(), merged.c.kind.desc(), merged.c.id.desc()).limit(size + 1)
    ).all()
    more, rows = len(rows) > size, rows[:size]
    audit_ids = [row.id for row in rows if row.kind == "audit"]
    details = (
        {entry.id: entry for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.id.in_(audit_ids)))}
        if audit_ids
        else {}
    )
    older = TrailCursor(rows[-1].at, rows[-1].kind, rows[-1].id) if more else None
    return TrailPage(rows, details, older)


def _date_conditions(column, filters: AuditFilters) -> list:
    where = []
    if filters.date_from:
        where.append(column >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        where.append(column < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    return where


def _after_cursor(at_column, id_column, kind: str, before: TrailCursor | None) -> list:
    """Rows of this branch that come after the cursor in (at, kind, id) descending order."""
    if before is None:
        return []
    if before.kind == kind:
        return [tuple_(at_column, id_column) < tuple_(before.at, before.id)]
    # Within one timestamp "status" rows come before "audit" rows.
    return [at_column <= before.at] if kind < before.kind else [at_column < before.at]


def _audit_branch(filters: AuditFilters, before: TrailCursor | None, size: int):
    where = _date_conditions(AuditEntry.at, filters) + _after_cursor(AuditEntry.at, AuditEntry.id, "audit", before)
    if filters.actor:
        where.append(func.lower(AuditEntry.actor_label).contains(filters.actor.lower(), autoescape=True))
    if filters.action:
        where.append(AuditEntry.action == filters.action)
    if filters.subject_type:
        where.append(AuditEntry.subject_type == filters.subject_type)
    if filters.subject_id:
        where.append(AuditEntry.subject_id == filters.subject_id)
    return (
        select(
            AuditEntry.at.label("at"),
            literal("audit").label("kind"),
            AuditEntry.id.label("id"),
            AuditEntry.actor_label.label("actor_label"),
            AuditEntry.action.label("action"),
            AuditEntry.subject_type.label("subject_type"),
            AuditEntry.subject_id.label("subject_id"),
            AuditEntry.summary.label("summary"),
        )
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(size + 1)
    )


def _status_branch(filters: AuditFilters, before: TrailCursor | None, size: int):
    """Status events as trail rows; None when the filters rule them all out."""
    if (
        filters.action
        and filters.action != STATUS_ACTION
        or filters.subject_type
        and filters.subject_type != "handoff"
        or filters.actor
        and filters.actor.lower() not in STATUS_ACTOR.lower()
        or filters.subject_id
        and not _is_id(filters.subject_id)
    ):
        return None
    where = _date_conditions(StatusEvent.received_at, filters) + _after_cursor(
        StatusEvent.received_at, StatusEvent.id, "status", before
    )
    if filters.subject_id:
        where.append(Handoff.id == int(filters.subject_id))
    summary = (
        literal("1MSG reported ") + StatusEvent.status + func.coalesce(literal(": ") + StatusEvent.error, literal(""))
    )
    return (
        select(
            StatusEvent.received_at.label("at"),
            literal("status").label("kind"),
            StatusEvent.id.label("id"),
            literal(STATUS_ACTOR).label("actor_label"),
            literal(STATUS_ACTION).label("action"),
            literal("handoff").label("subject_type"),
            cast(Handoff.id, String).label("subject_id"),
            summary.label("summary"),
        )
        .outerjoin(Handoff, Handoff.message_id == StatusEvent.message_id)
        .where(*where)
        .order_by(StatusEvent.received_at.desc(), StatusEvent.id.desc())
        .limit(size + 1)
    )


def _is_id(text: str) -> bool:
    try:
        parse_id(text)
    except ValueError:
        return False
    return True


def known_actions() -> list[str]:
    """Actions present in the trail (the action column is indexed), plus status changes."""
    found = db.session.scalars(select(AuditEntry.action).distinct()).all()
    return sorted(set(found) | {STATUS_ACTION})
