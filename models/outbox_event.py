"""A handoff event waiting to be (or already) delivered to the helpdesk: the outbox."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow

# pending: still to deliver (or retrying); delivered: the helpdesk answered 2xx;
# dead: given up after the retry period, kept for admins to read and replay.
OUTBOX_STATUSES = ("pending", "delivered", "dead")


class OutboxEvent(db.Model):
    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
        # The claim query: due events, oldest first; and "is an earlier event of this handoff open?".
        Index("ix_outbox_events_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_events_handoff_id_id", "handoff_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Standard Webhooks' webhook-id: the same on every attempt, so the receiver can dedupe.
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker holds a claimed event until this time; a crashed worker's claim simply expires.
    claimed_until: Mapped[datetime | None]
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxEvent {self.id} {self.event_type} handoff={self.handoff_id} {self.status}>"
