"""Handoff events out to the helpdesk: queued with the change, signed, retried, in order, never lost."""

import base64
import hashlib
import hmac
import itertools
import json
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update
from standardwebhooks import Webhook, WebhookVerificationError

from models import AuditEntry, Handoff, OutboxEvent, db, utcnow
from onemsg.emulator import serve_in_thread
from services import events, outbox, status, worker
from tests.helpers import wait_until

SECRET = "whsec_" + base64.b64encode(b"helpdesk-signing-key-0123456789ab").decode()


@pytest.fixture
def app(make_app, emulator, webhook_receiver):
    """The app pointed at the emulator, with the webhook receiver standing in for the helpdesk."""
    app = make_app(
        ONEMSG_API_URL=emulator.base_url,
        ONEMSG_CHANNEL_ID=emulator.channel_id,
        ONEMSG_TOKEN=emulator.token,
        HELPDESK_WEBHOOK_URL=webhook_receiver.url,
        HELPDESK_WEBHOOK_SECRET=SECRET,
    )
    with app.app_context():
        yield app


def verify_signature(secret: str, headers: dict, raw: bytes) -> None:
    """What the helpdesk does with each POST, written from the Standard Webhooks spec (not with
    the library that signs): the headers and the signature keep the format the spec gives."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.".encode() + raw
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in headers["Webhook-Signature"].split(" ")
    assert abs(time.time() - int(headers["Webhook-Timestamp"])) < 300


def progress(handoff: Handoff, *steps: str) -> None:
    """The handoff's status moves through `steps` the way webhooks move it, one commit each."""
    for step in steps:
        if step == "accepted":
            events.record_handoff_event(handoff.id, "accepted")
        else:
            status.apply_status(handoff.message_id, step, utcnow(), error="Bounced" if step == "failed" else None)
        db.session.commit()


def types_for(bodies: list[dict], handoff_id: int) -> list[str]:
    return [b["type"] for b in bodies if b["data"]["handoff_id"] == handoff_id]


