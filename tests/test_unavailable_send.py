"""A card for a specialist who is off work, on leave or at capacity goes only after a confirmation
naming that reason, by every path (service, form, API, retry, template); the worker's follow-up
card records it without asking. The introduction's {next_available} names their next start."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy
from sqlalchemy import select

from models import Absence, AuditEntry, Handoff, db, utcnow
from services import api_keys, handoffs, specialist_board
from services.availability import DAY_ABBREVIATIONS
from tests.test_second_card import cards_sent, open_window, send


def off_now() -> dict:
    """Hours on a weekday three days from today only: off now, whatever the clock says."""
    day = DAY_ABBREVIATIONS[(utcnow().weekday() + 3) % 7]
    return dict(time_zone="UTC", working_hours=f"{day} 09:00-17:00")


ALWAYS = dict(time_zone="UTC", working_hours="Mon-Sun 00:00-24:00")


@pytest.fixture
def off_duty(make_specialist):
    return make_specialist(display_name="Olga Offduty", **off_now())


def _audit_of(handoff: Handoff) -> AuditEntry:
    return db.session.scalar(
        select(AuditEntry).where(AuditEntry.subject_type == "handoff", AuditEntry.subject_id == str(handoff.id))
    )


def test_off_hours_needs_the_reason_confirmed_and_is_recorded(emulated_app, emulator, make_ticket, off_duty):
    ticket = make_ticket(customer_phone="+14155554101")
    open_window(emulator, ticket.customer_phone)
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation) as refused:
        send(ticket, off_duty)
    assert refused.value.reason == "off_hours" and refused.value.text.startswith("back ")
    assert "Olga Offduty is off work now (back " in str(refused.value)
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation):
        send(ticket, off_duty, confirmed_unavailable="over_capacity")  # a confirmation of something else
    assert cards_sent(emulator) == [] and db.session.scalar(select(Handoff)) is None
    handoff = send(ticket, off_duty, confirmed_unavailable="off_hours").handoff
    assert handoff.status == "accepted" and handoff.unavailable_reason == "off_hours"
    entry = _audit_of(handoff)
    assert entry.after["unavailable_reason"] == "off_hours" and entry.after["availability"].startswith("back ")
    # "although Olga was back Monday 09:00" read as if she was back: the summary says she was off.
    assert "although Olga Offduty was off work now (back " in entry.summary and "; 0 today)" in entry.summary


def test_available_specialists_send_without_a_question(emulated_app, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155554102")
    open_window(emulator, ticket.customer_phone)
    for fields in (ALWAYS, {}):  # at work now; hours not known (never counted as off)
        handoff = send(ticket, make_specialist(display_name="Omar Haddad", **fields)).handoff
        assert handoff.status == "accepted" and handoff.unavailable_reason is None
        ticket = make_ticket(customer_phone=f"+1415555{4110 + len(fields)}")
        open_window(emulator, ticket.customer_phone)


def test_on_leave_names_the_stand_in(emulated_app, emulator, make_ticket, make_specialist):
    stand_in = make_specialist(display_name="Omar Haddad")
    away = make_specialist(display_name="Ana Away", **ALWAYS)
    today = utcnow().date()
    db.session.add(
        Absence(
            specialist_id=away.id,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=2),
            stand_in_id=stand_in.id,
        )
    )
    db.session.commit()
    ticket = make_ticket(customer_phone="+14155554103")
    open_window(emulator, ticket.customer_phone)
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation) as refused:
        send(ticket, away)
    assert refused.value.reason == "on_leave" and "stand-in: Omar Haddad" in str(refused.value)


def test_a_stand_in_deactivated_since_is_not_named(emulated_app, make_specialist):
    stand_in = make_specialist(display_name="Omar Haddad")
    away = make_specialist(display_name="Ana Away", **ALWAYS)
    today = utcnow().date()
    db.session.add(Absence(specialist_id=away.id, starts_on=today, ends_on=today, stand_in_id=stand_in.id))
    stand_in.active = False
    db.session.commit()
    state = specialist_board.one(away).availability
    assert state.state == "on_leave" and state.stand_in is None and "stand-in" not in state.text


def test_at_capacity_asks_too(emulated_app, emulator, make_ticket, make_specialist):
    busy = make_specialist(display_name="Bea Busy", daily_capacity=1, **ALWAYS)
    first, second = make_ticket(customer_phone="+14155554104"), make_ticket(customer_phone="+14155554105")
    for ticket in (first, second):
        open_window(emulator, ticket.customer_phone)
    assert send(first, busy).handoff.unavailable_reason is None
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation) as refused:
        send(second, busy)
    assert refused.value.reason == "over_capacity" and "1 of 1 today" in str(refused.value)
    assert send(second, busy, confirmed_unavailable="over_capacity").handoff.unavailable_reason == "over_capacity"


def test_the_form_asks_then_sends_with_the_named_reason(client, auth, emulated_app, emulator, make_ticket, off_duty):
    ticket = make_ticket(customer_phone="+14155554106")
    open_window(emulator, ticket.customer_phone)
    auth.login("agent")
    form = {"specialist_id": off_duty.id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"}
    asked = client.post(f"/tickets/{ticket.id}/handoffs", data=form, follow_redirects=True)
    page = asked.get_data(as_text=True)  # the question is a page of its own (Post/Redirect/Get)
    assert asked.request.path == f"/tickets/{ticket.id}/confirm" and "Olga Offduty is off work now" in page
    assert 'name="confirm_unavailable" value="off_hours"' in page and cards_sent(emulator) == []
    sent = client.post(f"/tickets/{ticket.id}/handoffs", data={**form, "confirm_unavailable": "off_hours"})
    assert sent.status_code == 302 and cards_sent(emulator) == ["Olga Offduty"]
    assert db.session.scalar(select(Handoff.unavailable_reason)) == "off_hours"


def test_the_question_for_a_specialist_at_capacity_does_not_say_they_cannot_answer(
    client, auth, emulated_app, emulator, make_ticket, make_specialist
):
    busy = make_specialist(display_name="Bea Busy", daily_capacity=1, **ALWAYS)
    first, second = make_ticket(customer_phone="+14155554114"), make_ticket(customer_phone="+14155554115")
    for ticket in (first, second):
        open_window(emulator, ticket.customer_phone)
    send(first, busy)
    auth.login("agent")
    asked = client.post(
        f"/tickets/{second.id}/handoffs",
        follow_redirects=True,
        data={"specialist_id": busy.id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"},
    )
    page = asked.get_data(as_text=True)
    assert "although they are at today&#39;s capacity?</h1>" in page and "cannot answer now" not in page
    assert "Bea Busy is at today&#39;s capacity (available now; 1 of 1 today)" in page


def test_the_api_answers_409_with_the_reason_then_sends_with_it(client, emulated_app, emulator, make_ticket, off_duty):
    ticket = make_ticket(customer_phone="+14155554107")
    open_window(emulator, ticket.customer_phone)
    secret = api_keys.create("Helpdesk", "agent").secret
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"ticket": ticket.external_ref, "specialist_id": off_duty.id}
    refused = client.post("/api/v1/handoffs", json=body, headers={**headers, "Idempotency-Key": "olga-card-1"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "specialist_unavailable"
    assert refused.json["reason"] == "off_hours" and refused.json["availability"].startswith("back ")
    wrong = client.post(
        "/api/v1/handoffs",
        json={**body, "confirm_unavailable": "yes"},
        headers={**headers, "Idempotency-Key": "olga-card-2"},
    )
    assert wrong.status_code == 422 and "confirm_unavailable" in wrong.json["error"]["fields"]
    sent = client.post(
        "/api/v1/handoffs",
        json={**body, "confirm_unavailable": "off_hours"},
        headers={**headers, "Idempotency-Key": "olga-card-3"},
    )
    assert sent.status_code == 201 and cards_sent(emulator) == ["Olga Offduty"]


def test_a_retry_asks_again(emulated_app, emulator, make_ticket, off_duty):
    ticket = make_ticket(customer_phone="+14155554108")
    failed = send(ticket, off_duty).handoff  # window closed: refused before any question, nothing went
    assert failed.failure_code == "window_closed"
    open_window(emulator, ticket.customer_phone)
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation):
        handoffs.retry(failed, None)
    assert handoffs.retry(failed, None, confirmed_unavailable="off_hours").handoff.status == "accepted"


def test_a_template_whose_card_follows_asks_and_the_worker_records_without_asking(
    emulated_app, emulator, reopen_template, make_ticket, off_duty
):  # noqa: F811
    ticket = make_ticket(customer_phone="+14155554109")
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation):
        handoffs.send_template(ticket, off_duty, None, uuid.uuid4().hex, card_on_reply=True)
    template = handoffs.send_template(
        ticket, off_duty, None, uuid.uuid4().hex, card_on_reply=True, confirmed_unavailable="off_hours"
    ).handoff
    assert template.status == "accepted" and template.unavailable_reason == "off_hours"
    open_window(emulator, ticket.customer_phone)
    assert handoffs.send_cards_after_replies() == 1
    card = db.session.scalar(select(Handoff).where(Handoff.kind == "card"))
    assert card.status == "accepted" and card.unavailable_reason == "off_hours"


def test_an_agent_sending_the_pending_follow_up_by_hand_is_asked(
    emulated_app, emulator, reopen_template, make_ticket, make_specialist
):  # noqa: F811
    # At work when the template went (no question then); on leave when the agent sends the card.
    ana = make_specialist(display_name="Ana Away", **ALWAYS)
    ticket = make_ticket(customer_phone="+14155554112")
    template = handoffs.send_template(ticket, ana, None, uuid.uuid4().hex, card_on_reply=True).handoff
    assert template.status == "accepted" and template.unavailable_reason is None
    db.session.add(Absence(specialist_id=ana.id, starts_on=utcnow().date(), ends_on=utcnow().date()))
    db.session.commit()
    open_window(emulator, ticket.customer_phone)
    with pytest.raises(handoffs.SpecialistUnavailableNeedsConfirmation) as refused:
        send(ticket, ana)
    assert refused.value.reason == "on_leave" and cards_sent(emulator) == []
    card = send(ticket, ana, confirmed_unavailable="on_leave").handoff
    assert card.unavailable_reason == "on_leave" and card.idempotency_key == f"follow-up-{template.id}"
    assert handoffs.send_cards_after_replies() == 0 and cards_sent(emulator) == ["Ana Away"]


def test_the_introduction_names_when_they_are_next_available(
    emulated_app, emulator, make_ticket, off_duty, make_specialist
):
    ticket = make_ticket(customer_phone="+14155554110")
    open_window(emulator, ticket.customer_phone)
    intro = "Olga can answer you {next_available}."
    handoff = send(ticket, off_duty, intro_text=intro, confirmed_unavailable="off_hours").handoff
    texts = [r["json"]["body"] for r in emulator.requests() if r["path"].endswith("/sendMessage")]
    assert texts == [handoff.intro_text] and "{next_available}" not in texts[0]
    assert texts[0].startswith("Olga can answer you ") and texts[0].endswith(", 09:00 (UTC time).")
    ready = make_specialist(display_name="Rui Ready", **ALWAYS)
    other = make_ticket(customer_phone="+14155554111")
    open_window(emulator, other.customer_phone)
    assert send(other, ready, intro_text=intro).handoff.intro_text == "Olga can answer you now."


def test_the_introduction_of_a_long_leave_names_its_end_not_soon(emulated_app, emulator, make_ticket, make_specialist):
    away = make_specialist(display_name="Ana Away", **ALWAYS)
    last_day = utcnow().date() + timedelta(days=120)  # past the 60 days searched for a next start
    db.session.add(Absence(specialist_id=away.id, starts_on=utcnow().date(), ends_on=last_day))
    db.session.commit()
    ticket = make_ticket(customer_phone="+14155554113")
    open_window(emulator, ticket.customer_phone)
    handoff = send(
        ticket, away, intro_text="Ana can answer you {next_available}.", confirmed_unavailable="on_leave"
    ).handoff
    assert handoff.intro_text == f"Ana can answer you after {last_day.day} {last_day:%B %Y}."


def test_two_agents_filling_the_last_place_of_the_day_at_once_one_is_asked(
    live_server, emulated_app, emulator, make_ticket, make_user, make_specialist
):
    """Two customers, one specialist with one place left: the count is read with the specialist
    locked, so the second send sees the first and asks (PostgreSQL locked only each customer)."""
    busy = make_specialist(display_name="Bea Busy", daily_capacity=1, **ALWAYS)
    tickets = [make_ticket(customer_phone=f"+1415555412{n}") for n in range(2)]
    for ticket in tickets:
        open_window(emulator, ticket.customer_phone)
    ids, busy_id = [t.id for t in tickets], busy.id
    sessions = [live_server.session_for(make_user("agent")) for _ in range(2)]
    db.session.commit()
    slowed = []

    def slow_first_insert(_conn, _cursor, statement, *_):
        # The first card's row waits a moment after its count was read: the other send counts then.
        # No condition to wait for: with the specialist locked, the other send is blocked until
        # this one commits, so waiting here for it to count would wait forever.
        if statement.lstrip().upper().startswith("INSERT INTO HANDOFFS") and not slowed:
            slowed.append(True)
            time.sleep(0.5)

    def post(n):
        answer = sessions[n].post(
            f"{live_server.url}/tickets/{ids[n]}/handoffs",
            timeout=15,
            data={"specialist_id": busy_id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"},
        )
        return urlsplit(answer.url).path.rsplit("/", 1)[-1]

    sqlalchemy.event.listen(db.engine, "before_cursor_execute", slow_first_insert)
    try:
        with ThreadPoolExecutor(2) as pool:
            landed = sorted(pool.map(post, range(2)))
    finally:
        sqlalchemy.event.remove(db.engine, "before_cursor_execute", slow_first_insert)
    assert landed in ([str(ids[0]), "confirm"], [str(ids[1]), "confirm"]), landed  # one sent, one asked
    assert cards_sent(emulator) == ["Bea Busy"]
