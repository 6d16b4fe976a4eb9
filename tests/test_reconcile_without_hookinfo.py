"""Reconciliation on a channel without GET hookInfo: "status not confirmed" within 2 minutes (real HTTP)."""

import uuid
from datetime import timedelta

import requests

from models import Handoff, db, utcnow
from services import handoffs, reconcile, status
from services.worker import run_pass
from tests.helpers import wait_until


def accepted_without_webhooks(emulator, make_ticket, make_specialist, phone="+14155552695") -> Handoff:
    """A card 1MSG accepted whose status webhooks never reached us (none registered)."""
    ticket = make_ticket(customer_phone=phone)
    emulator.open_window(phone[1:])
    status.record_inbound(f"in-{uuid.uuid4().hex}", phone, utcnow())
    db.session.commit()
    handoff = handoffs.send_card(ticket, make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "accepted"
    return handoff


def quiet_for(handoff: Handoff, seconds: int) -> None:
    """Pretend the card was accepted `seconds` ago."""
    handoff.accepted_at = handoff.created_at = utcnow() - timedelta(seconds=seconds)
    db.session.commit()


def test_the_emulator_can_run_without_hook_info(emulator):
    headers = {"Authorization": f"Bearer {emulator.token}"}
    ask = lambda: requests.get(  # noqa: E731
        emulator.url("hookInfo"),
        params={"messageId": "wamid.X"},
        headers=headers,
        timeout=5,
    )
    assert ask().status_code == 200
    emulator.hook_info(False)
    assert ask().status_code == 404
    emulator.reset()
    assert ask().status_code == 200, "a reset brings the emulator's default back"


def test_without_hook_info_the_agent_sees_status_not_confirmed_within_2_minutes(
    client, auth, app, emulator, make_ticket, make_specialist
):
    emulator.hook_info(False)
    handoff = accepted_without_webhooks(emulator, make_ticket, make_specialist)
    assert app.config["RECONCILE_AFTER_SECONDS"] < 120, "checked well before 2 minutes"
    quiet_for(handoff, app.config["RECONCILE_AFTER_SECONDS"] + 5)
    handoff_id, message_id = handoff.id, handoff.message_id
    run_pass()  # the worker's pass (it ends the session)
    checked = db.session.get(Handoff, handoff_id)
    assert checked.status == "accepted" and checked.unconfirmed_at is not None and checked.stuck_at is None
    calls = [r for r in emulator.requests() if r["path"].endswith(("/hookInfo", "/messages"))]
    assert [c["path"].rsplit("/", 1)[1] for c in calls] == ["hookInfo", "messages"]
    assert calls[1]["query"] == {"msgId": message_id}
    auth.login("agent")
    fragment = client.get(f"/handoffs/{handoff_id}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Status not confirmed" in fragment and "flask onemsg connect" in fragment


def test_with_hook_info_the_status_is_settled_instead(app, emulator, make_ticket, make_specialist):
    handoff = accepted_without_webhooks(emulator, make_ticket, make_specialist, phone="+14155552696")
    quiet_for(handoff, app.config["RECONCILE_AFTER_SECONDS"] + 5)
    message_id = handoff.message_id
    assert wait_until(lambda: emulator.latest_status(message_id) == "read"), "hookInfo knows 'read'"
    report = reconcile.reconcile()
    assert report.errors == []
    db.session.expire_all()
    settled = db.session.get(Handoff, handoff.id)
    assert settled.status == "read" and settled.unconfirmed_at is None


def test_an_emulator_built_without_hook_info_answers_404():
    from onemsg.emulator import create_emulator, serve_in_thread

    server, url = serve_in_thread(create_emulator("100000", "dev-token", hook_info=False))
    try:
        answer = requests.get(
            f"{url}/100000/hookInfo",
            params={"messageId": "wamid.X"},
            headers={"Authorization": "Bearer dev-token"},
            timeout=5,
        )
        assert answer.status_code == 404
    finally:
        server.shutdown()
        server.server_close()
