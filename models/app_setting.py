"""Settings admins change in the app (not deployment configuration)."""

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class AppSetting(db.Model):
    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict | str | int | None] = mapped_column(JSON)
