"""When the card cannot be sent: templates, retries as new attempts, and the action for each failure."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import Handoff, db, utcnow
from onemsg.emulator import NAMESPACE
from services import handoffs, reopen_templates, status
from tests.helpers import wait_until


def sends(emulator, method="sendContact"):
    return [r for r in emulator.requests() if r["path"].endswith("/" + method)]


def test_template_parameters_are_mapped_and_cleaned(app, reopen_template, make_ticket, make_specialist):
    ticket = make_ticket(customer_name="Ana\tRuiz\n(VIP)      ")
    specialist = make_specialist(display_name="Jane   Specialist", phone="+12025550199")
    params = reopen_templates.parameters(reopen_templates.reopen_choice(), ticket, specialist)
    assert params == ["Ana Ruiz (VIP)", "Jane   Specialist", "+12025550199"]
    assert all("\n" not in p and "\t" not in p and "     " not in p for p in params)


def test_closed_window_template_then_reply_then_card(
    live_server, emulator, reopen_template, make_ticket, make_specialist
):
    ticket, specialist = make_ticket(customer_phone="+14155554401"), make_specialist()
    template = handoffs.send_template(ticket, specialist, None, uuid.uuid4().hex, card_on_reply=True).handoff
    assert template.kind == "template" and template.status == "accepted"
    [call] = sends(emulator, "sendTemplate")
    assert call["json"]["template"] == "specialist_intro"
    assert call["json"]["params"][0]["parameters"][1]["text"] == specialist.display_name
    # The emulated customer answers once the template is read: the window opens.
    assert wait_until(lambda: handoffs.window.session_window(ticket.customer_phone, lookup=False).is_open, 10)
    assert handoffs.send_cards_after_replies() == 1
    assert handoffs.send_cards_after_replies() == 0, "the card follows once"
    db.session.refresh(template)
    card = db.session.get(Handoff, template.follow_up_id)
    assert card.kind == "card" and card.status in ("accepted", "sent", "delivered", "read")
    assert len(sends(emulator)) == 1
    assert wait_until(lambda: db.session.get(Handoff, card.id).status == "read", 10)


def test_template_without_a_chosen_template_fails_clearly(app, emulator, make_ticket, make_specialist):
    handoff = handoffs.send_template(make_ticket(), make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "failed" and "ask an admin" in handoff.failure_reason
    assert sends(emulator, "sendTemplate") == []


def test_retry_is_a_new_linked_attempt_with_one_new_send(app, emulator, make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155554402"), make_specialist()
    failed = handoffs.send_card(ticket, specialist, None, uuid.uuid4().hex).handoff
    assert failed.failure_code == "window_closed"
    emulator.open_window("14155554402")
    status.record_inbound("in-retry", ticket.customer_phone, utcnow())
    db.session.commit()
    retried = handoffs.retry(failed, None, "retry-key-1").handoff
    assert retried.id != failed.id and retried.retry_of_id == failed.id and retried.status == "accepted"
    db.session.refresh(failed)
    assert failed.status == "failed", "the failed attempt is kept as it was"
    assert handoffs.retry(failed, None, "retry-key-1").handoff.id == retried.id, "same key: no new send"
    assert len(sends(emulator)) == 1
    with pytest.raises(handoffs.HandoffConflict):
        handoffs.retry(retried, None, "retry-key-2")


def test_retry_button_on_the_ticket_page_once_its_wait_is_over(
    client, auth, app, emulator, make_ticket, make_specialist
):
    auth.login("agent")
    ticket, specialist = make_ticket(customer_phone="+14155550012"), make_specialist()  # 0012: 503
    emulator.open_window("14155550012")
    status.record_inbound("in-0012", ticket.customer_phone, utcnow())
    db.session.commit()
    failed = handoffs.send_card(ticket, specialist, None, uuid.uuid4().hex).handoff
    assert failed.failure_code == "upstream_unavailable" and "retry after 1 minute" in failed.failure_reason
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert f'action="/handoffs/{failed.id}/retry"' not in page, "the advice says wait: no button yet"
    assert 'data-action="retry-later"' in page
    failed.failed_at = utcnow() - timedelta(minutes=2)
    db.session.commit()
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert f'action="/handoffs/{failed.id}/retry"' in page
    for _ in range(2):  # two tabs, or a double click: one retry
        response = client.post(
            f"/handoffs/{failed.id}/retry", data={"idempotency_key": "anything-at-all"}, follow_redirects=True
        )
        assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Handoff).where(Handoff.retry_of_id == failed.id)) == 1
    assert b"retry of" in response.data
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert f'action="/handoffs/{failed.id}/retry"' not in page and 'data-action="retried"' in page


@pytest.mark.parametrize(
    "code, reason, meta, action",
    [
        ("window_closed", "Dialog window is closed", None, "send_template"),
        ("delivery_failed", "Re-engagement message", 131047, "send_template"),
        ("invalid_recipient", "Phone number is not a valid WhatsApp number", None, "check_number"),
        ("delivery_failed", "Message undeliverable", 131026, "check_number"),
        ("auth_failed", "Wrong token", None, "tell_admin"),
        ("upstream_unavailable", "connection refused", None, "retry"),
    ],
)
def test_each_failure_shows_its_action(client, auth, app, make_ticket, make_specialist, code, reason, meta, action):
    ticket, specialist = make_ticket(), make_specialist()
    handoff = Handoff(
        ticket_id=ticket.id,
        specialist_id=specialist.id,
        idempotency_key=uuid.uuid4().hex,
        customer_phone=ticket.customer_phone,
        card_snapshot={"name": {"formatted_name": "S"}},
        status="failed",
        status_rank=4,
        failed_at=utcnow() - timedelta(minutes=2),
        failure_code=code,
        failure_reason=reason,
        failure_meta_code=meta,
    )
    db.session.add(handoff)
    db.session.commit()
    auth.login("agent")
    fragment = client.get(f"/handoffs/{handoff.id}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'data-action="{action}"' in fragment, fragment
    assert reason in fragment


def test_unknown_reason_shows_the_raw_text(client, auth, app, make_ticket, make_specialist):
    ticket, specialist = make_ticket(), make_specialist()
    handoff = Handoff(
        ticket_id=ticket.id,
        specialist_id=specialist.id,
        idempotency_key="raw-1",
        customer_phone=ticket.customer_phone,
        card_snapshot={},
        status="failed",
        status_rank=4,
        failed_at=utcnow(),
        failure_code="delivery_failed",
        failure_reason="Zorglub exploded",
    )
    db.session.add(handoff)
    db.session.commit()
    auth.login("agent")
    assert b"Zorglub exploded" in client.get(f"/handoffs/{handoff.id}").data


def test_admin_chooses_the_template_and_its_parameters(client, auth, app, emulator):
    auth.login("admin")
    page = client.get("/admin/settings")
    assert page.status_code == 200 and b"specialist_intro|en_US" in page.data
    wrong = client.post(
        "/admin/settings", data={"intro_text": "Hi", "template": "specialist_intro|en_US", "params-0": "customer_name"}
    )
    assert wrong.status_code == 400 and b"takes 3 parameter" in wrong.data
    assert b"What fills Body {{3}}" in wrong.data, "the form now shows every placeholder"
    ok = client.post(
        "/admin/settings",
        data={
            "intro_text": "Our expert will help you.",
            "template": "specialist_intro|en_US",
            "params-0": "customer_name",
            "params-1": "specialist_name",
            "params-2": "specialist_phone",
        },
    )
    assert ok.status_code == 302
    assert reopen_templates.reopen_choice() == {
        "name": "specialist_intro",
        "language": "en_US",
        "namespace": NAMESPACE,
        "params": ["customer_name", "specialist_name", "specialist_phone"],
    }
    from services import settings

    assert settings.get("intro_text") == "Our expert will help you."
