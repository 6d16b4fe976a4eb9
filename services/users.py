"""Accounts: creation, role changes, deactivation and login checks."""

import secrets

from sqlalchemy import func, select

from models import ROLES, User, db, utcnow
from services import audit, sessions, time_zones
from services.app_state import app_state
from services.passwords import hash_password, password_problem, verify_password


class UserError(ValueError):
    """A user change that cannot be made, with a message for the person asking."""


class PasswordError(UserError):
    """The new password is refused by the policy (services/passwords.py)."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(email: str, name: str, role: str, password: str, *, actor=None) -> User:
    """Create an account; raises UserError for a duplicate email, bad role or weak password."""
    email = normalise_email(email)
    if not email or "@" not in email:
        raise UserError("Enter a valid email address.")
    if role not in ROLES:
        raise UserError(f"Role must be one of: {', '.join(ROLES)}.")
    if problem := password_problem(password, (email, name)):
        raise PasswordError(problem)
    if find_by_email(email):
        raise UserError(f"A user with the email {email} already exists.")
    user = User(email=email, name=name.strip() or email, role=role, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.create",
        "user",
        user.id,
        actor=actor,
        label=None if actor else "cli",
        summary=f"created {email} as {role}",
        after={"email": email, "name": user.name, "role": role, "active": True},
    )
    return user


def update_user(user: User, *, name: str, role: str, active: bool, actor, new_password: str | None = None) -> None:
    """Change name, role or active flag (deactivation ends the user's sessions), and the password if given."""
    if role not in ROLES:
        raise UserError(f"Role must be one of: {', '.join(ROLES)}.")
    if actor is not None and actor.id == user.id and (role != user.role or not active):
        raise UserError("You cannot change your own role or deactivate yourself.")
    before = {"name": user.name, "role": user.role, "active": user.active}
    if user.active and not active:
        sessions.end_all(user, actor=None)
    user.name, user.role, user.active = name.strip() or user.name, role, active
    after = {"name": user.name, "role": user.role, "active": user.active}
    b, a = audit.changed_fields(before, after)
    if a:
        audit.record("user.update", "user", user.id, actor=actor, summary=f"changed {user.email}", before=b, after=a)
    if new_password:
        set_password(user, new_password, actor=actor)


def set_password(user: User, password: str, *, actor) -> None:
    """Set a new password and end the user's sessions (all but the caller's own when it is theirs)."""
    if problem := password_problem(password, (user.email, user.name)):
        raise PasswordError(problem)
    user.password_hash = hash_password(password)
    sessions.end_all(user, actor=None, keep_current=actor is not None and actor.id == user.id)
    audit.record("user.password", "user", user.id, actor=actor, summary=f"password changed for {user.email}")


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    user = find_by_email(email)
    if user is None:
        verify_password(_dummy_hash(), password)  # same work as a real check: no email enumeration by timing
        return None
    if not user.active or not verify_password(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made once per app with the app's hashing cost."""
    state = app_state()
    if state.dummy_password_hash is None:
        state.dummy_password_hash = hash_password(secrets.token_hex(16))
    return state.dummy_password_hash


def set_time_zone(user: User, zone: str | None, *, actor) -> None:
    """Show this user times in `zone` (an IANA name), or in their browser's zone when None."""
    if zone is not None and time_zones.valid_zone(zone) is None:
        raise ValueError(f"Unknown time zone: {zone[:64]!r}")
    if zone == user.time_zone:
        return
    audit.record(
        "user.time_zone",
        "user",
        user.id,
        actor=actor,
        summary=f"user {user.email}",
        before={"time_zone": user.time_zone},
        after={"time_zone": zone},
    )
    user.time_zone = zone
