"""Delivering queued handoff events to the helpdesk, signed the Standard Webhooks way.

Events wait in the outbox_events table (written in the same transaction as the handoff's
change). A worker claims due events, POSTs them, and records the answer: delivered, or
retried later with exponential backoff and jitter until the give-up period has passed.
Events of one handoff go out in order: an event waits while an earlier one of the same
handoff is not delivered yet.
"""

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from models import OutboxEvent, db, utcnow
from services import audit

CLAIM_BATCH = 20
# Rounds per pass: after event N of a handoff is delivered, N+1 can go out in the same pass.
MAX_ROUNDS = 5
MAX_BACKOFF_SECONDS = 3600
# Longer than one POST can take, so a live worker's claim never expires under it.
CLAIM_LEASE = timedelta(seconds=120)
USER_AGENT = "SpecialistHandoff-Webhooks/1"


@dataclass
class Claimed:
    id: int
    webhook_id: str
    body: bytes


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delivered or self.failed or self.given_up)

    def __str__(self) -> str:
        return f"delivered {self.delivered}, failed {self.failed}, given up {self.given_up}"


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header, made by the official Standard Webhooks library:
    v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return _webhook(secret).sign(msg_id=webhook_id, timestamp=moment, data=body.decode())


def _webhook(secret: str) -> Webhook:
    # Standard Webhooks secrets are "whsec_" + base64 (the library decodes them). Any other
    # string is the key as it is: the library would read a bare string as base64, so give bytes.
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def usable_secret(secret: str) -> bool:
    """Whether the library can sign with it: "whsec_" followed by nothing base64 makes no key."""
    try:
        _webhook(secret)
    except EmptyWebhookSecretError:
        return False
    return True


def backoff_seconds(attempts: int) -> float:
    """Doubling delay after each failed attempt, capped at an hour, with jitter (50-100 %)."""
    base = current_app.config["HELPDESK_WEBHOOK_RETRY_BASE_SECONDS"]
    delay = min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    # Jitter spreads the retries of many events that failed together (a helpdesk outage).
    return delay * random.uniform(0.5, 1.0)


def deliver_due() -> DeliveryReport:
    """One worker pass: claim due events, POST them, record the answers."""
    report = DeliveryReport()
    config = current_app.config
    if not config.get("HELPDESK_WEBHOOK_URL"):
        return report
    if not config.get("HELPDESK_WEBHOOK_SECRET"):
        current_app.logger.error("HELPDESK_WEBHOOK_SECRET is not set: handoff events wait unsent")
        return report
    if not usable_secret(config["HELPDESK_WEBHOOK_SECRET"]):
        current_app.logger.error(
            "HELPDESK_WEBHOOK_SECRET starts with whsec_ but no key follows it (whsec_ + base64 of the key): "
            "handoff events wait unsent"
        )
        return report
    with requests.Session() as http:
        for _ in range(MAX_ROUNDS):
            claimed = claim()
            if not claimed:
                break
            for event in claimed:
                _deliver_one(http, event, report)
    return report


