"""One rule for every path (form, API, retry, template follow-up): a second specialist's card
from the same ticket goes only after a confirmation naming the card already sent or pending.
And the card that follows a template is the agent's choice, shown, cancellable, sent once."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from models import AuditEntry, Handoff, db, utcnow
from services import api_keys, handoffs, status


@pytest.fixture
def people(make_specialist):
    return make_specialist(display_name="Omar Haddad"), make_specialist(display_name="Jane Specialist")


def cards_sent(emulator) -> list[str]:
    """The formatted names of the cards 1MSG received, in order."""
    return [
        r["json"]["contacts"][0]["name"]["formatted_name"]
        for r in emulator.requests()
        if r["path"].endswith("/sendContact")
    ]


def open_window(emulator, phone: str) -> None:
    emulator.open_window(phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", phone, utcnow())
    db.session.commit()


def send(ticket, specialist, **kwargs):
    return handoffs.send_card(ticket, specialist, None, uuid.uuid4().hex, **kwargs)


def test_service_refuses_a_second_specialist_until_the_confirmation_names_the_first(
    emulated_app, emulator, make_ticket, people
):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553101")
    open_window(emulator, ticket.customer_phone)
    send(ticket, omar)
    latest = send(ticket, omar).handoff  # the same specialist again is not a second one
    with pytest.raises(handoffs.SecondCardNeedsConfirmation) as refused:
        send(ticket, jane)
    assert refused.value.earlier.id == latest.id and "Omar Haddad's card was already sent" in str(refused.value)
    with pytest.raises(handoffs.SecondCardNeedsConfirmation):
        send(ticket, jane, confirmed_over=latest.id + 1000)  # a confirmation of something else
    assert cards_sent(emulator) == ["Omar Haddad", "Omar Haddad"]
    assert send(ticket, jane, confirmed_over=latest.id).handoff.status == "accepted"
    with pytest.raises(handoffs.SecondCardNeedsConfirmation):
        send(ticket, omar)  # now Jane's is the card already there
    assert cards_sent(emulator) == ["Omar Haddad", "Omar Haddad", "Jane Specialist"]


def test_a_failed_card_that_never_went_needs_no_confirmation(emulated_app, emulator, make_ticket, people):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553102")
    assert send(ticket, omar).handoff.failure_code == "window_closed"  # nothing reached the customer
    open_window(emulator, ticket.customer_phone)
    assert send(ticket, jane).handoff.status == "accepted"


def test_the_form_asks_naming_the_card_already_sent(client, auth, emulated_app, emulator, make_ticket, people):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553103")
    open_window(emulator, ticket.customer_phone)
    first = send(ticket, omar).handoff
    auth.login("agent")
    form = {"specialist_id": jane.id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"}
    asked = client.post(f"/tickets/{ticket.id}/handoffs", data=form, follow_redirects=True)
    page = asked.get_data(as_text=True)
    assert asked.request.method == "GET" and "Omar Haddad&#39;s card was already sent" in page
    assert f'name="confirm_after" value="{first.id}"' in page
    assert cards_sent(emulator) == ["Omar Haddad"]
    sent = client.post(f"/tickets/{ticket.id}/handoffs", data={**form, "confirm_after": first.id})
    assert sent.status_code == 302
    assert cards_sent(emulator) == ["Omar Haddad", "Jane Specialist"]


def test_the_api_answers_409_naming_the_card_then_sends_with_the_confirmation(
    client, emulated_app, emulator, make_ticket, people
):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553104")
    open_window(emulator, ticket.customer_phone)
    first = send(ticket, omar).handoff
    secret = api_keys.create("Helpdesk", "agent").secret
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"ticket": ticket.external_ref, "specialist_id": jane.id}
    refused = client.post("/api/v1/handoffs", json=body, headers={**headers, "Idempotency-Key": "jane-card-1"})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "second_card_needs_confirmation"
    assert refused.json["handoff"]["id"] == first.id and "Omar Haddad" in refused.json["error"]["message"]
    sent = client.post(
        "/api/v1/handoffs",
        json={**body, "confirm_after_handoff_id": first.id},
        headers={**headers, "Idempotency-Key": "jane-card-2"},
    )
    assert sent.status_code == 201 and sent.json["status"] == "accepted"
    assert cards_sent(emulator) == ["Omar Haddad", "Jane Specialist"]


def test_a_retry_obeys_the_rule_too(emulated_app, emulator, make_ticket, people):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553105")
    failed = send(ticket, jane).handoff  # window closed: nothing went
    open_window(emulator, ticket.customer_phone)
    omars = send(ticket, omar).handoff
    with pytest.raises(handoffs.SecondCardNeedsConfirmation) as refused:
        handoffs.retry(failed, None)
    assert refused.value.earlier.id == omars.id
    assert handoffs.retry(failed, None, confirmed_over=omars.id).handoff.status == "accepted"
    assert cards_sent(emulator) == ["Omar Haddad", "Jane Specialist"]


def test_a_template_whose_card_follows_obeys_the_rule(emulated_app, emulator, reopen_template, make_ticket, people):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553106")
    open_window(emulator, ticket.customer_phone)
    omars = send(ticket, omar).handoff
    with pytest.raises(handoffs.SecondCardNeedsConfirmation):
        handoffs.send_template(ticket, jane, None, uuid.uuid4().hex, card_on_reply=True)
    # A template alone carries no card: no question.
    assert handoffs.send_template(ticket, jane, None, uuid.uuid4().hex).handoff.status == "accepted"
    confirmed = handoffs.send_template(
        ticket, jane, None, uuid.uuid4().hex, card_on_reply=True, confirmed_over=omars.id
    ).handoff
    assert confirmed.status == "accepted" and confirmed.card_on_reply


def test_a_pending_follow_up_counts_and_can_be_replaced_by_the_agents_new_choice(
    client, auth, emulated_app, emulator, reopen_template, make_ticket, people
):
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553107")
    template = handoffs.send_template(ticket, omar, None, uuid.uuid4().hex, card_on_reply=True).handoff
    open_window(emulator, ticket.customer_phone)  # the customer answered
    auth.login("agent")
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "Omar Haddad's card goes when the customer answers." in page
    assert f'id="specialist-{omar.id}" value="{omar.id}" checked>' in page, "the agent's choice is kept"
    form = {"specialist_id": jane.id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"}
    asked = client.post(f"/tickets/{ticket.id}/handoffs", data=form, follow_redirects=True)
    assert asked.request.path == f"/tickets/{ticket.id}/confirm"
    assert "Omar Haddad&#39;s card goes automatically when the customer answers" in asked.get_data(as_text=True)
    instead = client.post(
        f"/tickets/{ticket.id}/handoffs", data={**form, "confirm_after": template.id, "cancel_pending": "yes"}
    )
    assert instead.status_code == 302
    assert handoffs.send_cards_after_replies() == 0, "Omar's automatic card was cancelled"
    assert cards_sent(emulator) == ["Jane Specialist"]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "handoff.follow_up_cancelled"))


def test_cancelling_the_follow_up_from_the_ticket_page(
    client, auth, emulated_app, emulator, reopen_template, make_ticket, people
):
    omar, _ = people
    ticket = make_ticket(customer_phone="+14155553108")
    template = handoffs.send_template(ticket, omar, None, uuid.uuid4().hex, card_on_reply=True).handoff
    auth.login("agent")
    assert client.post(f"/handoffs/{template.id}/cancel-follow-up").status_code == 302
    open_window(emulator, ticket.customer_phone)
    assert handoffs.send_cards_after_replies() == 0 and cards_sent(emulator) == []
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "goes when the customer answers" not in page
    again = client.post(f"/handoffs/{template.id}/cancel-follow-up", follow_redirects=True)
    assert b"already gone (or was already cancelled)" in again.data


def test_the_agent_sending_the_pending_card_and_the_worker_send_it_once(
    live_server, emulated_app, emulator, reopen_template, make_ticket, make_user, people
):
    """Both at the same moment: the manual send takes the follow-up's own key, so one card goes."""
    omar, _ = people
    agent = make_user("agent")
    ticket = make_ticket(customer_phone="+14155553109")
    template = handoffs.send_template(ticket, omar, agent, uuid.uuid4().hex, card_on_reply=True).handoff
    open_window(emulator, ticket.customer_phone)
    ticket_id, omar_id, template_id = ticket.id, omar.id, template.id
    session = live_server.session_for(agent)

    def by_hand():
        return session.post(
            f"{live_server.url}/tickets/{ticket_id}/handoffs",
            timeout=15,
            data={"specialist_id": omar_id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"},
        ).status_code

    def by_worker():
        with emulated_app.app_context():
            return handoffs.send_cards_after_replies()

    with ThreadPoolExecutor(4) as pool:
        manual = [pool.submit(by_hand), pool.submit(by_hand)]
        automatic = [pool.submit(by_worker), pool.submit(by_worker)]
    # A second form may be asked "send again?" (a page): it sends nothing either way.
    assert {f.result() for f in manual} == {200} and sum(f.result() for f in automatic) <= 1
    assert cards_sent(emulator) == ["Omar Haddad"]
    cards = db.session.scalars(select(Handoff).where(Handoff.ticket_id == ticket_id, Handoff.kind == "card")).all()
    assert len(cards) == 1 and cards[0].idempotency_key == f"follow-up-{template_id}"
    assert db.session.get(Handoff, template_id).follow_up_id == cards[0].id


def test_the_automatic_card_appears_in_the_handoff_list_without_a_reload(
    client, auth, emulated_app, emulator, reopen_template, make_ticket, people
):
    omar, _ = people
    ticket = make_ticket(customer_phone="+14155553110")
    handoffs.send_template(ticket, omar, None, uuid.uuid4().hex, card_on_reply=True)
    auth.login("agent")
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    version = handoffs.list_version(ticket)
    poll = f"/tickets/{ticket.id}/handoffs?v={version}"
    assert poll in page and 'hx-trigger="every' in page
    htmx = {"HX-Request": "true"}
    assert client.get(poll, headers=htmx).status_code == 204, "nothing new: nothing to swap"
    open_window(emulator, ticket.customer_phone)
    assert handoffs.send_cards_after_replies() == 1
    fresh = client.get(poll, headers=htmx)
    body = fresh.get_data(as_text=True)
    assert fresh.status_code == 200 and body.strip().startswith('<section id="handoffs"')
    assert "Card of <strong>Omar Haddad</strong>" in body and "sent automatically" in body
    assert "goes when the customer answers" not in body
    assert f"v={handoffs.list_version(ticket)}" in body, "the next poll asks from the new state"


def test_inactive_specialists_are_sent_by_no_path(
    client, auth, emulated_app, emulator, reopen_template, make_ticket, make_specialist
):
    retired = make_specialist(display_name="Retired Person", active=False)
    ticket = make_ticket(customer_phone="+14155553111")
    open_window(emulator, ticket.customer_phone)
    assert send(ticket, retired).handoff.failure_code == "specialist_inactive"
    assert (
        handoffs.send_template(ticket, retired, None, uuid.uuid4().hex, card_on_reply=True).handoff.failure_code
        == "specialist_inactive"
    )
    auth.login("agent")
    client.post(
        f"/tickets/{ticket.id}/handoffs",
        data={"specialist_id": retired.id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"},
    )
    secret = api_keys.create("Helpdesk", "agent").secret
    db.session.commit()
    api = client.post(
        "/api/v1/handoffs",
        json={"ticket": ticket.external_ref, "specialist_id": retired.id},
        headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "retired-1"},
    )
    assert api.status_code == 409 and api.json["error"]["code"] == "specialist_inactive"
    failed = db.session.scalars(select(Handoff).where(Handoff.kind == "card")).first()
    assert handoffs.retry(failed, None).handoff.failure_code == "specialist_inactive"
    assert handoffs.send_cards_after_replies() == 0
    assert [r for r in emulator.requests() if r["path"].endswith(("/sendContact", "/sendTemplate"))] == []


def test_two_agents_sending_two_specialists_at_once_one_goes_the_other_is_asked(
    live_server, emulated_app, emulator, make_ticket, make_user, people
):
    """The rule is checked with the customer's number locked: neither send slips past the other."""
    omar, jane = people
    ticket = make_ticket(customer_phone="+14155553112")
    open_window(emulator, ticket.customer_phone)
    ticket_id, ids, agents = ticket.id, [omar.id, jane.id], [make_user("agent"), make_user("agent")]
    sessions = [live_server.session_for(agent) for agent in agents]
    db.session.commit()  # SQLite: hold no lock while the server sends

    def post(n):
        answer = sessions[n].post(
            f"{live_server.url}/tickets/{ticket_id}/handoffs",
            timeout=15,
            data={"specialist_id": ids[n], "idempotency_key": uuid.uuid4().hex, "include_intro": "no"},
        )
        return urlsplit(answer.url).path

    with ThreadPoolExecutor(2) as pool:
        landed = sorted(pool.map(post, range(2)))
    # One sent (then the ticket page), one redirected to the question.
    assert landed == [f"/tickets/{ticket_id}", f"/tickets/{ticket_id}/confirm"], landed
    assert len(cards_sent(emulator)) == 1
    assert db.session.scalar(select(func.count()).select_from(Handoff).where(Handoff.kind == "card")) == 1
