"""Generated hostile webhook bodies: never a 5xx, every body stored, every valid event in it applied.

Valid acks for our handoffs and customers' messages are mixed with events that cannot be read,
foreign acks with over-long ids, group and @lid chats, and strings holding lone surrogates and
NUL, numbers far past any column, junk nested hundreds deep; JSON escapes and raw bytes both.
"""

import json
import random
import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import Handoff, InboundMessage, StatusEvent, WebhookEvent, db
from services import applier
from services.status import TIMESTAMP_COLUMN

URL = "/webhooks/1msg/dev-webhook-secret-0123456789abcdef0123"
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
NORMALISED = {
    "sent": "sent",
    "SENT": "sent",
    "delivered": "delivered",
    "Delivered": "delivered",
    "read": "read",
    "viewed": "read",
    "played": "read",
    "failed": "failed",
    "undelivered": "failed",
}

nasty_char = st.characters() | st.sampled_from(["\udfff", "\ud800", "\udbff", "\x00", "\ufffe", "\U0010ffff"])
nasty_text = st.text(nasty_char, max_size=40)
huge_number = st.integers(min_value=2**31, max_value=10**25) | st.integers(max_value=-(2**31), min_value=-(10**25))
BIG = "__big_number_{}__"
DEEP = "__deep_{}__"


@st.composite
def valid_ack(draw, message_ids):
    status = draw(st.sampled_from(sorted(NORMALISED)))
    item = {"id": draw(st.sampled_from(message_ids)), "status": status}
    if draw(st.booleans()):
        item["timestamp"] = draw(st.integers(1_600_000_000, 1_900_000_000) | st.just("1764080000"))
    if NORMALISED[status] == "failed":
        item["error"] = draw(
            nasty_text | st.fixed_dictionaries({"code": st.integers(0, 2**31 - 1) | huge_number, "title": nasty_text})
        )
    if draw(st.booleans()):
        item["chatId"] = draw(st.sampled_from(["14155550100@c.us", "120363025246125486@g.us", "25012345678901@lid"]))
    if draw(st.booleans()):  # junk no parser reads, nested deep
        item["extra"] = DEEP.format(draw(st.integers(33, 600)))
    return item


foreign_ack = st.fixed_dictionaries(
    {
        "id": st.text(st.characters(codec="ascii"), min_size=129, max_size=400).map(
            lambda t: "wamid." + t.replace("\x00", "0")
        ),
        "status": st.sampled_from(["sent", "read"]),
    }
)
unreadable_ack = st.one_of(
    st.fixed_dictionaries({"status": st.just("sent")}),
    st.fixed_dictionaries({"id": st.integers(), "status": st.lists(st.integers(), max_size=2)}),
    st.fixed_dictionaries(
        {
            "id": nasty_text,
            "status": st.just("read"),
            "timestamp": st.integers(0, 40).map(lambda n: BIG.format(300 + n * 200)),
        }
    ),
    st.fixed_dictionaries(
        {
            "id": st.just("wamid.x"),
            "status": st.just("failed"),
            "error": st.fixed_dictionaries({"code": st.just(BIG.format(5000))}),
        }
    ),
    nasty_text,
    st.integers(),
    st.none(),
)


@st.composite
def customer_message(draw):
    return {
        "id": f"in-{uuid.uuid4().hex}",
        "fromMe": draw(st.sampled_from([False, 0, "0", "false"])),
        "time": int(time.time()) - draw(st.integers(0, 3600)),
        "chatId": "1415555" + draw(st.text("0123456789", min_size=4, max_size=4)) + "@c.us",
        "body": draw(nasty_text),
        "senderName": draw(st.text(nasty_char, max_size=300)),
    }


