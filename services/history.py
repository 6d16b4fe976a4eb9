"""The leads' handoff history: filters, keyset pages, CSV export and the stuck/failed lists.

Pages are keyed by (created_at, id), newest first, so page 5,000 costs what page 1 costs
(index ix_handoffs_created_id); nothing here uses OFFSET.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import exists, or_, select, tuple_
from sqlalchemy.orm import aliased

from models import Handoff, Specialist, Ticket, User, db, utcnow
from services.bounds import parse_cursor_time, parse_id
from services.database import read_again_if_dropped
from services.triage import Triage, explain_failure

PAGE_SIZE = 50
SUCCESS_STATUSES = ("accepted", "sent", "delivered", "read")
PENDING_STATUSES = ("sending", "unknown", "accepted", "sent")
# Failure codes our send path and webhooks write (services/handoffs.py, status.py, reconcile.py).
FAILURE_CODES = (
    "window_closed",
    "invalid_recipient",
    "rate_limited",
    "auth_failed",
    "upstream_unavailable",
    "rejected",
    "intro_failed",
    "specialist_inactive",
    "ticket_closed",
    "unknown_outcome",
    "delivery_failed",
    "not_sent",
    "circuit_open",
    "queued",
)


@dataclass
class HistoryFilters:
    """What the lead asked for; every field optional. `date_to` is inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    agent_id: int | None = None
    specialist_id: int | None = None
    status: str | None = None
    failure_code: str | None = None
    search: str = ""  # a ticket reference or a customer phone (E.164)
    search_phone: str | None = None  # the search normalised as a phone, when it is one


