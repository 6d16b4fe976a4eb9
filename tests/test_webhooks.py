"""The 1MSG webhook receiver: secret, store-first, every documented shape, bad input."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from models import InboundMessage, StatusEvent, WebhookEvent, db
from services import applier, window

SECRET = "dev-webhook-secret-0123456789abcdef0123"
URL = f"/webhooks/1msg/{SECRET}"
SAMPLES = Path(__file__).resolve().parent / "data" / "onemsg-webhooks.json"  # copy of shared/data/


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def applied():
    """Wait for what the applier thread is doing, and apply whatever it has not taken yet."""
    db.session.commit()
    applier.drain(skip_locked=False)


@pytest.fixture
def post(client):
    """POST a webhook, then let the applier finish (the answer comes before the apply)."""

    def send(body=None, **kwargs):
        response = client.post(URL, json=body, **kwargs) if body is not None else client.post(URL, **kwargs)
        applied()
        return response

    return send


@pytest.fixture
def handoff(make_handoff, make_ticket):
    """The card 1MSG accepted as wamid.AAA, for a customer whose number the samples use."""
    return make_handoff(ticket=make_ticket(customer_phone="+14155552671"), message_id="wamid.AAA")


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


def test_status_is_stored_and_applied(post, handoff):
    response = post(ack("delivered"))
    assert response.status_code == 200 and response.get_json()["stored_as"]
    db.session.refresh(handoff)
    assert handoff.status == "delivered" and handoff.delivered_at is not None
    stored = db.session.scalar(select(WebhookEvent))
    assert (stored.status_count, stored.parse_error) == (1, None) and stored.applied_at is not None
    assert db.session.scalar(select(StatusEvent.applied)) is True


def test_the_answer_comes_from_the_stored_row_alone(client, handoff):
    """The request stores and answers; the body waits in the queue until an applier takes it."""
    response = client.post(URL, json=ack("read"))
    assert response.status_code == 200
    stored = db.session.get(WebhookEvent, response.get_json()["stored_as"])
    assert stored.body == json.dumps(ack("read")) or json.loads(stored.body) == ack("read")
    applied()
    db.session.refresh(handoff)
    assert handoff.status == "read"


def test_delivered_card_moves_the_ticket_to_handed_off(post, handoff):
    post(ack("delivered"))
    db.session.refresh(handoff)
    assert handoff.ticket.status == "handed_off"


def test_duplicates_change_nothing(post, handoff):
    for _ in range(3):
        assert post(ack("read")).status_code == 200
    assert count(StatusEvent) == 1 and count(WebhookEvent) == 3


@pytest.mark.parametrize(
    "body, expected",
    [
        (ack("viewed"), "read"),
        (ack("played"), "read"),
        (ack("undelivered"), "failed"),
        ({"instanceId": "1", "hooks": [{"id": "wamid.AAA", "status": "read", "timestamp": "1764080000"}]}, "read"),
        (
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "changes": [
                            {
                                "value": {
                                    "statuses": [
                                        {
                                            "id": "wamid.AAA",
                                            "status": "failed",
                                            "timestamp": "1764079300",
                                            "recipient_id": "14155552671",
                                            "errors": [{"code": 131047, "title": "Re-engagement message"}],
                                        }
                                    ]
                                }
                            }
                        ]
                    }
                ],
            },
            "failed",
        ),
    ],
)
def test_every_documented_variant(post, handoff, body, expected):
    assert post(body).status_code == 200
    db.session.refresh(handoff)
    assert handoff.status == expected


def test_raw_meta_failure_keeps_code_and_text(post, handoff):
    post(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "statuses": [
                                    {
                                        "id": "wamid.AAA",
                                        "status": "failed",
                                        "timestamp": "1764079300",
                                        "errors": [{"code": 131047, "title": "Re-engagement message"}],
                                    }
                                ]
                            }
                        }
                    ]
                }
            ]
        }
    )
    db.session.refresh(handoff)
    assert handoff.failure_meta_code == 131047
    assert "Re-engagement message" in handoff.failure_reason


def test_every_shared_sample_is_accepted_and_read(post):
    samples = json.loads(SAMPLES.read_text())["samples"]
    for sample in samples:
        response = post(sample["body"])
        assert response.status_code == 200, (sample["what"], response.get_json())
        stored = db.session.get(WebhookEvent, response.get_json()["stored_as"])
        assert stored.applied_at is not None and stored.parse_error is None, (sample["what"], stored.parse_error)
    assert count(WebhookEvent) == len(samples)


def test_status_for_an_unknown_message_is_kept_and_applied_later(post, handoff):
    post(ack("delivered", message_id="wamid.LATER"))
    pending = db.session.scalar(select(StatusEvent).where(StatusEvent.message_id == "wamid.LATER"))
    assert pending.applied is False
    from services import status

    handoff.message_id = "wamid.LATER"
    db.session.flush()
    status.apply_pending("wamid.LATER")
    db.session.commit()
    db.session.refresh(handoff)
    assert handoff.status == "delivered"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json at all", "not JSON"),
        (b'{"ack": [', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
    ],
)
def test_bodies_that_are_not_json_are_400_with_a_reason_and_stored(post, body, reason):
    response = post(data=body, content_type="application/json")
    assert response.status_code == 400
    answer = response.get_json()["error"]
    assert reason.lower() in answer["message"].lower()
    stored = db.session.get(WebhookEvent, answer["stored_as"])
    assert stored.body == body.decode() and stored.parse_error and stored.applied_at is not None


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"ack": [{"status": "sent"}]}', "ack[0].id is missing"),
        (b'{"ack": "sent"}', "ack is text"),
    ],
)
def test_json_we_cannot_read_is_stored_marked_and_answered_200(post, body, reason):
    """Redelivering it would not make it readable: 1MSG is told it arrived, an admin sees why."""
    response = post(data=body, content_type="application/json")
    assert response.status_code == 200
    stored = db.session.get(WebhookEvent, response.get_json()["stored_as"])
    assert stored.body == body.decode() and reason.lower() in stored.parse_error.lower()


def test_one_bad_event_does_not_cost_the_others(post, handoff):
    body = {
        "ack": [
            {"status": "sent"},
            {"id": "wamid.AAA", "status": "read"},
            {"id": "x", "status": "read", "timestamp": "soon"},
        ],
        "messages": [
            {"id": "m-1", "fromMe": False, "time": 1764079100, "chatId": "14155550000@c.us"},
            {"id": "m-2", "time": 1764079100},
        ],
    }
    assert post(body).status_code == 200
    db.session.refresh(handoff)
    assert handoff.status == "read"
    assert db.session.scalar(select(InboundMessage.onemsg_id)) == "m-1"
    stored = db.session.scalar(select(WebhookEvent))
    assert (stored.status_count, stored.message_count) == (1, 1)
    assert "ack[0].id is missing" in stored.parse_error and "ack[2].timestamp" in stored.parse_error
    assert "messages[1].chatId is missing" in stored.parse_error or "messages[1].fromMe" in stored.parse_error


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


def test_inbound_message_opens_the_window_and_echo_does_not(post):
    post({"messages": [{"id": "m-echo", "fromMe": 1, "time": 1764079100, "chatId": "14155550000@c.us"}]})
    assert count(InboundMessage) == 0
    import time

    now = int(time.time())
    post(
        {
            "messages": [
                {
                    "id": "m-in",
                    "fromMe": False,
                    "time": now,
                    "body": "hi",
                    "chatId": "14155550000@c.us",
                    "senderName": "Ana",
                }
            ]
        }
    )
    state = window.session_window("+14155550000", lookup=False)
    assert state.is_open and 23 * 3600 < state.seconds_left <= 24 * 3600


def test_secret_never_reaches_the_logs(client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client.post(URL, json=ack("sent"))
    client.post(URL, data=b"garbage", content_type="application/json")
    assert SECRET not in caplog.text


def test_introduction_statuses_are_kept_as_known_and_do_not_move_the_card(post, handoff):
    handoff.intro_message_id = "wamid.INTRO"
    db.session.commit()
    post(ack("read", message_id="wamid.INTRO"))
    event = db.session.scalar(select(StatusEvent).where(StatusEvent.message_id == "wamid.INTRO"))
    assert event.applied is True
    db.session.refresh(handoff)
    assert handoff.status == "accepted"


def test_admins_see_the_bodies_we_could_not_read(post, auth, client):
    post(data=b'{"ack": [{"status": "sent"}, {"id": "wamid.OK", "status": "read"}]}', content_type="application/json")
    post(data=b"not json at all", content_type="application/json")
    auth.login("admin")
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert "ack[0].id is missing" in page and "body is not JSON" in page
    assert "1 status(es)" in page and "0 waiting to be applied" in page


def test_a_body_is_stored_after_the_database_dropped_the_receivers_connection(client):
    """PostgreSQL: the receiving thread keeps its own connection; once the server drops it, the
    next POST is stored on a new one (answered 200, not 500), and so is every one after."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a dropped connection is a PostgreSQL matter: set TEST_DATABASE_URL")
    assert client.post(URL, json={"ack": []}).status_code == 200
    receiver_pids = db.session.scalars(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    ).all()
    db.session.execute(
        text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:p AS int[])) AS pid"), {"p": receiver_pids}
    )
    db.session.commit()
    before = count(WebhookEvent)
    answers = [client.post(URL, json={"ack": [], "n": n}) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    db.session.commit()
    assert count(WebhookEvent) == before + 3
    assert len({a.get_json()["stored_as"] for a in answers}) == 3
