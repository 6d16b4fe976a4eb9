"""Limits for every sender: a per-customer cap across all paths, a per-key API limit, and
idempotency keys that mean one request (per user, per API key) and nothing else."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests as http
from sqlalchemy import func, select

from models import Handoff, db, utcnow
from services import api_keys, handoffs, status
from tests.conftest import emulator_settings


def cards_to(emulator, phone: str) -> int:
    return len(
        [
            r
            for r in emulator.requests()
            if r["path"].endswith("/sendContact") and r["json"]["phone"] == phone.lstrip("+")
        ]
    )


def open_window(emulator, phone: str) -> None:
    emulator.open_window(phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", phone, utcnow())
    db.session.commit()


def new_key(name: str) -> str:
    secret = api_keys.create(name, "agent").secret
    db.session.commit()
    return secret


def api_send(base_url: str, secret: str, ref: str, specialist_id: int, key: str | None = None, **extra):
    return http.post(
        f"{base_url}/api/v1/handoffs",
        timeout=20,
        json={"ticket": ref, "specialist_id": specialist_id, **extra},
        headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key or uuid.uuid4().hex},
    )


def test_forty_api_sends_in_a_second_to_one_customer_send_the_cap_and_the_floor_keeps_sending(
    live_server, emulated_app, emulator, make_ticket, make_specialist
):
    cap = emulated_app.config["CUSTOMER_CARD_CAP"]
    specialist = make_specialist()
    flooded = make_ticket(customer_phone="+14155553201")
    others = [make_ticket(customer_phone=f"+141555532{10 + n}") for n in range(4)]
    for ticket in [flooded, *others]:
        open_window(emulator, ticket.customer_phone)
    flood_key, floor_key = new_key("Runaway helpdesk"), new_key("Floor helpdesk")
    refs = [t.external_ref for t in others]
    spec_id, flood_ref = specialist.id, flooded.external_ref
    db.session.commit()

    with ThreadPoolExecutor(16) as pool:
        flood = [pool.submit(api_send, live_server.url, flood_key, flood_ref, spec_id) for _ in range(40)]
        floor = [pool.submit(api_send, live_server.url, floor_key, ref, spec_id) for ref in refs]
        answers = [f.result() for f in flood]
        floor_answers = [f.result() for f in floor]

    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == cap and codes.count(429) == 40 - cap, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["error"]["code"] == "customer_cap_reached"
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert cards_to(emulator, flooded.customer_phone) == cap, "at most the cap reached the customer"
    assert [a.status_code for a in floor_answers] == [201] * len(refs), "other customers kept getting cards"
    assert all(cards_to(emulator, t.customer_phone) == 1 for t in others)
    assert (
        db.session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.customer_phone == flooded.customer_phone)
        )
        == cap
    )


def test_the_cap_covers_forms_and_retries_and_a_lead_may_override_it(
    client, auth, emulated_app, emulator, make_ticket, make_specialist, make_user
):
    specialist = make_specialist()
    ticket = make_ticket(customer_phone="+14155553220")
    open_window(emulator, ticket.customer_phone)
    for _ in range(emulated_app.config["CUSTOMER_CARD_CAP"]):
        handoffs.send_card(ticket, specialist, None, uuid.uuid4().hex)
    with pytest.raises(handoffs.CustomerCapReached):
        handoffs.send_card(ticket, specialist, make_user("agent"), uuid.uuid4().hex, cap_override=True)
    auth.login("agent")
    form = {
        "specialist_id": specialist.id,
        "idempotency_key": uuid.uuid4().hex,
        "include_intro": "no",
        "confirm_resend": "yes",
    }
    refused = client.post(f"/tickets/{ticket.id}/handoffs", data=form, follow_redirects=True)
    assert b"already got 3 cards in the last 10 minutes" in refused.data
    auth.logout()
    auth.login("lead")
    sent = client.post(f"/tickets/{ticket.id}/handoffs", data={**form, "override_cap": "y"})
    assert sent.status_code == 302
    assert cards_to(emulator, ticket.customer_phone) == 4


def test_each_api_key_has_its_own_limit_with_headers(make_app, emulator, make_ticket, make_specialist):
    app = make_app(
        **emulator_settings(emulator), RATELIMIT_ENABLED=True, API_SEND_LIMIT="2 per minute", CUSTOMER_CARD_CAP=100
    )
    with app.app_context():
        specialist, ticket = make_specialist(), make_ticket(customer_phone="+14155553221")
        open_window(emulator, ticket.customer_phone)
        busy, quiet = new_key("Busy"), new_key("Quiet")
        client = app.test_client()

        def post(secret):
            return client.post(
                "/api/v1/handoffs",
                json={"ticket": ticket.external_ref, "specialist_id": specialist.id},
                headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": uuid.uuid4().hex},
            )

        first = post(busy)
        assert first.status_code == 201 and first.headers["X-RateLimit-Limit"] == "2"
        assert post(busy).status_code == 201
        limited = post(busy)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.is_json and limited.json["error"]["code"] == "429"
        assert post(quiet).status_code == 201, "another key is not slowed by the busy one"


def test_same_idempotency_key_with_any_other_field_is_422(client, emulated_app, emulator, make_ticket, make_specialist):
    specialist, ticket = make_specialist(), make_ticket(customer_phone="+14155553222")
    open_window(emulator, ticket.customer_phone)
    secret = new_key("Helpdesk")
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "order-4711-card"}
    body = {"ticket": ticket.external_ref, "specialist_id": specialist.id, "intro_text": "Meet Ana."}
    assert client.post("/api/v1/handoffs", json=body, headers=headers).status_code == 201
    replay = client.post("/api/v1/handoffs", json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    changed = client.post("/api/v1/handoffs", json={**body, "intro_text": "Meet Bob."}, headers=headers)
    assert changed.status_code == 422 and changed.json["error"]["code"] == "idempotency_key_reused"
    no_intro = client.post(
        "/api/v1/handoffs", json={k: v for k, v in body.items() if k != "intro_text"}, headers=headers
    )
    assert no_intro.status_code == 422
    assert cards_to(emulator, ticket.customer_phone) == 1


def test_keys_are_scoped_per_user_and_per_api_key(
    client, auth, emulated_app, emulator, make_ticket, make_specialist, make_user
):
    specialist = make_specialist()
    one, two = make_ticket(customer_phone="+14155553223"), make_ticket(customer_phone="+14155553224")
    for ticket in (one, two):
        open_window(emulator, ticket.customer_phone)
    for ticket in (one, two):  # two agents happen to post the same key: two sends, no conflict
        auth.logout()
        auth.login("agent")
        client.post(
            f"/tickets/{ticket.id}/handoffs",
            data={"specialist_id": specialist.id, "idempotency_key": "same-key-for-both", "include_intro": "no"},
        )
    for ticket in (one, two):  # and two helpdesks with the same Idempotency-Key
        client.post(
            "/api/v1/handoffs",
            json={"ticket": ticket.external_ref, "specialist_id": specialist.id},
            headers={"Authorization": f"Bearer {new_key(ticket.external_ref)}", "Idempotency-Key": "same-key-for-both"},
        )
    keys = db.session.scalars(select(Handoff.idempotency_key).order_by(Handoff.id)).all()
    assert len(keys) == len(set(keys)) == 4
    assert all(key.startswith(("user:", "api:")) and key.endswith(":same-key-for-both") for key in keys)
    assert cards_to(emulator, one.customer_phone) == cards_to(emulator, two.customer_phone) == 2


def test_a_form_key_cannot_wedge_the_worker(client, auth, emulated_app, emulator, make_ticket, make_specialist):
    """Posting the worker's own key name only names the agent's own key: the follow-ups still go."""
    from models import AppSetting
    from services.demo import DEMO_REOPEN_TEMPLATE

    db.session.add(AppSetting(key="reopen_template", value=DEMO_REOPEN_TEMPLATE))
    db.session.commit()
    specialist = make_specialist()
    waiting = make_ticket(customer_phone="+14155553225")
    template = handoffs.send_template(waiting, specialist, None, uuid.uuid4().hex, card_on_reply=True).handoff
    other = make_ticket(customer_phone="+14155553226")
    open_window(emulator, other.customer_phone)
    auth.login("agent")
    for stolen in (f"follow-up-{template.id}", f"after-reply-{template.id}", f"retry-of-{template.id}"):
        client.post(
            f"/tickets/{other.id}/handoffs",
            data={
                "specialist_id": specialist.id,
                "idempotency_key": stolen,
                "include_intro": "no",
                "confirm_resend": "yes",
            },
        )
    open_window(emulator, waiting.customer_phone)
    assert handoffs.send_cards_after_replies() == 1
    assert cards_to(emulator, waiting.customer_phone) == 1


def test_one_broken_follow_up_never_stops_the_others(emulated_app, emulator, make_ticket, make_specialist):
    """Each follow-up in its own transaction: a conflict on one is logged, the next still goes."""
    from models import AppSetting
    from services.demo import DEMO_REOPEN_TEMPLATE

    db.session.add(AppSetting(key="reopen_template", value=DEMO_REOPEN_TEMPLATE))
    db.session.commit()
    specialist = make_specialist()
    broken_ticket, fine_ticket = make_ticket(customer_phone="+14155553227"), make_ticket(customer_phone="+14155553228")
    broken = handoffs.send_template(broken_ticket, specialist, None, uuid.uuid4().hex, card_on_reply=True).handoff
    fine = handoffs.send_template(fine_ticket, specialist, None, uuid.uuid4().hex, card_on_reply=True).handoff
    # A row already holding the broken follow-up's key for something else (data from an older
    # version, say): claiming it is a conflict every time.
    db.session.add(
        Handoff(
            ticket_id=fine_ticket.id,
            specialist_id=specialist.id,
            kind="card",
            idempotency_key=f"follow-up-{broken.id}",
            request_fingerprint="something-else",
            customer_phone="+14155550999",
            card_snapshot={},
            status="failed",
            status_rank=4,
            failure_code="rejected",
            failure_reason="x",
        )
    )
    db.session.commit()
    for ticket in (broken_ticket, fine_ticket):
        open_window(emulator, ticket.customer_phone)
    assert handoffs.send_cards_after_replies() == 1
    assert handoffs.send_cards_after_replies() == 0
    assert db.session.get(Handoff, fine.id).follow_up_id is not None
    assert db.session.get(Handoff, broken.id).follow_up_id is None, "left for a person (and the next pass)"
    assert cards_to(emulator, fine_ticket.customer_phone) == 1