def claim(limit: int = CLAIM_BATCH) -> list[Claimed]:
    """Take due events whose handoff has no earlier undelivered event; commit the claim."""
    now = utcnow()
    earlier = aliased(OutboxEvent)
    waits_for_earlier = exists().where(
        earlier.handoff_id == OutboxEvent.handoff_id, earlier.id < OutboxEvent.id, earlier.status != "delivered"
    )
    statement = (
        select(OutboxEvent)
        .where(
            OutboxEvent.status == "pending",
            OutboxEvent.next_attempt_at <= now,
            or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
            ~waits_for_earlier,
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Workers on other hosts skip rows another worker is claiming instead of waiting.
        # SQLite needs no lock: its write transactions (BEGIN IMMEDIATE) already run one at a time.
        statement = statement.with_for_update(skip_locked=True, of=OutboxEvent)
    events = db.session.scalars(statement).all()
    claimed = []
    for event in events:
        event.claimed_until = now + CLAIM_LEASE
        claimed.append(Claimed(event.id, event.webhook_id, _body(event.payload)))
    db.session.commit()  # no transaction stays open during the HTTP calls
    return claimed


def _body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _deliver_one(http: requests.Session, event: Claimed, report: DeliveryReport) -> None:
    error = post_event(http, event)
    if error is None:
        _record_success(event.id)
        report.delivered += 1
    elif _record_failure(event.id, error):
        report.given_up += 1
        report.errors.append(f"event {event.id}: {error}")
    else:
        report.failed += 1


def post_event(http: requests.Session, event: Claimed) -> str | None:
    """POST one signed event; None on a 2xx answer, else what went wrong."""
    config = current_app.config
    url = config["HELPDESK_WEBHOOK_URL"]
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(config["HELPDESK_WEBHOOK_SECRET"], event.webhook_id, timestamp, event.body),
    }
    try:
        # A redirect is a failure (Standard Webhooks): the signed body must reach the configured URL.
        response = http.post(
            url,
            data=event.body,
            headers=headers,
            allow_redirects=False,
            timeout=(3.0, config["HELPDESK_WEBHOOK_TIMEOUT"]),
        )
    except requests.RequestException as exc:
        return _without_url(f"{type(exc).__name__}: {exc}", url)
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:300]}"


def _without_url(message: str, url: str) -> str:
    """Error texts of requests quote the URL, whose path may hold a secret: leave it out."""
    path = urlsplit(url).path
    if path and path != "/":
        message = message.replace(path, "/…")
    return message[:1000]


def _record_success(event_id: int) -> None:
    event = db.session.get(OutboxEvent, event_id)
    now = utcnow()
    event.status, event.delivered_at, event.claimed_until = "delivered", now, None
    event.attempts += 1
    event.first_attempt_at = event.first_attempt_at or now
    event.last_attempt_at = now
    db.session.commit()


def _record_failure(event_id: int, error: str) -> bool:
    """Schedule the next try, or give up after the retry period; True when given up."""
    event = db.session.get(OutboxEvent, event_id)
    now = utcnow()
    event.attempts += 1
    event.first_attempt_at = event.first_attempt_at or now
    event.last_attempt_at, event.last_error, event.claimed_until = now, error, None
    give_up_after = timedelta(hours=current_app.config["HELPDESK_WEBHOOK_GIVE_UP_HOURS"])
    given_up = now - event.first_attempt_at >= give_up_after
    if given_up:
        event.status = "dead"
        current_app.logger.error("handoff event %s given up after %s attempts: %s", event.id, event.attempts, error)
    else:
        event.next_attempt_at = now + timedelta(seconds=backoff_seconds(event.attempts))
    db.session.commit()
    return given_up


def replay(event: OutboxEvent, *, actor=None) -> bool:
    """Send an undelivered event again now, with a fresh retry period; False if delivered."""
    if event.status == "delivered":
        return False
    before = {"status": event.status, "attempts": event.attempts}
    event.status, event.next_attempt_at, event.claimed_until = "pending", utcnow(), None
    event.first_attempt_at = None
    audit.record(
        "outbox.replay",
        "outbox_event",
        event.id,
        actor=actor,
        summary=f"replay {event.event_type} of handoff {event.handoff_id}",
        before=before,
        after={"status": "pending"},
    )
    return True


def undelivered(limit: int = 200) -> list[OutboxEvent]:
    """Events not delivered yet, given-up ones and those that failed at least once first."""
    return db.session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.status != "delivered")
        .order_by((OutboxEvent.status == "dead").desc(), OutboxEvent.attempts.desc(), OutboxEvent.id)
        .limit(limit)
    ).all()


def counts() -> dict[str, int]:
    """How many events are pending, delivered and given up."""
    rows = db.session.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status))
    return {"pending": 0, "delivered": 0, "dead": 0, **dict(rows.all())}
