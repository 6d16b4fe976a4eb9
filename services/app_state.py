"""What one app keeps between requests: its 1MSG client and breaker, short-lived caches of 1MSG's
answers, the login throttle's counters, the webhook applier, the status poll's autocommit engine.
One typed object per app (`app_state()`), made by create_app, instead of string keys scattered
over app.extensions; tests that build several apps get one each."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from flask import Flask, current_app

if TYPE_CHECKING:  # annotations only: these modules use app_state themselves
    from limits.storage import Storage
    from sqlalchemy.engine import Engine

    from onemsg.client import OneMsgClient
    from services.applier import Applier, Notifier
    from services.onemsg_gateway import Breaker

EXTENSION_KEY = "specialist_handoff"
T = TypeVar("T")


@dataclass
class Cached(Generic[T]):
    """An answer and when it was taken (monotonic clock)."""

    value: T
    at: float = field(default_factory=time.monotonic)

    def fresh(self, max_age: float) -> bool:
        return time.monotonic() - self.at < max_age


@dataclass
class AppState:
    onemsg_client: OneMsgClient | None = None
    onemsg_breaker: Breaker | None = None
    channel_status: Cached[str] | None = None  # 1MSG's channel status, for every page's header
    webhook_registered: Cached[bool | None] | None = None  # whether 1MSG lists our receiver
    templates: Cached[list[dict]] | None = None  # the channel's approved templates
    # The customer's last message time as 1MSG answered it, per phone (a miss is cached too).
    window_lookups: dict[str, Cached[datetime | None]] = field(default_factory=dict)
    login_throttle_storage: Storage | None = None
    dummy_password_hash: str | None = None  # what a login for an unknown email is checked against
    webhook_applier: Applier | None = None
    # The status poll's statements each run as their own transaction (services/status_poll.py):
    # the app's engine with that option, and the engine it was made from.
    autocommit_engine: Engine | None = None
    autocommit_engine_of: Engine | None = None
    webhook_notifier: Notifier | None = None  # with the applier process (PostgreSQL)


def install(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = AppState()


def app_state(app: Flask | None = None) -> AppState:
    """The state of `app`, or of the current app."""
    return (app or current_app).extensions[EXTENSION_KEY]