def make_due(*event_ids: int) -> None:
    """Jump over the backoff delay, as if time had passed."""
    db.session.execute(
        update(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


# --- queued with the change ------------------------------------------------------------------


def test_the_event_is_queued_in_the_same_transaction_as_the_change(app, make_handoff):
    handoff = make_handoff()
    status.apply_status(handoff.message_id, "delivered", utcnow())
    db.session.rollback()  # the change is undone, and so is its event
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    status.apply_status(handoff.message_id, "delivered", utcnow())
    db.session.commit()
    [event] = db.session.scalars(select(OutboxEvent)).all()
    assert event.event_type == "delivered" and event.status == "pending" and event.webhook_id.startswith("msg_")
    data = event.payload["data"]
    assert event.payload["type"] == "handoff.delivered"
    assert data["handoff_id"] == handoff.id and data["status"] == "delivered"
    assert data["ticket"] == handoff.ticket.external_ref and data["message_id"] == handoff.message_id
    assert data["delivered_at"].endswith("Z") and data["accepted_at"].endswith("Z")
    assert data["failure_reason"] is None and data["read_at"] is None


def test_a_failure_event_carries_the_reason(app, make_handoff):
    handoff = make_handoff()
    progress(handoff, "failed")
    data = db.session.scalar(select(OutboxEvent)).payload["data"]
    assert data["status"] == "failed" and data["failure_reason"] == "Bounced"
    assert data["failure_code"] == "delivery_failed" and data["failed_at"]


def test_nothing_is_queued_without_a_helpdesk_url(make_app, make_handoff):
    app = make_app(HELPDESK_WEBHOOK_URL="")
    with app.app_context():
        handoff = make_handoff()
        progress(handoff, "accepted", "sent")
        assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


# --- signed delivery -------------------------------------------------------------------------


def test_events_are_delivered_signed(app, webhook_receiver, make_handoff):
    handoff = make_handoff()
    progress(handoff, "accepted", "sent")
    report = outbox.deliver_due()
    assert report.delivered == 2
    assert types_for(webhook_receiver.bodies, handoff.id) == ["handoff.accepted", "handoff.sent"]
    rows = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    for row, received in zip(rows, webhook_receiver.received):
        verify_signature(SECRET, received["headers"], received["raw"])
        assert Webhook(SECRET).verify(received["raw"], received["headers"]) == json.loads(received["raw"])
        assert received["headers"]["Webhook-Id"] == row.webhook_id
        assert received["headers"]["Content-Type"] == "application/json"
        assert row.status == "delivered" and row.attempts == 1 and row.delivered_at


def test_a_tampered_body_fails_verification(app, webhook_receiver, make_handoff):
    progress(make_handoff(), "accepted")
    outbox.deliver_due()
    [received] = webhook_receiver.received
    tampered = received["raw"].replace(b"accepted", b"read")
    with pytest.raises(AssertionError):
        verify_signature(SECRET, received["headers"], tampered)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, received["headers"])


def test_signature_matches_the_standard_webhooks_test_vector():
    """The reference example of the Standard Webhooks libraries."""
    signature = outbox.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_plain_secret_is_used_as_is(make_app, webhook_receiver, make_handoff):
    app = make_app(HELPDESK_WEBHOOK_URL=webhook_receiver.url, HELPDESK_WEBHOOK_SECRET="plain-long-random-secret")
    with app.app_context():
        progress(make_handoff(), "accepted")
        outbox.deliver_due()
        [received] = webhook_receiver.received
        verify_signature("plain-long-random-secret", received["headers"], received["raw"])
        Webhook(b"plain-long-random-secret").verify(received["raw"], received["headers"])


def test_without_a_secret_nothing_is_sent_unsigned(make_app, webhook_receiver, make_handoff):
    app = make_app(HELPDESK_WEBHOOK_URL=webhook_receiver.url, HELPDESK_WEBHOOK_SECRET="")
    with app.app_context():
        progress(make_handoff(), "accepted")
        assert not outbox.deliver_due()
        assert webhook_receiver.received == []
        assert db.session.scalar(select(OutboxEvent.status)) == "pending"


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!"])
def test_a_whsec_secret_without_a_key_sends_nothing_and_says_why(
    make_app, webhook_receiver, make_handoff, secret, caplog
):
    app = make_app(HELPDESK_WEBHOOK_URL=webhook_receiver.url, HELPDESK_WEBHOOK_SECRET=secret)
    with app.app_context():
        progress(make_handoff(), "accepted")
        assert not outbox.deliver_due()  # no exception out of the worker's pass
        assert webhook_receiver.received == []
        assert db.session.scalar(select(OutboxEvent.status)) == "pending"
        assert "no key follows it" in caplog.text


# --- retries, order, give up, replay ---------------------------------------------------------


def test_a_failing_helpdesk_is_retried_with_growing_delays(app, webhook_receiver, make_handoff):
    progress(make_handoff(), "accepted")
    event_id = db.session.scalar(select(OutboxEvent.id))
    webhook_receiver.fail_next = 2
    delays = []
    for expected_attempts in (1, 2):
        before = utcnow()
        assert outbox.deliver_due().failed == 1
        event = db.session.get(OutboxEvent, event_id)
        assert event.status == "pending" and event.attempts == expected_attempts
        assert event.last_error.startswith("HTTP 500")
        delays.append((event.next_attempt_at - before).total_seconds())
        assert not outbox.deliver_due(), "not retried before its time"
        make_due(event_id)
    base = app.config["HELPDESK_WEBHOOK_RETRY_BASE_SECONDS"]
    assert base * 0.5 <= delays[0] <= base + 1 and base <= delays[1] <= 2 * base + 1
    assert outbox.deliver_due().delivered == 1
    event = db.session.get(OutboxEvent, event_id)
    assert event.status == "delivered" and event.attempts == 3
    assert len(webhook_receiver.bodies) == 1


def test_backoff_doubles_up_to_an_hour_with_jitter(app):
    delays = [outbox.backoff_seconds(n) for n in range(1, 20)]
    assert 5 <= delays[0] <= 10 and 40 <= delays[3] <= 80
    assert max(delays) <= outbox.MAX_BACKOFF_SECONDS and delays[-1] >= outbox.MAX_BACKOFF_SECONDS / 2
    assert len({round(outbox.backoff_seconds(5), 6) for _ in range(5)}) > 1, "jittered"


def test_an_unreachable_helpdesk_is_an_error_without_the_url_path(make_app, make_handoff):
    app = make_app(HELPDESK_WEBHOOK_URL="http://127.0.0.1:9/hooks/secret-token-path", HELPDESK_WEBHOOK_SECRET=SECRET)
    with app.app_context():
        progress(make_handoff(), "accepted")
        assert outbox.deliver_due().failed == 1
        error = db.session.scalar(select(OutboxEvent.last_error))
        assert "ConnectionError" in error and "secret-token-path" not in error


def test_events_of_one_handoff_go_out_in_order(app, webhook_receiver, make_handoff):
    first, other = make_handoff(), make_handoff()
    progress(first, "accepted", "sent", "delivered", "read")
    progress(other, "accepted")
    webhook_receiver.fail_next = 1  # the first POST (first's "accepted") fails
    report = outbox.deliver_due()
    assert (report.failed, report.delivered) == (1, 1)
    assert types_for(webhook_receiver.bodies, other.id) == ["handoff.accepted"]
    assert types_for(webhook_receiver.bodies, first.id) == [], "later events wait for the first"
    make_due(*db.session.scalars(select(OutboxEvent.id)))
    assert outbox.deliver_due().delivered == 4
    assert types_for(webhook_receiver.bodies, first.id) == [
        "handoff.accepted",
        "handoff.sent",
        "handoff.delivered",
        "handoff.read",
    ]


def test_a_claim_skips_events_behind_an_undelivered_one(app, make_handoff):
    handoff = make_handoff()
    progress(handoff, "accepted", "sent")
    claimed = outbox.claim()
    assert [c.webhook_id for c in claimed] == [
        db.session.scalars(select(OutboxEvent.webhook_id).order_by(OutboxEvent.id)).first()
    ]
    assert outbox.claim() == [], "the claimed event is leased; the next one waits behind it"


def test_an_event_failing_for_a_day_is_given_up_then_replayed(app, client, auth, webhook_receiver, make_handoff):
    handoff = make_handoff()
    progress(handoff, "accepted", "sent")
    first_id, second_id = db.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)).all()
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == first_id)
        .values(first_attempt_at=utcnow() - timedelta(hours=24, minutes=1), attempts=30)
    )
    db.session.commit()
    webhook_receiver.fail_next = 1
    report = outbox.deliver_due()
    assert report.given_up == 1 and "HTTP 500" in report.errors[0]
    assert db.session.get(OutboxEvent, first_id).status == "dead"
    assert db.session.get(OutboxEvent, second_id).attempts == 0, "still waiting behind the given-up one"
    auth.login("admin")
    page = client.get("/admin/outbox/").get_data(as_text=True)
    assert "given up" in page and "HTTP 500" in page and "Replay" in page
    response = client.post(f"/admin/outbox/{first_id}/replay", follow_redirects=True)
    assert "will be sent again" in response.get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "outbox.replay"))
    assert outbox.deliver_due().delivered == 2
    assert types_for(webhook_receiver.bodies, handoff.id) == ["handoff.accepted", "handoff.sent"]
    assert "Every event has been delivered" in client.get("/admin/outbox/").get_data(as_text=True)


