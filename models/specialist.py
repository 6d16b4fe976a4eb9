"""The handoff profile: the fixed name and phone sent as a contact card."""
from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db, utcnow

PHONE_TYPES = ("CELL", "MAIN", "IPHONE", "HOME", "WORK")


class Specialist(db.Model):
    __tablename__ = "specialists"
    __table_args__ = (
        CheckConstraint("phone_type IN ('CELL', 'MAIN', 'IPHONE', 'HOME', 'WORK')", name="phone_type"),
        CheckConstraint("phone LIKE '+%'", name="phone_e164"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120), index=True)
    first_name: Mapped[str] = mapped_column(String(60), default="")
    last_name: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str] = mapped_column(String(16))
    phone_type: Mapped[str] = mapped_column(String(8), default="CELL")
    email: Mapped[str | None] = mapped_column(String(254))
    organisation: Mapped[str | None] = mapped_column(String(120))
    department: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(120))
    # Comma-separated expertise tags or team names, searched with LIKE.
    tags: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]

    def snapshot(self) -> dict:
        """The fields an audit entry records before and after a change."""
        return {
            "display_name": self.display_name, "first_name": self.first_name,
            "last_name": self.last_name, "phone": self.phone, "phone_type": self.phone_type,
            "email": self.email, "organisation": self.organisation,
            "department": self.department, "title": self.title, "tags": self.tags,
            "notes": self.notes, "active": self.active,
        }
