"""Handoff events for the helpdesk, queued in the same transaction as the change."""

import uuid
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from models import Handoff, OutboxEvent, Ticket, db, utcnow

EVENT_TYPES = ("accepted", "sent", "delivered", "read", "failed", "unknown", "stuck")


def record_handoff_event(handoff_id: int, event_type: str) -> None:
    """Queue `event_type` (accepted, sent, delivered, read, failed, unknown, stuck) for delivery."""
    if not current_app.config.get("HELPDESK_WEBHOOK_URL"):
        return  # no helpdesk to tell: nothing is queued
    payload = event_payload(handoff_id, event_type)
    if payload is None:
        return
    # Added to the caller's transaction, not committed: the event exists if and only if
    # the state change does.
    db.session.add(
        OutboxEvent(
            webhook_id=f"msg_{uuid.uuid4().hex}",
            handoff_id=handoff_id,
            event_type=event_type,
            payload=payload,
            status="pending",
            next_attempt_at=utcnow(),
        )
    )


def event_payload(handoff_id: int, event_type: str) -> dict | None:
    """The event as the helpdesk receives it, from the handoff's state in this transaction."""
    # A Core read, not the identity map: status updates are bulk UPDATEs the ORM objects miss.
    row = db.session.execute(
        select(
            Handoff.id,
            Handoff.status,
            Handoff.message_id,
            Handoff.specialist_id,
            Handoff.created_at,
            Handoff.accepted_at,
            Handoff.sent_at,
            Handoff.delivered_at,
            Handoff.read_at,
            Handoff.failed_at,
            Handoff.stuck_at,
            Handoff.failure_code,
            Handoff.failure_reason,
            Ticket.external_ref,
        )
        .join(Ticket, Ticket.id == Handoff.ticket_id)
        .where(Handoff.id == handoff_id)
    ).one_or_none()
    if row is None:
        return None
    return {
        "type": f"handoff.{event_type}",
        "timestamp": iso(utcnow()),
        "data": {
            "handoff_id": row.id,
            "ticket": row.external_ref,
            "specialist_id": row.specialist_id,
            "status": row.status,
            "message_id": row.message_id,
            "created_at": iso(row.created_at),
            "accepted_at": iso(row.accepted_at),
            "sent_at": iso(row.sent_at),
            "delivered_at": iso(row.delivered_at),
            "read_at": iso(row.read_at),
            "failed_at": iso(row.failed_at),
            "stuck_at": iso(row.stuck_at),
            "failure_code": row.failure_code,
            "failure_reason": row.failure_reason,
        },
    }


def iso(value: datetime | None) -> str | None:
    """Naive UTC as ISO 8601 with a Z, the form the API and the events use."""
    return value.isoformat(timespec="milliseconds") + "Z" if value else None
