"""A named key the helpdesk uses to call the JSON API; only its hash is stored."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db, utcnow

API_KEY_ROLES = ("agent", "lead")


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('agent', 'lead')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(10))
    # The public part of the key, used to find the row; the secret part is only hashed.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Hash of the one-time token of the form that made the key: unique, so that two copies of
    # one form sent at once (a double click) cannot both make a key, whatever serves them.
    creation_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    created_by = relationship("User")

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.name} {self.role}>"
