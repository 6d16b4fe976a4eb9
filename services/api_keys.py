"""API keys for the helpdesk: made once, stored only as a hash, revoked by admins."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from models import API_KEY_ROLES, ApiKey, db, utcnow
from services import audit

KEY_PREFIX = "shk"  # "specialist handoff key": recognisable in logs and secret scanners
# Writing last_used_at on every request would turn every API read into a write;
# once a minute is precise enough for "last used".
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A key that cannot be made as asked, with the field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class NewKey:
    api_key: ApiKey
    secret: str  # the full key, shown once and never stored


def _hash(secret_part: str) -> str:
    # A fast hash is enough: the secret is 256 random bits, not a password a person chose.
    return hashlib.sha256(secret_part.encode()).hexdigest()


def create(name: str, role: str, *, actor=None, label: str | None = None, creation_token: str | None = None) -> NewKey:
    """Make a key; the caller commits and shows `secret` once.

    `creation_token` (the form's one-time token) may make one key only: a second key with it
    raises IntegrityError at the flush, or at the commit of whichever transaction comes second."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ApiKeyError("name", "Give the key a name of 1 to 80 characters, e.g. the helpdesk's name.")
    if role not in API_KEY_ROLES:
        raise ApiKeyError("role", f"The role must be one of {', '.join(API_KEY_ROLES)}.")
    prefix, secret_part = secrets.token_hex(6), secrets.token_urlsafe(32)
    api_key = ApiKey(
        name=name,
        role=role,
        prefix=prefix,
        key_hash=_hash(secret_part),
        created_by_id=actor.id if actor is not None else None,
        creation_token=_hash(creation_token) if creation_token else None,
    )
    db.session.add(api_key)
    db.session.flush()
    audit.record(
        "api_key.create",
        "api_key",
        api_key.id,
        actor=actor,
        label=label,
        summary=f"API key {name} ({role})",
        after={"name": name, "role": role, "prefix": prefix},
    )
    return NewKey(api_key, f"{KEY_PREFIX}_{prefix}_{secret_part}")


def made_with(creation_token: str | None) -> bool:
    """Whether a key was already made from the form carrying `creation_token`."""
    if not creation_token:
        return False
    return db.session.scalar(select(ApiKey.id).where(ApiKey.creation_token == _hash(creation_token))) is not None


def verify(presented: str) -> ApiKey | None:
    """The active key matching `presented`, or None; records its use."""
    parts = (presented or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(parts[2])):
        return None
    if api_key.revoked_at is not None:
        return None
    _touch(api_key)
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_PRECISION:
        api_key.last_used_at = now
        db.session.commit()


def revoke(api_key: ApiKey, *, actor=None, label: str | None = None) -> bool:
    """Stop the key working at once; False when it was already revoked."""
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = utcnow()
    audit.record(
        "api_key.revoke",
        "api_key",
        api_key.id,
        actor=actor,
        label=label,
        summary=f"API key {api_key.name} ({api_key.role})",
        before={"revoked": False},
        after={"revoked": True},
    )
    return True


def all_keys() -> list[ApiKey]:
    """Every key, active first, newest first."""
    return db.session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())).all()


def active_with_name(name: str) -> list[ApiKey]:
    """Active keys already named `name` (ignoring case and spaces around)."""
    wanted = (name or "").strip().lower()
    return db.session.scalars(
        select(ApiKey).where(ApiKey.revoked_at.is_(None), func.lower(ApiKey.name) == wanted)
    ).all()