def conditions(filters: HistoryFilters, table=Handoff) -> list:
    """WHERE clauses for the filtered set, shared by the table, the SLA figures and the export."""
    where = []
    if filters.date_from:
        where.append(table.created_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        where.append(table.created_at < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    if filters.agent_id:
        where.append(table.agent_id == filters.agent_id)
    if filters.specialist_id:
        where.append(table.specialist_id == filters.specialist_id)
    if filters.status:
        where.append(table.status == filters.status)
    if filters.failure_code:
        where.append(table.failure_code == filters.failure_code)
    if filters.search:
        where.append(_search_condition(filters, table))
    return where


def _search_condition(filters: HistoryFilters, table):
    # Tickets are found through their indexed reference and phone; the handoff's own phone
    # snapshot also matches, in case the ticket's number was changed after the send.
    tickets = select(Ticket.id).where(Ticket.external_ref == filters.search)
    if filters.search_phone:
        tickets = select(Ticket.id).where(
            or_(Ticket.external_ref == filters.search, Ticket.customer_phone == filters.search_phone)
        )
        return or_(table.ticket_id.in_(tickets), table.customer_phone == filters.search_phone)
    return table.ticket_id.in_(tickets)


@dataclass
class Cursor:
    """A position in the newest-first order: the (created_at, id) of a row."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, raw: str | None) -> "Cursor | None":
        """Parse ?before= / ?after=; raises ValueError on anything malformed."""
        if not raw:
            return None
        stamp, _, ident = raw.rpartition("_")
        return cls(parse_cursor_time(stamp), parse_id(ident))


@dataclass
class Page:
    rows: list = field(default_factory=list)
    older: Cursor | None = None  # pass as ?before= for the next (older) page
    newer: Cursor | None = None  # pass as ?after= for the previous (newer) page


def history_page(
    filters: HistoryFilters, before: Cursor | None = None, after: Cursor | None = None, size: int | None = None
) -> Page:
    """One page of handoffs, newest first, before or after a cursor."""
    size = size or PAGE_SIZE
    key = tuple_(Handoff.created_at, Handoff.id)
    statement = _rows_statement().where(*conditions(filters))
    if after is not None:
        # Walk up from the cursor, then show the rows newest first again.
        statement = statement.where(key > tuple_(after.created_at, after.id))
        rows = db.session.execute(statement.order_by(Handoff.created_at, Handoff.id).limit(size + 1)).all()
        more_newer, rows = len(rows) > size, list(reversed(rows[:size]))
        return Page(rows, _cursor(rows[-1]) if rows else None, _cursor(rows[0]) if rows and more_newer else None)
    if before is not None:
        statement = statement.where(key < tuple_(before.created_at, before.id))
    rows = db.session.execute(statement.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(size + 1)).all()
    more_older, rows = len(rows) > size, rows[:size]
    return Page(
        rows,
        _cursor(rows[-1]) if rows and more_older else None,
        _cursor(rows[0]) if rows and before is not None else None,
    )


def _cursor(row) -> Cursor:
    return Cursor(row.Handoff.created_at, row.Handoff.id)


def _rows_statement():
    """Handoffs with the names a row shows, in one query (no lazy load per row)."""
    return (
        select(Handoff, Ticket.external_ref, User.name.label("agent_name"))
        .join(Ticket, Ticket.id == Handoff.ticket_id)
        .outerjoin(User, User.id == Handoff.agent_id)
    )


# --- choices for the filter form ---------------------------------------------------------


def agent_choices() -> list[tuple[int, str]]:
    """Everyone who can send (handoffs keep their agent even after a role change)."""
    return [(u.id, u.name) for u in db.session.scalars(select(User).order_by(User.name))]


def specialist_choices() -> list[tuple[int, str]]:
    return [(s.id, s.display_name) for s in db.session.scalars(select(Specialist).order_by(Specialist.display_name))]


# --- CSV export -------------------------------------------------------------------------

CSV_COLUMNS = (
    "handoff_id",
    "ticket_ref",
    "customer_phone",
    "agent_id",
    "agent_name",
    "agent_email",
    "specialist_id",
    "specialist_name",
    "specialist_phone",
    "specialist_organisation",
    "specialist_title",
    "specialist_card_json",
    "status",
    "failure_code",
    "failure_reason",
    "message_id",
    "retry_of_id",
    "ready_at",
    "created_at",
    "accepted_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "stuck_at",
    "unavailable_reason",  # last, so files read by position keep their columns
)
EXPORT_BATCH = 1000


def export_csv(filters: HistoryFilters) -> Iterator[str]:
    """The filtered set as CSV lines, fetched in keyset batches so memory stays flat.

    The filters become SQL here, before the first line goes out: a filter that cannot be
    turned into a query fails the request, never a file already half sent."""
    return _export_lines(conditions(filters))


def _export_lines(where: list) -> Iterator[str]:
    # The byte order mark makes spreadsheets read the file as UTF-8 (names with accents stay intact).
    yield "\ufeff" + _csv_line(CSV_COLUMNS)
    before = None
    while True:
        statement = (
            select(*_export_columns())
            .join(Ticket, Ticket.id == Handoff.ticket_id)
            .outerjoin(User, User.id == Handoff.agent_id)
            .where(*where)
        )
        if before is not None:
            statement = statement.where(tuple_(Handoff.created_at, Handoff.id) < before)
        batch = statement.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(EXPORT_BATCH)
        # The file is already being sent: a dropped connection must not end it half-way.
        rows = read_again_if_dropped(lambda statement=batch: db.session.execute(statement).all())
        for row in rows:
            yield _csv_line(_export_values(row))
        if len(rows) < EXPORT_BATCH:
            return
        before = tuple_(rows[-1].created_at, rows[-1].id)


def _export_columns():
    return (
        Handoff.id,
        Ticket.external_ref,
        Handoff.customer_phone,
        Handoff.agent_id,
        User.name.label("agent_name"),
        User.email.label("agent_email"),
        Handoff.specialist_id,
        Handoff.card_snapshot,
        Handoff.status,
        Handoff.failure_code,
        Handoff.failure_reason,
        Handoff.message_id,
        Handoff.retry_of_id,
        Handoff.ready_at,
        Handoff.created_at,
        Handoff.accepted_at,
        Handoff.sent_at,
        Handoff.delivered_at,
        Handoff.read_at,
        Handoff.failed_at,
        Handoff.stuck_at,
        Handoff.unavailable_reason,
    )


def _export_values(row) -> list:
    card = row.card_snapshot or {}
    phones = card.get("phones") or [{}]
    org = card.get("org") or {}
    return [
        row.id,
        row.external_ref,
        row.customer_phone,
        row.agent_id or "",
        row.agent_name or "",
        row.agent_email or "",
        row.specialist_id,
        (card.get("name") or {}).get("formatted_name", ""),
        phones[0].get("phone", ""),
        org.get("company", ""),
        org.get("title", ""),
        json.dumps(card, ensure_ascii=False, sort_keys=True),
        row.status,
        row.failure_code or "",
        row.failure_reason or "",
        row.message_id or "",
        row.retry_of_id or "",
        *(
            _iso(getattr(row, name))
            for name in (
                "ready_at",
                "created_at",
                "accepted_at",
                "sent_at",
                "delivered_at",
                "read_at",
                "failed_at",
                "stuck_at",
            )
        ),
        row.unavailable_reason or "",
    ]


def _iso(value: datetime | None) -> str:
    return value.isoformat(sep=" ") + "Z" if value else ""


def _csv_line(values) -> str:
    buffer = io.StringIO()
    # Formulas defused wherever a spreadsheet may start a cell, whatever separator it splits on.
    csv.writer(buffer).writerow([defuse_formula(v) for v in values])
    return buffer.getvalue()


# A cell, or a piece of one after a separator a spreadsheet may split on (, ; tab), that starts
# (after spaces) with = + - @ tab or CR is read as a formula: an apostrophe in front makes it text.
FORMULA_START = re.compile(r"(^|[,;\t])( *)(?=[=+\-@\t\r])")


def defuse_formula(value):
    if not isinstance(value, str) or _is_phone(value):
        return value
    return FORMULA_START.sub(lambda m: f"{m.group(1)}{m.group(2)}'", value)


def _is_phone(value: str) -> bool:
    return value.startswith("+") and value[1:].isdigit()


# --- stuck and failed ---------------------------------------------------------------------


@dataclass
class NeedsAction:
    row: object
    triage: Triage | None


def stuck(limit: int = 100) -> list:
    """Accepted (or sent) but not delivered after STUCK_AFTER_MINUTES, oldest first."""
    since = utcnow() - timedelta(minutes=current_app.config["STUCK_AFTER_MINUTES"])
    statement = _rows_statement().where(Handoff.status.in_(("accepted", "sent")), Handoff.accepted_at < since)
    return db.session.execute(statement.order_by(Handoff.accepted_at).limit(limit)).all()


def failures_needing_action(limit: int = 100) -> list[NeedsAction]:
    """Failed handoffs that no later handoff of the same ticket has made good, newest first.

    A retry (retry_of_id) is a later handoff of the same ticket, and so is a fresh send to
    another specialist: either one accepted by 1MSG means the failure needs no more action.
    """
    later = aliased(Handoff)
    made_good = exists().where(
        later.ticket_id == Handoff.ticket_id, later.id > Handoff.id, later.status.in_(SUCCESS_STATUSES)
    )
    statement = _rows_statement().where(Handoff.status == "failed", ~made_good)
    rows = db.session.execute(statement.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)).all()
    return [
        NeedsAction(
            row, explain_failure(row.Handoff.failure_code, row.Handoff.failure_reason, row.Handoff.failure_meta_code)
        )
        for row in rows
    ]
