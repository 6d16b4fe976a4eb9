"""Messages customers sent us: they open the 24-hour WhatsApp window."""

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_phone_sent", "customer_phone", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    onemsg_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer_phone: Mapped[str] = mapped_column(String(16))
    sender_name: Mapped[str | None] = mapped_column(String(120))
    body: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
