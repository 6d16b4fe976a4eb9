"""Tickets: creation, edits and the escalation workflow."""

from sqlalchemy import select

from models import Ticket, db, utcnow
from services import audit

FIELDS = ("external_ref", "subject", "customer_name", "customer_phone", "status", "assignee_id", "language")


class TicketError(ValueError):
    """A ticket change that cannot be made, with the field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def find_by_ref(external_ref: str) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.external_ref == external_ref))


def save(ticket: Ticket | None, data: dict, *, actor=None, label: str | None = None) -> Ticket:
    """Create (ticket=None) or update a ticket; the reference must stay unique."""
    values = {key: data[key] for key in FIELDS if key in data}
    if values.get("assignee_id") == 0:
        values["assignee_id"] = None
    other = find_by_ref(values.get("external_ref", ticket.external_ref if ticket else ""))
    if other is not None and other is not ticket:
        raise TicketError("external_ref", f"A ticket with the reference {other.external_ref} already exists.")
    before = ticket.snapshot() if ticket else None
    if ticket is None:
        ticket = Ticket()
        db.session.add(ticket)
    for key, value in values.items():
        setattr(ticket, key, value)
    if ticket.status == "ready" and (before is None or before["status"] != "ready"):
        ticket.ready_at = utcnow()
    db.session.flush()
    b, a = audit.changed_fields(before or {}, ticket.snapshot())
    audit.record(
        "ticket.create" if before is None else "ticket.update",
        "ticket",
        ticket.id,
        actor=actor,
        label=label,
        summary=f"ticket {ticket.external_ref}",
        before=b or None,
        after=a,
    )
    return ticket


def mark_ready(ticket: Ticket, actor) -> None:
    """The workflow's first step: the ticket is ready for escalation."""
    save(ticket, {"status": "ready"}, actor=actor)
