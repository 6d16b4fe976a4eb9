"""Every webhook POST, stored raw before anything is applied."""

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow


class WebhookEvent(db.Model):
    __tablename__ = "webhook_events"
    # The applier's queue: only the bodies still waiting are in this index, however big the table.
    __table_args__ = (
        Index(
            "ix_webhook_events_pending",
            "id",
            postgresql_where=text("applied_at IS NULL"),
            sqlite_where=text("applied_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text)
    # What could not be read: the whole body, or some of its events (the others were applied).
    parse_error: Mapped[str | None] = mapped_column(Text)
    status_count: Mapped[int] = mapped_column(default=0)
    message_count: Mapped[int] = mapped_column(default=0)
    # NULL until the applier has taken the body apart (or found it unreadable).
    applied_at: Mapped[datetime | None]
