"""Chat ids as 1MSG sends them: @c.us phones, @lid users (BSUID), @g.us groups, calls (real HTTP)."""

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy
from sqlalchemy import func, select, text

from models import AppSetting, CustomerLink, InboundMessage, WebhookEvent, db
from onemsg.emulator import bsuid_for
from onemsg.webhooks import parse_payload
from services import customers, handoffs, window
from services.demo import DEMO_REOPEN_TEMPLATE
from tests.helpers import wait_until

PHONE = "+4915112340021"


def webhook_events() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def inbound_rows(phone: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(InboundMessage).where(InboundMessage.customer_phone == phone)
    )


def test_a_hidden_number_user_opens_the_window_of_the_real_phone(live_server, emulator, make_ticket, make_specialist):
    """The customer writes from <bsuid>@lid; an ack carrying bsuid and phone links them."""
    db.session.add(AppSetting(key="reopen_template", value=DEMO_REOPEN_TEMPLATE))
    db.session.commit()
    ticket = make_ticket(customer_phone=PHONE)
    emulator.inbound(PHONE[1:], "It's me, hiding my number", hidden=True)
    assert wait_until(lambda: webhook_events() >= 1, 10)
    bsuid = bsuid_for(PHONE[1:])
    assert inbound_rows("+" + bsuid) == 0, "a BSUID is never read as a phone number"
    assert not window.session_window(PHONE, lookup=False).is_open, "no link yet"
    # Our template to the phone: its acks carry the BSUID, which links the waiting message.
    handoffs.send_template(ticket, make_specialist(), None, uuid.uuid4().hex)
    assert wait_until(lambda: customers.phone_for(bsuid) == PHONE, 10)
    assert wait_until(lambda: window.session_window(PHONE, lookup=False).is_open, 10)


def test_a_linked_user_writing_from_lid_opens_the_window_at_once(live_server, emulator, make_ticket):
    db.session.add(CustomerLink(bsuid=bsuid_for(PHONE[1:]), customer_phone=PHONE))
    db.session.commit()
    emulator.inbound(PHONE[1:], "Hello again", hidden=True)
    assert wait_until(lambda: window.session_window(PHONE, lookup=False).is_open, 10)


def test_a_group_message_is_stored_and_opens_no_window(live_server, emulator):
    answer = emulator.inbound(PHONE[1:], "Hi all", group="120363041234567890")
    assert answer["chatId"] == "120363041234567890@g.us"
    assert wait_until(lambda: webhook_events() >= 1 and emulator.deliveries(), 10)
    [delivery] = [d for d in emulator.deliveries() if d["body"].get("messages")]
    assert delivery["status"] == 200, "a 2xx, so 1MSG does not retry it"
    assert inbound_rows(PHONE) == 0 and inbound_rows("+120363041234567890") == 0
    assert not window.session_window(PHONE, lookup=False).is_open


@pytest.mark.parametrize(
    "body",
    [
        {
            "instanceId": "371267300",
            "type": "calls",
            "data": {"id": "call-1", "from": "4915112340021@c.us", "status": "ringing"},
        },
        {"instanceId": "371267300"},
        {"instanceId": "371267300", "type": "account_update", "update": {"quality": "GREEN"}},
    ],
)
def test_bodies_with_no_event_array_are_stored_and_answered_2xx(live_server, app, body):
    url = live_server.webhook_url(app)
    before = webhook_events()
    db.session.rollback()  # end the read: on SQLite it holds the lock the server needs to write
    answer = requests.post(url, json=body, timeout=10)
    assert 200 <= answer.status_code < 300, answer.text
    assert webhook_events() == before + 1


def test_the_emulator_posts_a_calls_passthrough_and_we_keep_it(live_server, emulator):
    emulator.call(PHONE[1:])
    assert wait_until(lambda: webhook_events() >= 1 and emulator.deliveries(), 10)
    [delivery] = emulator.deliveries()
    assert delivery["body"]["type"] == "calls" and delivery["status"] == 200


