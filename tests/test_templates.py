"""Templates as 1MSG lists them: string components, (name, language), namespace, vanished ones (real HTTP)."""

import uuid

import pytest
from sqlalchemy import select

from models import AppSetting, Handoff, db
from onemsg.emulator import NAMESPACE
from services import handoffs, reopen_templates
from services.app_state import app_state
from services.demo import DEMO_REOPEN_TEMPLATE, seed_demo


def template_sends(emulator) -> list[dict]:
    return [r for r in emulator.requests() if r["path"].endswith("/sendTemplate")]


def choose(value: dict) -> None:
    db.session.merge(AppSetting(key="reopen_template", value=value))
    db.session.commit()


def test_settings_page_reads_string_components(client, auth, app, emulator):
    """1MSG may list `components` as a JSON string: the page shows the text, not a 500."""
    auth.login("admin")
    page = client.get("/admin/settings")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Hallo {{1}}, unser Spezialist {{2}}" in text  # de: components as a string
    assert "specialist_intro|de" in text and "specialist_intro|en_US" in text
    assert "spring_promo" not in text, "a rejected template is not offered"


def test_the_parameter_selects_follow_the_chosen_template(client, auth, app, emulator):
    auth.login("admin")
    fragment = client.get(
        "/admin/settings/template-params?template=handoff_followup|en_US", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    for label in ("Header {{1}}", "Body {{1}}", "Body {{2}}", "Button 1 {{1}}"):
        assert f"What fills {label}" in fragment


def test_a_template_with_header_and_button_placeholders_is_sent_whole(app, emulator, make_ticket, make_specialist):
    choose(
        {
            "name": "handoff_followup",
            "language": "en_US",
            "namespace": NAMESPACE,
            "params": ["ticket_ref", "customer_name", "specialist_name", "ticket_ref"],
        }
    )
    ticket = make_ticket(customer_name="Ana Ruiz")
    handoff = handoffs.send_template(ticket, make_specialist(display_name="Jane Doe"), None, uuid.uuid4().hex).handoff
    assert handoff.status == "accepted", handoff.failure_reason
    [call] = template_sends(emulator)
    assert call["json"]["params"] == [
        {"type": "header", "parameters": [{"type": "text", "text": ticket.external_ref}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ana Ruiz"}, {"type": "text", "text": "Jane Doe"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": 0,
            "parameters": [{"type": "text", "text": ticket.external_ref}],
        },
    ]


def test_the_preview_is_the_text_the_customer_reads(app, emulator, make_ticket, make_specialist):
    choose(
        {
            "name": "specialist_intro",
            "language": "de",
            "namespace": NAMESPACE,
            "params": ["customer_name", "specialist_name", "specialist_phone"],
        }
    )
    ticket, specialist = make_ticket(customer_name="Ana"), make_specialist(display_name="Jane")
    assert reopen_templates.preview(reopen_templates.reopen_choice(), ticket, specialist) == (
        f"Hallo Ana, unser Spezialist Jane hilft Ihnen: {specialist.phone}."
    )


def test_the_demo_seed_picks_a_template_the_emulator_lists_and_accepts(app, emulator, make_ticket, make_specialist):
    seed_demo()
    assert reopen_templates.reopen_choice() == DEMO_REOPEN_TEMPLATE
    assert reopen_templates.chosen_template(DEMO_REOPEN_TEMPLATE)[0] is not None
    handoff = handoffs.send_template(make_ticket(), make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "accepted", handoff.failure_reason


@pytest.mark.parametrize(
    "vanished",
    [
        {"name": "gone_template", "language": "en_US", "namespace": NAMESPACE, "params": []},
        # What the app used to store: the language an admin typed, no namespace.
        {
            "name": "specialist_intro",
            "language": "en",
            "params": ["customer_name", "specialist_name", "specialist_phone"],
        },
    ],
)
def test_a_vanished_template_is_reported_in_settings_and_at_send_time(
    client, auth, app, emulator, make_ticket, make_specialist, vanished
):
    choose(vanished)
    auth.login("admin")
    page = client.get("/admin/settings")
    assert page.status_code == 200
    assert "is no longer among the channel" in page.get_data(as_text=True)
    handoff = handoffs.send_template(make_ticket(), make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "failed"
    assert "an admin must choose another one in Settings" in handoff.failure_reason
    assert handoffs.triage_for(handoff).action == "tell_admin"
    assert template_sends(emulator) == [], "nothing 1MSG would refuse is sent"


def test_a_template_1msg_says_is_not_defined_is_explained(client, auth, app, emulator, make_ticket, make_specialist):
    """The list still had it (cached) but 1MSG no longer does: the failure says what to do."""
    choose({"name": "reopen_chat", "language": "en_US", "namespace": "stale_namespace", "params": []})
    reopen_templates.listing()  # cache the list, then make the cached namespace stale
    cached = reopen_templates.find(reopen_templates.available(), "reopen_chat|en_US")
    cached["namespace"] = "stale_namespace"
    handoff = handoffs.send_template(make_ticket(), make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "failed" and "Template is not defined" in handoff.failure_reason
    triage = handoffs.triage_for(handoff)
    assert triage.action == "tell_admin" and "Settings" in triage.explanation
    assert app_state(app).templates is None, "the list is read again next time"
    agent = auth.login("agent")
    page = client.get(f"/handoffs/{handoff.id}")
    assert page.status_code == 200 and b"Settings" in page.data and agent


def test_reopen_from_the_ticket_page_never_answers_500_for_a_vanished_template(
    client, auth, app, emulator, make_ticket, make_specialist
):
    choose({"name": "gone_template", "language": "en_US", "namespace": NAMESPACE, "params": []})
    auth.login("agent")
    ticket, specialist = make_ticket(), make_specialist()
    response = client.post(
        f"/tickets/{ticket.id}/reopen",
        data={"specialist_id": specialist.id, "idempotency_key": uuid.uuid4().hex},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"no longer among the channel" in response.data
    [handoff] = db.session.scalars(select(Handoff).where(Handoff.ticket_id == ticket.id)).all()
    assert handoff.status == "failed"
