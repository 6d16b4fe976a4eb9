"""Chat ids as 1MSG sends them: @c.us phones, @lid users (BSUID), @g.us groups, calls (real HTTP)."""
import uuid

import pytest
import requests
from sqlalchemy import func, select

from models import AppSetting, CustomerLink, InboundMessage, WebhookEvent, db
from onemsg.emulator import bsuid_for
from services import customers, handoffs, window
from services.demo import DEMO_REOPEN_TEMPLATE
from tests.conftest import wait_until

PHONE = "+4915112340021"


def webhook_events() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def inbound_rows(phone: str) -> int:
    return db.session.scalar(select(func.count()).select_from(InboundMessage)
                             .where(InboundMessage.customer_phone == phone))


def test_a_hidden_number_user_opens_the_window_of_the_real_phone(live_server, emulator, make_ticket,
                                                                 make_specialist):
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


@pytest.mark.parametrize("body", [
    {"instanceId": "371267300", "type": "calls",
     "data": {"id": "call-1", "from": "4915112340021@c.us", "status": "ringing"}},
    {"instanceId": "371267300"},
    {"instanceId": "371267300", "type": "account_update", "update": {"quality": "GREEN"}},
])
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
    card = {"name": {"formatted_name": "Jane Specialist", "first_name": "Jane"},
            "phones": [{"phone": "+12025550199", "type": "CELL"}]}
    assert onemsg_client.send_contact(f"{bsuid}@lid", card).id
    [call] = [r for r in emulator.requests() if r["path"].endswith("/sendContact")]
    assert call["json"]["phone"] == bsuid