def test_the_outbox_page_is_for_admins(client, auth):
    auth.login("lead")
    assert client.get("/admin/outbox/").status_code == 403
    assert client.post("/admin/outbox/1/replay").status_code == 403


# --- restart without loss --------------------------------------------------------------------


def test_events_survive_a_restart_and_a_worker_killed_mid_delivery(app, make_app, webhook_receiver, make_handoff):
    handoff = make_handoff()
    progress(handoff, "accepted", "sent")
    handoff_id = handoff.id
    claimed = outbox.claim()  # the worker claims, then dies before posting
    assert len(claimed) == 1
    db.session.remove()
    restarted = make_app(
        ONEMSG_API_URL=app.config["ONEMSG_API_URL"],
        HELPDESK_WEBHOOK_URL=webhook_receiver.url,
        HELPDESK_WEBHOOK_SECRET=SECRET,
    )
    with restarted.app_context():
        assert not outbox.deliver_due(), "the dead worker's claim holds until its lease ends"
        db.session.execute(update(OutboxEvent).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        worker.run_pass()  # what `flask handoffs worker` does every few seconds
    assert types_for(webhook_receiver.bodies, handoff_id) == ["handoff.accepted", "handoff.sent"]


# --- the whole story, through the API alone --------------------------------------------------


def test_a_helpdesk_follows_a_handoff_to_read_and_gets_a_signed_event_per_step(
    app, emulator, webhook_receiver, make_specialist
):
    from services import api_keys

    key = api_keys.create("Helpdesk", "agent").secret
    specialist_id = make_specialist().id
    db.session.commit()  # SQLite: the live server needs the write lock
    server, base_url = serve_in_thread(app)
    try:
        emulator.connect(f"{base_url}/webhooks/1msg/{app.config['ONEMSG_WEBHOOK_SECRET']}")
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {key}"
        ticket = api.post(
            f"{base_url}/api/v1/tickets",
            json={
                "external_ref": "ZD-77",
                "subject": "Card charged twice",
                "customer_name": "Grace Hopper",
                "customer_phone": "+1 415 555 0199",
                "status": "ready",
            },
            timeout=10,
        )
        assert ticket.status_code == 201
        emulator.inbound("14155550199", "Hi, can I talk to billing?")  # 1MSG tells the app: window open
        handoff = _send_when_window_opens(api, base_url, specialist_id)
        final = _wait_for(
            lambda: api.get(f"{base_url}/api/v1/handoffs/{handoff['id']}", timeout=5).json(),
            lambda h: h["status"] == "read",
        )
        assert final["accepted_at"] and final["sent_at"] and final["delivered_at"] and final["read_at"]
    finally:
        server.shutdown()
        server.server_close()
    worker.run_pass()
    assert types_for(webhook_receiver.bodies, handoff["id"]) == [
        "handoff.accepted",
        "handoff.sent",
        "handoff.delivered",
        "handoff.read",
    ]
    for received in webhook_receiver.received:
        verify_signature(SECRET, received["headers"], received["raw"])
    assert webhook_receiver.bodies[-1]["data"]["ticket"] == "ZD-77"


def _send_when_window_opens(api, base_url, specialist_id) -> dict:
    """POST the handoff (a new key each time) until the inbound webhook has opened the window."""
    body, attempts = {"ticket": "ZD-77", "specialist_id": specialist_id}, itertools.count()

    def send() -> dict | None:
        headers = {"Idempotency-Key": f"zd-77-attempt-{next(attempts)}"}
        response = api.post(f"{base_url}/api/v1/handoffs", json=body, headers=headers, timeout=10)
        if response.status_code == 201:
            return response.json()
        assert response.status_code == 409 and response.json()["error"]["code"] == "window_closed"
        return None

    sent = wait_until(send, timeout=10, interval=0.1)
    assert sent, "the window never opened"
    return sent


def _wait_for(fetch, done, timeout: float = 10.0):
    """Fetch until done(value); return that value (fail with the last one seen)."""
    seen = []

    def fetched_and_done() -> bool:
        seen.append(fetch())
        return done(seen[-1])

    wait_until(fetched_and_done, timeout, interval=0.1)
    assert done(seen[-1]), seen[-1]
    return seen[-1]
