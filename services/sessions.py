"""Server-side sessions: each login is a row, so logging out ends it for good.

The session cookie and the "remember me" cookie both carry `<user id>:<token>`; the
database keeps only the token's SHA-256. A cookie saved before a logout, a password change
or "log out everywhere" names a row that is gone, and opens nothing.
"""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from models import User, db, utcnow
from models.user_session import UserSession
from services import audit

# A rotated remember-me token stays valid this long, for the page's parallel requests
# (htmx fragments, assets) that left the browser with the old cookie.
ROTATION_GRACE = timedelta(seconds=30)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, *, remember: bool) -> str:
    """Open a new session for the user; returns the token the cookies carry."""
    token = secrets.token_urlsafe(32)
    config = current_app.config
    lifetime = timedelta(days=config["REMEMBER_DAYS"]) if remember else timedelta(hours=config["SESSION_HOURS"])
    # Rows that can no longer open anything go when their user logs in again.
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= utcnow()))
    db.session.add(
        UserSession(user_id=user.id, token_hash=hash_token(token), remember=remember, expires_at=utcnow() + lifetime)
    )
    user.session_token = token
    return token


def cookie_value(user: User) -> str:
    return f"{user.id}:{user.session_token}"


def load(cookie: str) -> User | None:
    """The active user whose live session the cookie names, or None."""
    ident, _, token = (cookie or "").partition(":")
    if not ident.isdigit() or len(ident) > 18 or not token:
        return None
    user = db.session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == int(ident),
            User.active.is_(True),
            UserSession.token_hash == hash_token(token),
            UserSession.expires_at > utcnow(),
        )
    )
    if user is not None:
        user.session_token = token
    return user


def rotate(user: User) -> str:
    """A remember-me cookie was used: issue a new token; the old one expires shortly."""
    old = db.session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(user.session_token)))
    if old is not None:
        old.expires_at = min(old.expires_at, utcnow() + ROTATION_GRACE)
    return start(user, remember=True)


def end(user: User) -> None:
    """Log this device out: its session row goes."""
    token = getattr(user, "session_token", None)
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))


def end_all(user: User, *, actor: User | None, keep_current: bool = False) -> int:
    """Log the user out everywhere (optionally keeping the caller's own session); returns how many ended."""
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if keep_current and getattr(user, "session_token", None):
        query = query.where(UserSession.token_hash != hash_token(user.session_token))
    ended = db.session.execute(query).rowcount
    if actor is not None:
        audit.record(
            "user.logout_everywhere", "user", user.id, actor=actor, summary=f"ended {ended} session(s) of {user.email}"
        )
    return ended


def count_live(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.expires_at > utcnow())
    )
