"""The agents' ticket queue: search, filters, counts and each ticket's last handoff."""

import re
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, or_, select, true

from models import Handoff, InboundMessage, Ticket, db, utcnow
from services import window

QUEUE_LIMIT = 200


@dataclass
class QueueRow:
    ticket: Ticket
    window: window.WindowState
    last_handoff: Handoff | None


@dataclass
class Queue:
    rows: list[QueueRow]
    matching: int  # tickets matching the search and every chosen filter (rows holds at most QUEUE_LIMIT)
    counts: dict[str, int] = field(default_factory=dict)  # per filter, within the search alone


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def search_condition(query: str):
    """Ref, customer name or phone (digits anywhere in the number, spaces and dashes ignored)."""
    query = (query or "").strip()[:100]
    if not query:
        return None
    conditions = [
        Ticket.external_ref.ilike(_like(query), escape="\\"),
        Ticket.customer_name.ilike(_like(query), escape="\\"),
    ]
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 3:
        conditions.append(Ticket.customer_phone.contains(digits, autoescape=True))
    return or_(*conditions)


def _last_handoff_ids():
    return select(func.max(Handoff.id)).group_by(Handoff.ticket_id)


def filter_conditions(user_id: int) -> dict:
    """Each filter as a SQL condition on tickets."""
    open_phones = select(InboundMessage.customer_phone).where(InboundMessage.sent_at > utcnow() - window.WINDOW)
    failed_last = select(Handoff.ticket_id).where(Handoff.id.in_(_last_handoff_ids()), Handoff.status == "failed")
    return {
        "ready": Ticket.status == "ready",
        "window_open": Ticket.customer_phone.in_(open_phones),
        "failed": Ticket.id.in_(failed_last),
        "mine": Ticket.assignee_id == user_id,
    }


def ticket_queue(query: str, chosen: list[str], user_id: int) -> Queue:
    """Tickets matching the search and every chosen filter, ready first, with their counts."""
    conditions = filter_conditions(user_id)
    search = search_condition(query)
    where = [search] if search is not None else []
    matching = and_(*[conditions[name] for name in chosen if name in conditions], true())
    ready_first = case(
        (Ticket.status == "ready", 0), (Ticket.status == "open", 1), (Ticket.status == "handed_off", 2), else_=3
    )
    tickets = db.session.scalars(
        select(Ticket).where(*where, matching).order_by(ready_first, Ticket.updated_at.desc()).limit(QUEUE_LIMIT)
    ).all()
    # One pass over the searched tickets counts every filter and their combination.
    figures = db.session.execute(
        select(*[func.sum(case((c, 1), else_=0)) for c in (matching, *conditions.values())])
        .select_from(Ticket)
        .where(*where)
    ).one()
    counts = {name: int(value or 0) for name, value in zip(conditions, figures[1:])}
    return Queue(_rows(tickets), int(figures[0] or 0), counts)


def _rows(tickets: list[Ticket]) -> list[QueueRow]:
    last = window.last_inbound_by_phone([t.customer_phone for t in tickets])
    handoffs = {}
    if tickets:
        ids = [t.id for t in tickets]
        latest = select(func.max(Handoff.id)).where(Handoff.ticket_id.in_(ids)).group_by(Handoff.ticket_id)
        handoffs = {h.ticket_id: h for h in db.session.scalars(select(Handoff).where(Handoff.id.in_(latest)))}
    return [
        QueueRow(t, window.window_from(t.customer_phone, last.get(t.customer_phone)), handoffs.get(t.id))
        for t in tickets
    ]
