"""Who else has a ticket open, and which cards for it went just now: the ticket page's poll asks.

No new infrastructure: one row per user and ticket whose time the poll moves on, and the
handoffs already stored. A "tab" is the random name the page got when it was drawn; its
forms' keys start with it, so a card sent from this very page is not news to it."""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from models import Handoff, Ticket, TicketViewer, User, db, utcnow

# The page polls every 5 s: three missed polls and the viewer has gone.
VIEWING_SECONDS = 15
# A row not moved on for this long is no one's open page: the worker deletes it, so the table
# holds recent viewers only. Far above VIEWING_SECONDS; a page still open writes its row again.
FORGET_AFTER = timedelta(hours=1)
# A card this recent is news for anyone who did not send it from the page they are looking at.
RECENT_SEND_SECONDS = 120
TAB_PATTERN = re.compile(r"^[0-9a-f]{12}$")
TAB_KEY = re.compile(r"^user:\d+:[0-9a-f]{12}\.")


def new_tab() -> str:
    return secrets.token_hex(6)


def valid_tab(value: str | None) -> str | None:
    return value if value and TAB_PATTERN.match(value) else None


def seen(user_id: int, ticket_id: int, at: datetime | None = None) -> None:
    """This user has the ticket open now (one upsert; the caller commits)."""
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    moment = at or utcnow()
    statement = module.insert(TicketViewer).values(user_id=user_id, ticket_id=ticket_id, seen_at=moment)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[TicketViewer.user_id, TicketViewer.ticket_id], set_={"seen_at": moment}
        )
    )


def forget_stale(now: datetime | None = None) -> int:
    """Delete viewer rows older than FORGET_AFTER; returns how many (the caller commits)."""
    cutoff = (now or utcnow()) - FORGET_AFTER
    return db.session.execute(delete(TicketViewer).where(TicketViewer.seen_at < cutoff)).rowcount


@dataclass(frozen=True)
class RecentSend:
    handoff: Handoff
    seconds_ago: int
    by: str  # "Alex Agent", "you in another tab", "the helpdesk API", "automatically"


@dataclass(frozen=True)
class Activity:
    viewers: list[str]
    sends: list[RecentSend]

    @property
    def key(self) -> str:
        """Changes when someone comes or goes or a card goes: the page then swaps its note."""
        return "-".join([",".join(self.viewers), ",".join(str(s.handoff.id) for s in self.sends)]) or "none"


def activity(ticket: Ticket, user: User, tab: str | None) -> Activity:
    """Other users with the ticket open now, and recent sends not made from this page."""
    now = utcnow()
    viewers = db.session.scalars(
        select(User.name)
        .join(TicketViewer, TicketViewer.user_id == User.id)
        .where(
            TicketViewer.ticket_id == ticket.id,
            TicketViewer.user_id != user.id,
            TicketViewer.seen_at >= now - timedelta(seconds=VIEWING_SECONDS),
        )
        .order_by(User.name)
    ).all()
    recent = db.session.scalars(
        select(Handoff)
        .where(Handoff.ticket_id == ticket.id, Handoff.created_at >= now - timedelta(seconds=RECENT_SEND_SECONDS))
        .order_by(Handoff.id.desc())
    ).all()
    mine = f"user:{user.id}:{tab}." if tab else None
    sends = [
        RecentSend(h, max(0, int((now - h.created_at).total_seconds())), _sender(h, user))
        for h in recent
        if mine is None or not h.idempotency_key.startswith(mine)
    ]
    return Activity(list(viewers), sends)


def _sender(handoff: Handoff, user: User) -> str:
    if handoff.idempotency_key.startswith("follow-up-"):
        return "automatically, when the customer answered"
    if handoff.agent_id is None:
        return "the helpdesk API"
    if handoff.agent_id == user.id:
        # A form key names its page; a retry's key (retry-of-N) names none, so only "you" is sure.
        return "you, in another tab" if TAB_KEY.match(handoff.idempotency_key) else "you"
    return handoff.agent.name
