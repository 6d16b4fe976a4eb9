"""One attempt to send a specialist's card (or a reopening template) to a customer."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, event
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db, utcnow

HANDOFF_STATUSES = ("sending", "unknown", "queued", "accepted", "sent", "failed", "delivered", "read")
# The current status only moves up this order. A failure outranks "sent" but not
# "delivered": a late failure after delivery is recorded in failed_at, not shown as the status.
# "queued" (1MSG answered with a jobId, no message id) is as unsettled as "unknown".
STATUS_RANK = {
    "sending": 0,
    "unknown": 1,
    "queued": 1,
    "accepted": 2,
    "sent": 3,
    "failed": 4,
    "delivered": 5,
    "read": 6,
}
FINAL_STATUSES = ("read", "failed")
# The column that keeps when a handoff reached each status (the unsettled ones have none).
STATUS_TIME_COLUMN = {
    "accepted": "accepted_at",
    "sent": "sent_at",
    "delivered": "delivered_at",
    "read": "read_at",
    "failed": "failed_at",
}
KINDS = ("card", "template")
# The SLA intervals, stored in seconds on the row by whoever sets their timestamps (the SLA
# figures read numbers instead of parsing timestamps): {column: (from, to)}. The delivery
# counts from the first of delivered/read (a phone may report "read" without "delivered").
DURATION_COLUMNS = {
    "ready_to_accepted_s": ("ready_at", "accepted_at"),
    "accepted_to_delivered_s": ("accepted_at", "first_delivery"),
    "accepted_to_read_s": ("accepted_at", "read_at"),
}


def handoff_durations(ready_at, accepted_at, delivered_at, read_at) -> dict:
    """{duration column: seconds or None} for these timestamps (None where either end is missing)."""
    times = dict(ready_at=ready_at, accepted_at=accepted_at, read_at=read_at, first_delivery=delivered_at or read_at)
    return {
        column: (times[end] - times[start]).total_seconds() if times[start] and times[end] else None
        for column, (start, end) in DURATION_COLUMNS.items()
    }


class Handoff(db.Model):
    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('sending', 'unknown', 'queued', 'accepted', 'sent', 'failed', 'delivered', 'read')",
            name="status",
        ),
        CheckConstraint("kind IN ('card', 'template')", name="kind"),
        CheckConstraint(
            "unavailable_reason IS NULL OR unavailable_reason IN ('off_hours', 'on_leave', 'over_capacity')",
            name="unavailable_reason",
        ),
        Index("ix_handoffs_created_id", "created_at", "id"),
        Index("ix_handoffs_agent_created", "agent_id", "created_at"),
        Index("ix_handoffs_specialist_created", "specialist_id", "created_at"),
        Index("ix_handoffs_status_created", "status", "created_at"),
        # The leads' views: SLA aggregates read this index instead of the table.
        Index(
            "ix_handoffs_sla_cover",
            "created_at",
            "status",
            "agent_id",
            "specialist_id",
            "failure_code",
            "accepted_at",
            "delivered_at",
            "read_at",
            "unavailable_reason",
            "ready_to_accepted_s",
            "accepted_to_delivered_s",
            "accepted_to_read_s",
        ),
        Index("ix_handoffs_failure_created", "failure_code", "created_at"),
        # The rank of a percentile is read inside one bucket of durations, in order, and the
        # breaches of a target are the rows above it: both index range reads.
        *(Index(f"ix_handoffs_{column}", column, "created_at") for column in DURATION_COLUMNS),
        # The few accepted in the last minutes: not yet overdue (services/sla_rollup.py).
        Index("ix_handoffs_accepted_at", "accepted_at"),
        Index("ix_handoffs_phone_created", "customer_phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="card")
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("specialists.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A double click, a resubmit or an API retry carries the same key: the unique
    # constraint is what makes the send happen once.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"))
    customer_phone: Mapped[str] = mapped_column(String(16))
    card_snapshot: Mapped[dict] = mapped_column(JSON)
    template_name: Mapped[str | None] = mapped_column(String(120))
    intro_text: Mapped[str | None] = mapped_column(Text)
    intro_message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="sending")
    status_rank: Mapped[int] = mapped_column(default=0)
    ready_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    failure_meta_code: Mapped[int | None]
    # A template that reopens the chat may send the card by itself once the customer answers.
    card_on_reply: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"))
    last_checked_at: Mapped[datetime | None]
    stuck_at: Mapped[datetime | None]
    # Set when 1MSG could not be asked for the status (no hookInfo on the channel) and no
    # webhook brought it: the agent sees "status not confirmed" and what to do.
    unconfirmed_at: Mapped[datetime | None]
    # Set when the specialist was not available at the send (off_hours, on_leave, over_capacity):
    # the agent confirmed it (or the card followed a template whose sender did). Leads count these.
    unavailable_reason: Mapped[str | None] = mapped_column(String(16))
    ready_to_accepted_s: Mapped[float | None]
    accepted_to_delivered_s: Mapped[float | None]
    accepted_to_read_s: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    ticket = relationship("Ticket", backref="handoffs")
    specialist = relationship("Specialist")
    agent = relationship("User")
    retry_of = relationship("Handoff", remote_side=[id], foreign_keys=[retry_of_id])

    def settle(self, status: str, at: datetime | None = None) -> None:
        """Set the status, its rank and its time together; a time already set is kept (the first one counts).

        For our own conclusions about an attempt 1MSG has not reported on (its answer to the send,
        reconciliation). Statuses from 1MSG go through services/status.py, whose UPDATE only ever
        raises the rank, so a late or repeated status never moves a handoff backwards."""
        self.status, self.status_rank = status, STATUS_RANK[status]
        column = STATUS_TIME_COLUMN.get(status)
        if column and getattr(self, column) is None:
            setattr(self, column, at or utcnow())

    def refresh_durations(self) -> None:
        """Set the stored durations from the timestamps; only a changed value is written."""
        found = handoff_durations(self.ready_at, self.accepted_at, self.delivered_at, self.read_at)
        for column, value in found.items():
            if getattr(self, column) != value:
                setattr(self, column, value)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def specialist_name(self) -> str:
        return (self.card_snapshot or {}).get("name", {}).get("formatted_name", "")


@event.listens_for(Handoff, "before_insert")
@event.listens_for(Handoff, "before_update")
def _durations_follow_timestamps(mapper, connection, target: Handoff) -> None:
    # Every ORM write (the send, reconciliation, test factories) keeps them; Core writes
    # (services/status.py, the seeding) compute them themselves.
    target.refresh_durations()