def test_we_send_to_a_lid_user_with_phone_set_to_the_bsuid(emulator, onemsg_client):
    bsuid = bsuid_for(PHONE[1:])
    emulator.inbound(PHONE[1:], "Hi", hidden=True)  # the window is the user's, whatever the id
    card = {
        "name": {"formatted_name": "Jane Specialist", "first_name": "Jane"},
        "phones": [{"phone": "+12025550199", "type": "CELL"}],
    }
    assert onemsg_client.send_contact(f"{bsuid}@lid", card).id
    [call] = [r for r in emulator.requests() if r["path"].endswith("/sendContact")]
    assert call["json"]["phone"] == bsuid


def test_lid_messages_and_the_acks_that_link_them_race_without_losing_a_window(live_server, app):
    """Bodies for ten hidden-number users arrive at once, message and link in any order: the end
    state is one link per user and every window open (the exact interleaving is left to chance;
    the next test forces the narrow one)."""
    users = [(f"10472938475{n:04d}", f"+4915112341{n:03d}") for n in range(10)]
    bodies = []
    for n, (bsuid, phone) in enumerate(users):
        bodies.append(
            {
                "instanceId": "371267300",
                "messages": [
                    {
                        "id": f"wamid.lid-{n}",
                        "body": "Hi",
                        "type": "chat",
                        "fromMe": False,
                        "time": int(time.time()),
                        "chatId": f"{bsuid}@lid",
                        "author": f"{bsuid}@lid",
                    }
                ],
            }
        )
        bodies.append(
            {
                "instanceId": "371267300",
                "ack": [
                    {
                        "id": f"wamid.out-{n}",
                        "status": "delivered",
                        "chatId": f"{phone[1:]}@c.us",
                        "phone": phone[1:],
                        "bsuid": bsuid,
                    }
                ],
            }
        )
    random.Random(13).shuffle(bodies)
    url = live_server.webhook_url(app)
    db.session.rollback()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda body: requests.post(url, json=body, timeout=30).status_code, bodies))
    assert answers == [200] * len(bodies)

    def links():  # the bodies are stored at once and applied moments later, off the request
        return {link.bsuid: link.customer_phone for link in db.session.scalars(select(CustomerLink))}

    wait_until(lambda: links() == dict(users), timeout=15)
    assert links() == dict(users), "one link per user, each with its phone"
    wait_until(lambda: all(inbound_rows(phone) for _bsuid, phone in users), timeout=15)
    for _bsuid, phone in users:
        assert inbound_rows(phone) == 1, f"the window of {phone} opened once"
        assert window.session_window(phone, lookup=False).is_open


def link_committed(bsuid: str, timeout: float = 15.0) -> None:
    """Wait, on a connection of its own, until the applier has committed the link's phone
    (the webhook answers once the body is stored; the link is applied off the request)."""
    query = text("SELECT customer_phone FROM customer_links WHERE bsuid = :bsuid")

    def committed():
        with db.engine.connect() as conn:
            return conn.execute(query, {"bsuid": bsuid}).scalar()

    applied = wait_until(committed, timeout, end_transaction=False)
    assert applied, f"the link of {bsuid} was not applied within {timeout} s"


def test_a_link_committed_between_our_read_and_our_update_is_not_missed(live_server, app):
    """While a @lid message's transaction is open (it has read "no phone yet"), the ack that links
    the user commits: the message must still open that phone's window, not wait forever."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the interleaving cannot happen there")
    bsuid, phone = "104729384750999", "+4915112349999"
    db.session.add(CustomerLink(bsuid=bsuid))  # seen before, phone unknown
    db.session.commit()
    [message] = parse_payload(
        {"messages": [{"id": "wamid.lid-race", "fromMe": False, "time": int(time.time()), "chatId": f"{bsuid}@lid"}]}
    ).messages
    ack = {
        "instanceId": "371267300",
        "ack": [{"id": "wamid.x", "status": "sent", "phone": phone[1:], "chatId": f"{phone[1:]}@c.us", "bsuid": bsuid}],
    }
    fired = []

    def link_commits_now(_conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("UPDATE CUSTOMER_LINKS") and not fired:
            fired.append(requests.post(live_server.webhook_url(app), json=ack, timeout=10).status_code)
            link_committed(bsuid)

    sqlalchemy.event.listen(db.engine, "before_cursor_execute", link_commits_now)
    try:
        found = customers.customer_phone(message)
    finally:
        sqlalchemy.event.remove(db.engine, "before_cursor_execute", link_commits_now)
    db.session.commit()
    assert fired == [200], "the link really committed in between"
    assert found == phone
