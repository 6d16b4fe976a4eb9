"""Applying 1MSG status events to handoffs: stored as received, never backwards."""
import json
from datetime import datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import STATUS_RANK, Handoff, InboundMessage, StatusEvent, Ticket, WebhookEvent, db, utcnow
from onemsg.webhooks import ParsedWebhook, StatusUpdate, WebhookFormatError, parse_body
from services import customers, events, window

TIMESTAMP_COLUMN = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}


def _insert_ignoring_duplicates(model, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was inserted."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    return db.session.execute(statement).scalar() is not None


def ingest_webhook(raw: bytes, source: str, *, too_large: bool = False) -> tuple[WebhookEvent, str | None]:
    """Store the raw POST, then apply it in the same transaction; returns (event, error)."""
    raw = _without_nul(raw)
    event = WebhookEvent(body=raw.decode("utf-8", errors="replace"), source=source[:64])
    db.session.add(event)
    if too_large:
        event.parse_error = f"body larger than the limit ({len(raw)}+ bytes); stored truncated"
        return event, event.parse_error
    try:
        parsed = parse_body(raw)
    except WebhookFormatError as exc:
        event.parse_error = str(exc)
        return event, event.parse_error
    # Counts first, so the row is written once, before the events that point at it.
    event.status_count, event.message_count = len(parsed.statuses), len(parsed.messages)
    db.session.flush()
    apply_parsed(parsed, event)
    return event, None


def _without_nul(raw: bytes) -> bytes:
    """PostgreSQL text cannot hold NUL (raw or as \\u0000 in a JSON string): replace it, so the
    body is still stored and applied instead of failing with a 500."""
    if b"\x00" not in raw and b"\\u0000" not in raw:
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return raw.replace(b"\x00", "\ufffd".encode())
    return json.dumps(_scrub_nul(value)).encode()


def _scrub_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_scrub_nul(item) for item in value]
    if isinstance(value, dict):
        return {_scrub_nul(key): _scrub_nul(item) for key, item in value.items()}
    return value


def apply_parsed(parsed: ParsedWebhook, event: WebhookEvent) -> None:
    for update_ in parsed.statuses:
        record_status(update_, webhook_event_id=event.id)
    customers.learn_links(parsed, record_inbound)
    for message in parsed.messages:
        # Echoes of our own messages never open the window; nor do groups or unknown @lid users.
        phone = None if message.from_me else customers.customer_phone(message)
        if phone:
            record_inbound(message.message_id, phone, message.sent_at,
                           body=message.caption or message.body, sender_name=message.sender_name)


def record_inbound(message_id: str, phone: str, sent_at: datetime, *, body=None, sender_name=None) -> bool:
    """Store a customer's message (it opens their window); duplicates change nothing."""
    inserted = _insert_ignoring_duplicates(InboundMessage, dict(
        onemsg_id=message_id, customer_phone=phone, sent_at=sent_at, received_at=utcnow(),
        body=(body or "")[:2000] or None, sender_name=(sender_name or "")[:120] or None))
    if inserted:
        window.forget_lookup(phone)
    return inserted


def record_status(status: StatusUpdate, *, webhook_event_id: int | None = None) -> bool:
    """Keep the event once; apply it to its handoff if that handoff is known."""
    received = utcnow()
    # "applied" is decided in the INSERT itself: the handoff is known, so the UPDATE below applies it.
    # The introduction's statuses are kept too, and count as known (they never move the card's status).
    known = select(Handoff.id).where(or_(Handoff.message_id == status.message_id,
                                         Handoff.intro_message_id == status.message_id)).exists()
    inserted = _insert_ignoring_duplicates(StatusEvent, dict(
        message_id=status.message_id, status=status.status, occurred_at=status.occurred_at,
        received_at=received, error=status.error, error_code=status.error_code,
        webhook_event_id=webhook_event_id, applied=known))
    if inserted:
        apply_status(status.message_id, status.status, status.occurred_at or received,
                     status.error, status.error_code)
    return inserted


def apply_status(message_id: str, status: str, at: datetime, error: str | None = None,
                 error_code: int | None = None) -> bool:
    """One conditional UPDATE: set the status's time once, raise the status only upwards."""
    rank = STATUS_RANK[status]
    column = getattr(Handoff, TIMESTAMP_COLUMN[status])
    values = {
        column.key: func.coalesce(column, at),
        "status": case((Handoff.status_rank < rank, status), else_=Handoff.status),
        "status_rank": case((Handoff.status_rank < rank, rank), else_=Handoff.status_rank),
        "updated_at": utcnow(),
    }
    if status == "failed":
        values.update(
            failure_code=func.coalesce(Handoff.failure_code, "delivery_failed"),
            failure_reason=func.coalesce(Handoff.failure_reason, error or "1MSG reported the message as failed"),
            failure_meta_code=func.coalesce(Handoff.failure_meta_code, error_code),
        )
    # Only a row where this status is news is touched: a duplicate changes nothing.
    changed = db.session.execute(
        update(Handoff)
        .where(Handoff.message_id == message_id, or_(column.is_(None), Handoff.status_rank < rank))
        .values(**values).returning(Handoff.id, Handoff.ticket_id, Handoff.kind, Handoff.delivered_at)
        .execution_options(synchronize_session=False)).all()
    for handoff_id, ticket_id, kind, delivered_at in changed:
        events.record_handoff_event(handoff_id, status)
        # "read" moves the ticket only when it came without a "delivered" (which already did).
        if kind == "card" and (status == "delivered" or (status == "read" and delivered_at is None)):
            _mark_ticket_handed_off(ticket_id)
    return bool(changed)


def _mark_ticket_handed_off(ticket_id: int) -> None:
    """A delivered card moves its ticket to "handed off"."""
    db.session.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.status.in_(("open", "ready")))
                       .values(status="handed_off", updated_at=utcnow())
                       .execution_options(synchronize_session=False))


def apply_pending(message_id: str) -> int:
    """Apply events that arrived before we knew the message id (a webhook beat the send)."""
    pending = db.session.scalars(select(StatusEvent).where(
        StatusEvent.message_id == message_id, StatusEvent.applied.is_(False))).all()
    for event in pending:
        apply_status(message_id, event.status, event.occurred_at or event.received_at,
                     event.error, event.error_code)
        event.applied = True
    return len(pending)
