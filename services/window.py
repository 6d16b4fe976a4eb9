"""The customer's 24-hour WhatsApp window: open until 24 h after their last message."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from models import InboundMessage, db, utcnow
from onemsg.errors import OneMsgError
from services.app_state import Cached, app_state
from services.onemsg_gateway import client

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class WindowState:
    phone: str
    last_inbound_at: datetime | None
    checked_at: datetime
    source: str  # "stored", "1msg" (looked up), "none" (no message known), "unchecked" (1MSG unreachable)

    @property
    def closes_at(self) -> datetime | None:
        return self.last_inbound_at + WINDOW if self.last_inbound_at else None

    @property
    def is_open(self) -> bool:
        return self.closes_at is not None and self.closes_at > self.checked_at

    @property
    def seconds_left(self) -> int:
        return max(0, int((self.closes_at - self.checked_at).total_seconds())) if self.is_open else 0


def last_inbound_at(phone: str) -> datetime | None:
    """The newest stored message from this customer (one indexed read)."""
    return db.session.scalar(select(func.max(InboundMessage.sent_at)).where(InboundMessage.customer_phone == phone))


def recent_messages(phone: str, limit: int = 10) -> list[InboundMessage]:
    """The customer's latest stored messages, oldest first, as a chat reads (one indexed read)."""
    newest_first = db.session.scalars(
        select(InboundMessage)
        .where(InboundMessage.customer_phone == phone)
        .order_by(InboundMessage.sent_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    ).all()
    return newest_first[::-1]


def last_inbound_by_phone(phones: list[str]) -> dict[str, datetime]:
    """The newest stored message per phone, for a list page (one query)."""
    if not phones:
        return {}
    rows = db.session.execute(
        select(InboundMessage.customer_phone, func.max(InboundMessage.sent_at))
        .where(InboundMessage.customer_phone.in_(set(phones)))
        .group_by(InboundMessage.customer_phone)
    )
    return dict(rows.all())


def session_window(phone: str, *, lookup: bool = True) -> WindowState:
    """The window for `phone`; asks 1MSG's message history when nothing is stored."""
    now = utcnow()
    stored = last_inbound_at(phone)
    if stored is not None:
        return WindowState(phone, stored, now, "stored")
    if lookup:
        try:
            looked_up = _lookup_last_inbound(phone)
        except OneMsgError:
            return WindowState(phone, None, now, "unchecked")
        if looked_up is not None:
            return WindowState(phone, looked_up, now, "1msg")
    return WindowState(phone, None, now, "none")


def window_from(phone: str, last: datetime | None) -> WindowState:
    return WindowState(phone, last, utcnow(), "stored" if last else "none")


def _lookup_last_inbound(phone: str) -> datetime | None:
    """Ask 1MSG once per phone and cache the answer briefly (also a miss); raises OneMsgError."""
    cache = app_state().window_lookups
    hit = cache.get(phone)
    if hit and hit.fresh(current_app.config["WINDOW_LOOKUP_CACHE_SECONDS"]):
        return hit.value
    history = client().messages(phone.lstrip("+") + "@c.us", last=True, limit=50)
    times = [m.get("time") for m in history if not _from_me(m.get("fromMe")) and m.get("time")]
    last = _from_unix(max(int(t) for t in times)) if times else None
    cache[phone] = Cached(last)
    return last


def forget_lookup(phone: str) -> None:
    """Drop the cached 1MSG answer, e.g. when an inbound message arrives."""
    app_state().window_lookups.pop(phone, None)


def _from_me(value) -> bool:
    return value in (True, 1, "1", "true", "True")


def _from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