other_chat_message = st.fixed_dictionaries(
    {
        "id": st.uuids().map(str),
        "fromMe": st.just(False),
        "time": st.just(1764079100),
        "chatId": st.sampled_from(
            ["120363025246125486@g.us", "25012345678901234@lid", "7" * 300 + "@lid", "1" * 40 + "@c.us"]
        ),
        "body": nasty_text,
    }
)
unreadable_message = st.one_of(
    st.fixed_dictionaries({"id": st.just("m-x"), "time": st.just(1)}),
    st.fixed_dictionaries({"id": nasty_text, "fromMe": st.just("maybe")}),
)


def _body_text(body: dict, raw_bytes: bool) -> bytes:
    """Serialise, then put in what json.dumps cannot write: huge numbers and deep nesting."""
    text = json.dumps(body, ensure_ascii=not raw_bytes)
    for marker, build in ((BIG, lambda n: "9" * n), (DEEP, lambda n: "[" * n + '"\\u0000"' + "]" * n)):
        prefix = marker.split("{")[0]
        while (start := text.find('"' + prefix)) >= 0:
            end = text.index('__"', start + len(prefix) + 1) + 3
            text = text[:start] + build(int(text[start + 1 + len(prefix) : end - 3])) + text[end:]
    return text.encode("utf-8", "surrogatepass")  # raw lone surrogates are invalid UTF-8: hostile too


def _new_handoffs(ticket, specialist, count=3) -> list[str]:
    ids = [f"wamid.H{uuid.uuid4().hex}" for _ in range(count)]
    db.session.add_all(
        [
            Handoff(
                ticket_id=ticket.id,
                specialist_id=specialist.id,
                idempotency_key=f"k-{mid}",
                customer_phone=ticket.customer_phone,
                card_snapshot={},
                message_id=mid,
                status="accepted",
                status_rank=2,
            )
            for mid in ids
        ]
    )
    db.session.commit()
    return ids


@EXAMPLES
@given(data=st.data())
def test_hostile_bodies_are_stored_and_their_valid_events_applied(client, make_ticket, make_specialist, data):
    ticket, specialist = make_ticket(), make_specialist()
    message_ids = _new_handoffs(ticket, specialist)
    acks = data.draw(st.lists(valid_ack(message_ids), max_size=6))
    customers = data.draw(st.lists(customer_message(), max_size=3))
    noise = data.draw(st.lists(foreign_ack | unreadable_ack, max_size=4))
    others = data.draw(st.lists(other_chat_message | unreadable_message, max_size=3))
    mixed_acks, mixed_messages = acks + noise, customers + others
    random.Random(data.draw(st.integers())).shuffle(mixed_acks)
    body = {"instanceId": data.draw(nasty_text | st.integers()), "ack": mixed_acks, "messages": mixed_messages}
    response = client.post(URL, data=_body_text(body, data.draw(st.booleans())), content_type="application/json")

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    db.session.commit()
    applier.drain(skip_locked=False)
    stored = db.session.get(WebhookEvent, response.get_json()["stored_as"])
    assert stored is not None and stored.applied_at is not None
    for item in acks:
        status = NORMALISED[item["status"]]
        event = db.session.scalar(
            select(StatusEvent).where(StatusEvent.message_id == item["id"], StatusEvent.status == status)
        )
        assert event is not None and event.applied, (item, stored.parse_error)
        handoff = db.session.scalar(select(Handoff).where(Handoff.message_id == item["id"]))
        assert getattr(handoff, TIMESTAMP_COLUMN[status]) is not None
    for message in customers:
        assert db.session.scalar(select(InboundMessage).where(InboundMessage.onemsg_id == message["id"])), message
    unreadable = [n for n in noise if not (isinstance(n, dict) and len(str(n.get("id", ""))) > 128)] + [
        m for m in others if m.get("fromMe") is not False
    ]
    assert (stored.parse_error is not None) == bool(unreadable), stored.parse_error
    db.session.commit()


def test_a_body_nested_past_what_json_can_read_is_stored_and_refused_with_a_reason(client):
    response = client.post(
        URL, data=b'{"ack": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", content_type="application/json"
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "nested" in error["message"]
    assert db.session.get(WebhookEvent, error["stored_as"]).parse_error
