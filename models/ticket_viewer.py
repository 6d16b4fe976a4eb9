"""Who has a ticket open: one row per user and ticket, its time moved on by the page's poll."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow


class TicketViewer(db.Model):
    __tablename__ = "ticket_viewers"
    __table_args__ = (Index("ix_ticket_viewers_ticket_seen", "ticket_id", "seen_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    # Indexed alone too: pruning deletes by seen_at across every ticket.
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
