"""WhatsApp users known by a business-scoped user id (BSUID, chat id `<id>@lid`).

A customer who hides their number behind a username writes from `<id>@lid`: the id is not a
phone number. When an ack or a message carries both the BSUID and the phone, the link is kept
here, so the customer's messages open the window of their real number.
"""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow


class CustomerLink(db.Model):
    __tablename__ = "customer_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    bsuid: Mapped[str] = mapped_column(String(128), unique=True)
    customer_phone: Mapped[str | None] = mapped_column(String(16))  # E.164, once learnt
    # The user's latest message while no phone was known: it opens the window once linked.
    last_message_id: Mapped[str | None] = mapped_column(String(128))
    last_message_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
