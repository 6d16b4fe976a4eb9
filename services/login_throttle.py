"""Login throttling that slows guessing without locking the real user out.

Failures are counted per client address and per account. Past a few free failures each
scope must wait before its next try, the wait doubling with every further failure (1 s, 2 s,
4 s, ... up to LOGIN_MAX_DELAY_SECONDS). A browser that has logged into the account before
(a signed "known device" cookie) is counted on its own instead: strangers guessing at a
person's password, or sharing their proxy's address, cannot keep that person out.

Counts live in the rate limiter's storage: Redis when REDIS_URL is set, so every worker
sees the same figures; memory otherwise.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from limits.storage import storage_from_string

from services.app_state import app_state

DEVICE_COOKIE = "known_device"
DEVICE_COOKIE_DAYS = 365
KEY_PREFIX = "handoff:login:"


@dataclass(frozen=True)
class Scope:
    kind: str  # "address", "account" or "device"
    value: str
    free_failures: int

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.value.encode()).hexdigest()[:32]
        return f"{KEY_PREFIX}{self.kind}:{digest}"


def _storage():
    state = app_state()
    if state.login_throttle_storage is None:
        state.login_throttle_storage = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
    return state.login_throttle_storage


def _enabled() -> bool:
    return current_app.config["RATELIMIT_ENABLED"]


def scopes_for(address: str, email: str, device: str | None) -> list[Scope]:
    """Who is counted for this attempt: the known device alone, else the address and the account."""
    free = current_app.config["LOGIN_FREE_FAILURES"]
    if device:
        return [Scope("device", device, free * 2)]
    return [Scope("address", address or "unknown", free * 4), Scope("account", email, free)]


def seconds_to_wait(scopes: list[Scope]) -> int:
    """How long before this attempt may be checked (0: now)."""
    if not _enabled():
        return 0
    storage, now = _storage(), time.time()
    waits = [storage.get_expiry(f"{scope.key}:wait") - now for scope in scopes if storage.get(f"{scope.key}:wait")]
    return max(1, int(max(waits) + 0.999)) if waits else 0


def record_failure(scopes: list[Scope]) -> None:
    if not _enabled():
        return
    storage, config = _storage(), current_app.config
    for scope in scopes:
        failures = storage.incr(f"{scope.key}:failures", config["LOGIN_FAILURE_WINDOW_SECONDS"])
        if failures > scope.free_failures:
            delay = min(2 ** (failures - scope.free_failures - 1), config["LOGIN_MAX_DELAY_SECONDS"])
            storage.clear(f"{scope.key}:wait")
            storage.incr(f"{scope.key}:wait", delay)


def record_success(scopes: list[Scope]) -> None:
    """The right password: the account's (or device's) count starts again; the address's does not."""
    if not _enabled():
        return
    storage = _storage()
    for scope in scopes:
        if scope.kind != "address":
            storage.clear(f"{scope.key}:failures")
            storage.clear(f"{scope.key}:wait")


# --- known devices ---------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def _account_tag(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def known_device(cookie: str | None, email: str) -> str | None:
    """The device id when this browser has logged into this account before, else None."""
    if not cookie:
        return None
    try:
        data = _serializer().loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or _account_tag(email) not in data.get("accounts", []):
        return None
    return str(data.get("device"))


def device_cookie_after_login(cookie: str | None, email: str) -> str:
    """The cookie value remembering that this browser logged into this account (last five kept)."""
    try:
        data = _serializer().loads(cookie) if cookie else {}
    except BadSignature:
        data = {}
    device = data.get("device") if isinstance(data, dict) else None
    accounts = [a for a in (data.get("accounts", []) if isinstance(data, dict) else []) if a != _account_tag(email)]
    return _serializer().dumps(
        {"device": device or secrets.token_urlsafe(16), "accounts": ([_account_tag(email)] + accounts)[:5]}
    )
