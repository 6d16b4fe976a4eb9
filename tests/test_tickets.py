"""Tickets: create and edit by form, ready for escalation, the queue order and windows."""

import socket

from sqlalchemy import select

from models import AuditEntry, Ticket, db, utcnow
from onemsg.client import OneMsgClient
from services import status

VALID = {
    "external_ref": "HD-77",
    "subject": "Refund",
    "customer_name": "Ana",
    "customer_phone": "+44 7700 900123",
    "status": "open",
    "assignee_id": "0",
}


def test_agent_creates_a_ticket(client, auth):
    auth.login("agent")
    response = client.post("/tickets/new", data=VALID)
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.customer_phone == "+447700900123" and ticket.assignee_id is None
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "ticket.create"))


def test_duplicate_reference_and_bad_phone_are_form_errors(client, auth, make_ticket):
    make_ticket(external_ref="HD-77")
    auth.login("agent")
    duplicate = client.post("/tickets/new", data=VALID)
    assert duplicate.status_code == 400 and b"already exists" in duplicate.data
    bad = client.post("/tickets/new", data={**VALID, "external_ref": "HD-78", "customer_phone": "call me"})
    assert bad.status_code == 400 and b"phone" in bad.data.lower()
    missing = client.post("/tickets/new", data={"status": "open", "assignee_id": "0"})
    assert missing.status_code == 400 and b"Enter a subject." in missing.data


def test_mark_ready_records_the_time(client, auth, make_ticket):
    ticket = make_ticket(status="open")
    auth.login("agent")
    assert client.post(f"/tickets/{ticket.id}/ready").status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == "ready" and ticket.ready_at is not None


def test_queue_puts_ready_first_and_shows_windows(client, auth, make_ticket):
    make_ticket(external_ref="OPEN-1", status="open")
    ready = make_ticket(external_ref="READY-1", status="ready", customer_phone="+14155559911")
    status.record_inbound("in-q", ready.customer_phone, utcnow())
    db.session.commit()
    auth.login("agent")
    page = client.get("/tickets/").get_data(as_text=True)
    assert page.index("READY-1") < page.index("OPEN-1")
    assert "badge-open" in page and "no message yet" in page


def test_edit_ticket(client, auth, make_ticket):
    ticket = make_ticket(external_ref="HD-90")
    auth.login("agent")
    form = {**VALID, "external_ref": "HD-90", "subject": "New subject"}
    assert client.post(f"/tickets/{ticket.id}/edit", data=form).status_code == 302
    db.session.refresh(ticket)
    assert ticket.subject == "New subject"


def test_simulating_a_customer_message_asks_the_emulator(client, auth, make_ticket, emulator):
    auth.login("agent")
    ticket = make_ticket()
    page = client.post(f"/tickets/{ticket.id}/simulate-inbound", data={"body": "Still there?"}, follow_redirects=True)
    assert "The emulated customer sent a message" in page.get_data(as_text=True)
    chat = OneMsgClient(emulator.base_url, emulator.channel_id, emulator.token).messages(ticket.customer_phone)
    assert [m["body"] for m in chat] == ["Still there?"]


def test_an_emulator_that_is_not_running_is_a_flashed_error(app, client, auth, make_ticket):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    app.config.update(ONEMSG_API_URL=f"http://127.0.0.1:{closed}", ONEMSG_EMULATED=True)
    auth.login("agent")
    ticket = make_ticket()
    page = client.post(f"/tickets/{ticket.id}/simulate-inbound", data={"body": "Still there?"}, follow_redirects=True)
    assert "The emulator did not take the message (the emulator could not be reached" in page.get_data(as_text=True)
