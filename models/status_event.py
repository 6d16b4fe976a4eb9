"""One delivery status reported by 1MSG for one message, kept as received."""

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow


class StatusEvent(db.Model):
    __tablename__ = "status_events"
    # Duplicated webhooks insert nothing new: one row per message and status.
    __table_args__ = (
        UniqueConstraint("message_id", "status", name="uq_status_events_message_status"),
        Index("ix_status_events_received_id", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Looked up through the unique (message_id, status) index above.
    message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[int | None]
    # The stored body it came from (webhook_events.id). No foreign key: only the applier writes it,
    # from a body it holds locked, and the check cost a trigger run per inserted event.
    webhook_event_id: Mapped[int | None]
    # False while no handoff carries this message id yet (the webhook beat the send's answer).
    applied: Mapped[bool] = mapped_column(default=False)
