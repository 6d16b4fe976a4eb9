"""The handoff profile: the fixed name and phone sent as a contact card."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db, utcnow

PHONE_TYPES = ("CELL", "MAIN", "IPHONE", "HOME", "WORK")


class Specialist(db.Model):
    __tablename__ = "specialists"
    __table_args__ = (
        CheckConstraint("phone_type IN ('CELL', 'MAIN', 'IPHONE', 'HOME', 'WORK')", name="phone_type"),
        CheckConstraint("phone LIKE '+%'", name="phone_e164"),
        CheckConstraint("daily_capacity IS NULL OR daily_capacity >= 1", name="daily_capacity"),
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
    # Availability (services/availability.py reads these): an IANA zone, the weekly hours as the
    # admin wrote them in that zone ("Mon-Fri 09:00-17:00; Sat 10:00-13:00"), BCP 47 language
    # codes ("pt, en-GB") and how many cards a day they can take. None/empty means "not said".
    time_zone: Mapped[str | None] = mapped_column(String(64))
    working_hours: Mapped[str] = mapped_column(String(300), default="", server_default="")
    languages: Mapped[str] = mapped_column(String(200), default="", server_default="")
    daily_capacity: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    absences = relationship(
        "Absence",
        foreign_keys="Absence.specialist_id",
        back_populates="specialist",
        order_by="Absence.starts_on",
        cascade="all, delete-orphan",
    )

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]

    def snapshot(self) -> dict:
        """The fields an audit entry records before and after a change."""
        return {
            "display_name": self.display_name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "phone_type": self.phone_type,
            "email": self.email,
            "organisation": self.organisation,
            "department": self.department,
            "title": self.title,
            "tags": self.tags,
            "notes": self.notes,
            "active": self.active,
            "time_zone": self.time_zone,
            "working_hours": self.working_hours,
            "languages": self.languages,
            "daily_capacity": self.daily_capacity,
        }

    @property
    def language_list(self) -> list[str]:
        return [code.strip() for code in (self.languages or "").split(",") if code.strip()]


class Absence(db.Model):
    """Days a specialist is away (inclusive, in their own zone), with an optional stand-in."""

    __tablename__ = "specialist_absences"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint("stand_in_id IS NULL OR stand_in_id <> specialist_id", name="stand_in_not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("specialists.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    stand_in_id: Mapped[int | None] = mapped_column(ForeignKey("specialists.id"))
    note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    specialist = relationship("Specialist", foreign_keys=[specialist_id], back_populates="absences")
    stand_in = relationship("Specialist", foreign_keys=[stand_in_id])

    def snapshot(self) -> dict:
        return {
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "stand_in_id": self.stand_in_id,
            "note": self.note,
        }
