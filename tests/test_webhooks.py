"""The 1MSG webhook receiver: secret, store-first, every documented shape, bad input."""
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Handoff, InboundMessage, StatusEvent, WebhookEvent, db
from services import window

SECRET = "dev-webhook-secret-0123456789abcdef0123"
URL = f"/webhooks/1msg/{SECRET}"
SAMPLES = Path(__file__).resolve().parent / "data" / "onemsg-webhooks.json"  # copy of shared/data/


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def handoff(make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155552671"), make_specialist()
    row = Handoff(ticket_id=ticket.id, specialist_id=specialist.id, idempotency_key="k-webhook",
                  customer_phone=ticket.customer_phone, card_snapshot={"name": {"formatted_name": "X"}},
                  message_id="wamid.AAA", status="accepted", status_rank=2)
    db.session.add(row)
    db.session.commit()
    return row


def ack(status, message_id="wamid.AAA", **extra):
    return {"instanceId": "371267300", "ack": [{"id": message_id, "status": status, **extra}]}


def test_wrong_secret_is_404_and_stores_nothing(client):
    response = client.post("/webhooks/1msg/not-the-secret", json=ack("sent"))
    assert response.status_code == 404
    assert count(WebhookEvent) == 0


def test_previous_secret_is_accepted_during_rotation(make_app):
    app = make_app(ONEMSG_WEBHOOK_SECRET="n" * 40, ONEMSG_WEBHOOK_SECRET_PREVIOUS="o" * 40)
    client = app.test_client()
    assert client.post("/webhooks/1msg/" + "o" * 40, json=ack("sent")).status_code == 200
    assert client.post("/webhooks/1msg/" + "n" * 40, json=ack("sent")).status_code == 200
    assert client.post("/webhooks/1msg/" + "x" * 40, json=ack("sent")).status_code == 404


def test_no_csrf_token_needed(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    assert app.test_client().post(URL, json=ack("sent")).status_code == 200


def test_status_is_stored_and_applied(client, handoff):
    response = client.post(URL, json=ack("delivered"))
    assert response.status_code == 200 and response.get_json()["statuses"] == 1
    db.session.refresh(handoff)
    assert handoff.status == "delivered" and handoff.delivered_at is not None
    assert count(WebhookEvent) == 1
    assert db.session.scalar(select(StatusEvent.applied)) is True


def test_delivered_card_moves_the_ticket_to_handed_off(client, handoff):
    client.post(URL, json=ack("delivered"))
    db.session.refresh(handoff)
    assert handoff.ticket.status == "handed_off"


def test_duplicates_change_nothing(client, handoff):
    for _ in range(3):
        assert client.post(URL, json=ack("read")).status_code == 200
    assert count(StatusEvent) == 1 and count(WebhookEvent) == 3


@pytest.mark.parametrize("body, expected", [
    (ack("viewed"), "read"), (ack("played"), "read"), (ack("undelivered"), "failed"),
    ({"instanceId": "1", "hooks": [{"id": "wamid.AAA", "status": "read", "timestamp": "1764080000"}]}, "read"),
    ({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"statuses": [
        {"id": "wamid.AAA", "status": "failed", "timestamp": "1764079300", "recipient_id": "14155552671",
         "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]}]}, "failed"),
])
def test_every_documented_variant(client, handoff, body, expected):
    assert client.post(URL, json=body).status_code == 200
    db.session.refresh(handoff)
    assert handoff.status == expected


def test_raw_meta_failure_keeps_code_and_text(client, handoff):
    client.post(URL, json={"entry": [{"changes": [{"value": {"statuses": [
        {"id": "wamid.AAA", "status": "failed", "timestamp": "1764079300",
         "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]}]})
    db.session.refresh(handoff)
    assert handoff.failure_meta_code == 131047
    assert "Re-engagement message" in handoff.failure_reason


def test_every_shared_sample_is_accepted(client):
    samples = json.loads(SAMPLES.read_text())["samples"]
    for sample in samples:
        response = client.post(URL, json=sample["body"])
        assert response.status_code == 200, (sample["what"], response.get_json())
    assert count(WebhookEvent) == len(samples)


def test_status_for_an_unknown_message_is_kept_and_applied_later(client, handoff):
    client.post(URL, json=ack("delivered", message_id="wamid.LATER"))
    pending = db.session.scalar(select(StatusEvent).where(StatusEvent.message_id == "wamid.LATER"))
    assert pending.applied is False
    from services import status

    handoff.message_id = "wamid.LATER"
    db.session.flush()
    status.apply_pending("wamid.LATER")
    db.session.commit()
    db.session.refresh(handoff)
    assert handoff.status == "delivered"


@pytest.mark.parametrize("body, reason", [
    (b"not json at all", "not JSON"),
    (b"[1, 2, 3]", ""),
    (b'{"ack": [{"status": "sent"}]}', "id"),
    (b'{"ack": "sent"}', "ack"),
])
def test_malformed_bodies_are_400_with_a_reason_and_stored(client, body, reason):
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert reason.lower() in message.lower()
    stored = db.session.scalar(select(WebhookEvent))
    assert stored.body == body.decode() and stored.parse_error


def test_oversized_body_is_413_and_stored_truncated(make_app):
    app = make_app(WEBHOOK_MAX_BYTES=1000)
    client = app.test_client()
    big = json.dumps(ack("sent", padding="x" * 5000)).encode()
    response = client.post(URL, data=big, content_type="application/json")
    assert response.status_code == 413
    with app.app_context():
        stored = db.session.scalar(select(WebhookEvent))
        assert len(stored.body) == 1000 and "larger" in stored.parse_error


def test_huge_body_beyond_the_app_limit_is_still_413(client):
    response = client.post(URL, data=b"{" + b" " * (2 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert count(WebhookEvent) == 1


def test_inbound_message_opens_the_window_and_echo_does_not(client):
    client.post(URL, json={"messages": [{"id": "m-echo", "fromMe": 1, "time": 1764079100, "chatId": "14155550000@c.us"}]})
    assert count(InboundMessage) == 0
    import time

    now = int(time.time())
    client.post(URL, json={"messages": [{"id": "m-in", "fromMe": False, "time": now, "body": "hi",
                                         "chatId": "14155550000@c.us", "senderName": "Ana"}]})
    state = window.session_window("+14155550000", lookup=False)
    assert state.is_open and 23 * 3600 < state.seconds_left <= 24 * 3600


def test_secret_never_reaches_the_logs(client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client.post(URL, json=ack("sent"))
    client.post(URL, data=b"garbage", content_type="application/json")
    assert SECRET not in caplog.text


def test_introduction_statuses_are_kept_as_known_and_do_not_move_the_card(client, handoff):
    handoff.intro_message_id = "wamid.INTRO"
    db.session.commit()
    client.post(URL, json=ack("read", message_id="wamid.INTRO"))
    event = db.session.scalar(select(StatusEvent).where(StatusEvent.message_id == "wamid.INTRO"))
    assert event.applied is True
    db.session.refresh(handoff)
    assert handoff.status == "accepted"
