"""A helpdesk ticket whose customer may be handed to a specialist."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db, utcnow

TICKET_STATUSES = ("open", "ready", "handed_off", "closed")
TICKET_STATUS_LABELS = {
    "open": "Open",
    "ready": "Ready for escalation",
    "handed_off": "Handed off",
    "closed": "Closed",
}


class Ticket(db.Model):
    __tablename__ = "tickets"
    __table_args__ = (CheckConstraint("status IN ('open', 'ready', 'handed_off', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    customer_name: Mapped[str] = mapped_column(String(120))
    customer_phone: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    # The customer's language as a BCP 47 code ("pt", "pt-BR"), when the helpdesk or agent knows it.
    language: Mapped[str | None] = mapped_column(String(35))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ready_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    assignee = relationship("User")

    @property
    def status_label(self) -> str:
        return TICKET_STATUS_LABELS[self.status]

    def snapshot(self) -> dict:
        return {
            "external_ref": self.external_ref,
            "subject": self.subject,
            "customer_name": self.customer_name,
            "customer_phone": self.customer_phone,
            "status": self.status,
            "assignee_id": self.assignee_id,
            "language": self.language,
        }
