"""The status poll's one read: who is asking and the handoff, in one indexed query.

An open ticket page polls each in-flight handoff every STATUS_POLL_SECONDS, and most polls find
nothing new (a 304). Loading the user through the login machinery (an ORM object per request)
and then the handoff (another) cost more than the answer; here one statement reads, by primary
key and the session token's unique hash, the live session's user (active, role, time zone) and
the handoff's columns. The check is as strict as services.sessions.load: a logged-out, expired
or deactivated session finds no row at once, with no cache in between.

The statement runs alone on an autocommit connection: one SELECT is consistent by itself, and
the BEGIN and ROLLBACK around it would be two more round trips (PostgreSQL) or driver calls.
"""

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select

from models import Handoff, User, db, utcnow
from models.user import ROLE_RANK
from models.user_session import UserSession
from services.app_state import app_state
from services.sessions import hash_token

# The statuses whose fragment also depends on the failure advice (services.handoffs.triage_for),
# which needs more than the handoff's row: their polls take the full path.
TRIAGED = ("failed", "unknown", "queued")

_READ = (
    select(User.role.label("user_role"), User.time_zone.label("user_time_zone"), *Handoff.__table__.columns)
    .select_from(User)
    .join(
        UserSession,
        and_(
            UserSession.user_id == User.id,
            UserSession.token_hash == bindparam("token_hash"),
            UserSession.expires_at > bindparam("now"),
        ),
    )
    .outerjoin(Handoff, Handoff.id == bindparam("handoff_id"))
    .where(User.id == bindparam("user_id"), User.active.is_(True))
)


class HandoffRow:
    """A handoff's columns as read, with the model's derived values the fragment shows."""

    is_final = Handoff.is_final
    specialist_name = Handoff.specialist_name

    def __init__(self, columns: dict):
        self.__dict__.update(columns)


@dataclass(frozen=True)
class PollState:
    role: str
    time_zone: str | None
    handoff: HandoffRow | None  # None: no such handoff

    def allows(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def needs_triage(self) -> bool:
        return self.handoff.status in TRIAGED or self.handoff.failed_at is not None

    @property
    def etag(self) -> str:
        """The fragment's ETag for a handoff without failure advice (so no retry offer in it)."""
        return fragment_etag(self.handoff)


def fragment_etag(handoff, offer: str = "") -> str:
    """The status fragment's ETag, from a Handoff or a HandoffRow: one format for the fast path
    and the full one, so a browser's revalidation matches whichever answers it."""
    return f"{handoff.id}-{handoff.status}-{handoff.updated_at.timestamp() if handoff.updated_at else 0}-{offer}"


def read(session_user_id: str | None, handoff_id: int) -> PollState | None:
    """The state for a session cookie's `<user id>:<token>`, or None when it opens no live session."""
    ident, _, token = (session_user_id or "").partition(":")
    if not ident.isdigit() or len(ident) > 18 or not token:
        return None
    params = {"token_hash": hash_token(token), "now": utcnow(), "handoff_id": handoff_id, "user_id": int(ident)}
    with _autocommit_engine().connect() as connection:
        row = connection.execute(_READ, params).mappings().first()
    if row is None:
        return None
    columns = dict(row)
    role, zone = columns.pop("user_role"), columns.pop("user_time_zone")
    return PollState(role, zone, HandoffRow(columns) if columns["id"] is not None else None)


def _autocommit_engine():
    """The app's engine (same pool) whose connections run each statement as its own transaction,
    made once per app. PostgreSQL: psycopg's autocommit (no BEGIN, no ROLLBACK). SQLite: the driver
    is in autocommit already (services/database.py) and the option only skips our BEGIN; SQLite's
    AUTOCOMMIT isolation level would cost two PRAGMA statements per checkout instead."""
    state = app_state()
    if state.autocommit_engine_of is not db.engine:
        if db.engine.dialect.name == "sqlite":
            state.autocommit_engine = db.engine.execution_options(statement_is_transaction=True)
        else:
            state.autocommit_engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        state.autocommit_engine_of = db.engine
    return state.autocommit_engine
