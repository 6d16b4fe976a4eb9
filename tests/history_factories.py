"""Handoffs written straight to the database, with chosen times, for the leads' report tests."""

import itertools
from datetime import datetime, timedelta

from models import STATUS_RANK, Handoff, db
from services.specialist_cards import card_payload

_keys = itertools.count(1)


def add_handoff(
    ticket, specialist, agent=None, *, created_at: datetime, status: str = "sending", commit: bool = True, **fields
) -> Handoff:
    """A handoff as the send path and webhooks would have left it."""
    n = next(_keys)
    handoff = Handoff(
        kind="card",
        ticket_id=ticket.id,
        specialist_id=specialist.id,
        agent_id=agent.id if agent else None,
        idempotency_key=f"test-{n}-{created_at.timestamp()}",
        customer_phone=ticket.customer_phone,
        card_snapshot=card_payload(specialist),
        status=status,
        status_rank=STATUS_RANK[status],
        created_at=created_at,
        **fields,
    )
    if handoff.accepted_at and not handoff.message_id:
        handoff.message_id = f"wamid.test-{n}"
    db.session.add(handoff)
    if commit:
        db.session.commit()
    return handoff


def seconds(base: datetime, value: float) -> datetime:
    return base + timedelta(seconds=value)
