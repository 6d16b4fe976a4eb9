"""The ticket page without a browser: the picker, sending in place (htmx) and without JavaScript,
the conversation, live regions, presence and collisions."""

from datetime import timedelta

from bs4 import BeautifulSoup
from sqlalchemy import select

from models import Handoff, db
from tests.history_factories import add_handoff
from tests.test_handoff_send import open_window_everywhere, send, sends

HX = {"HX-Request": "true"}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def names(page: BeautifulSoup) -> list[str]:
    return [row.find("strong").get_text(strip=True) for row in page.select(".specialist-option")]


def test_nobody_is_preselected_and_the_agents_recent_choices_come_first(client, auth, make_ticket, make_specialist):
    agent = auth.login("agent")
    ticket = make_ticket()
    make_specialist(display_name="Aaron First")
    used = make_specialist(display_name="Zoe Last", department="Billing", organisation="Acme Ltd")
    add_handoff(make_ticket(), used, agent, created_at=ticket.created_at)
    page = soup(client.get(f"/tickets/{ticket.id}"))
    assert names(page)[:2] == ["Zoe Last", "Aaron First"]
    assert page.select("input[name=specialist_id][checked]") == []
    assert "recently used by you" in page.select_one(f'[data-specialist="{used.id}"]').get_text()
    assert page.select_one("label[for=specialist-q]") and page.select_one("fieldset#specialist-options legend")


def test_type_ahead_matches_department_organisation_and_tags_and_keeps_the_choice(
    client, auth, make_ticket, make_specialist
):
    auth.login("agent")
    ticket = make_ticket()
    acme = make_specialist(display_name="Ana Acme", organisation="Acme Ltd", tags="")
    routers = make_specialist(display_name="Rita Routers", tags="routers, wifi", department="Technical")
    url = f"/tickets/{ticket.id}/specialists"
    assert names(soup(client.get(url, query_string={"q": "acme"}, headers=HX))) == ["Ana Acme"]
    assert names(soup(client.get(url, query_string={"q": "wifi"}, headers=HX))) == ["Rita Routers"]
    fragment = soup(client.get(url, query_string={"q": "technical"}, headers=HX))
    assert names(fragment) == ["Rita Routers"]
    assert fragment.select_one("#specialist-count").get_text() == "1 specialist match."
    # What the agent already picked stays listed (and picked) whatever they type next.
    kept = soup(client.get(url, query_string={"q": "wifi", "specialist_id": acme.id}, headers=HX))
    assert names(kept) == ["Ana Acme", "Rita Routers"]
    assert kept.select_one("input[checked]")["value"] == str(acme.id)
    assert routers.id  # listed by tag, not picked
    # Without JavaScript the search reloads the whole page.
    assert client.get(url, query_string={"q": "wifi"}).status_code == 302


def test_sending_without_a_choice_says_so_and_sends_nothing(client, auth, make_ticket, make_specialist):
    auth.login("agent")
    ticket = make_ticket()
    make_specialist()
    response = client.post(f"/tickets/{ticket.id}/handoffs", data={"idempotency_key": "k" * 16}, follow_redirects=True)
    assert "Pick a specialist first: nobody was chosen, so nothing was sent." in response.get_data(as_text=True)
    assert db.session.query(Handoff).count() == 0


def test_a_send_by_htmx_answers_in_place_and_a_second_click_sends_nothing(
    client, auth, emulated_app, emulator, make_ticket, make_specialist
):
    auth.login("agent")
    ticket, specialist = make_ticket(customer_phone="+14155552691"), make_specialist(display_name="Ivy Inplace")
    open_window_everywhere(emulator, ticket.customer_phone)
    form = {"specialist_id": specialist.id, "idempotency_key": "htmx-key-123456", "include_intro": "no"}
    answer = client.post(f"/tickets/{ticket.id}/handoffs", data=form, headers=HX)
    assert answer.status_code == 200 and "<html" not in answer.get_data(as_text=True)
    fragment = soup(answer)
    [handoff] = db.session.scalars(select(Handoff)).all()
    attempt = fragment.select_one(f"section#handoffs[hx-swap-oob=true] article#handoff-{handoff.id}")
    assert attempt.has_attr("autofocus") and attempt["tabindex"] == "-1"  # focus moves to it
    assert "Card accepted by 1MSG" in attempt.select_one(".send-result").get_text()
    panel = fragment.select_one("section#send-panel[hx-swap-oob=true]")
    new_key = panel.select_one("input[name=idempotency_key]")["value"]
    assert new_key != form["idempotency_key"], "the next send is a new one"
    assert panel.select("input[name=specialist_id][checked]") == []
    # The same form again (a double click that got through): nothing more goes.
    again = soup(client.post(f"/tickets/{ticket.id}/handoffs", data=form, headers=HX))
    assert "nothing was sent twice" in again.select_one(".send-result").get_text()
    assert len(sends(emulator)) == 1


def test_htmx_errors_land_in_the_panel_and_questions_get_their_own_page(
    client, auth, emulated_app, emulator, make_ticket, make_specialist
):
    auth.login("agent")
    ticket, specialist = make_ticket(customer_phone="+14155552692"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    missing = client.post(f"/tickets/{ticket.id}/handoffs", data={"idempotency_key": "k" * 16}, headers=HX)
    assert missing.headers["HX-Retarget"] == "#send-panel"
    error = soup(missing).select_one("#specialist-error")
    assert error["role"] == "alert" and "nobody was chosen" in error.get_text()
    assert soup(missing).select_one("input[name=specialist_id][autofocus]") is not None
    send(ticket, specialist)
    again = {"specialist_id": specialist.id, "idempotency_key": "second-key-12345", "include_intro": "no"}
    asked = client.post(f"/tickets/{ticket.id}/handoffs", data=again, headers=HX)
    assert asked.headers["HX-Redirect"].startswith(f"/tickets/{ticket.id}/confirm?action=send")
    assert "again?" in client.get(asked.headers["HX-Redirect"]).get_data(as_text=True)
    assert len(sends(emulator)) == 1


def test_the_conversation_shows_the_customers_messages_and_the_poll_brings_new_ones(client, auth, make_ticket):
    from datetime import timedelta

    from models import utcnow
    from services import status

    auth.login("agent")
    ticket = make_ticket()
    status.record_inbound("in-old", ticket.customer_phone, utcnow() - timedelta(hours=30), body="Is anyone there?")
    db.session.commit()
    page = soup(client.get(f"/tickets/{ticket.id}"))
    [message] = page.select("#conversation .message")
    assert "Is anyone there?" in message.get_text() and message.select_one("time[datetime]")
    assert "Window closed" in page.select_one("#window-state").get_text()
    assert page.select_one("#window-news")["aria-live"] == "polite"
    poll_url = page.select_one("#window-state")["hx-get"]
    # Nothing new: the poll answers with the window alone.
    quiet = soup(client.get(poll_url, headers=HX))
    assert quiet.select_one("#conversation") is None and quiet.select_one("#window-news") is None
    status.record_inbound("in-new", ticket.customer_phone, utcnow(), body="Hello, I need the specialist")
    db.session.commit()
    answer = client.get(poll_url, headers=HX)
    news = soup(answer)
    assert answer.headers["HX-Trigger"] == "window-changed"
    assert news.select_one("#window-news[hx-swap-oob=innerHTML]").get_text().startswith("The window opened")
    assert [m.p.get_text() for m in news.select("#conversation[hx-swap-oob=true] .message")] == [
        "Is anyone there?",
        "Hello, I need the specialist",
    ]


def test_a_status_change_is_said_in_the_timelines_live_region(client, auth, make_ticket, make_specialist):
    from models import utcnow

    agent = auth.login("agent")
    handoff = add_handoff(
        make_ticket(),
        make_specialist(display_name="Lia Live"),
        agent,
        created_at=utcnow(),
        status="accepted",
        accepted_at=utcnow(),
    )
    url = f"/handoffs/{handoff.id}/status"
    same = soup(client.get(url, query_string={"was": "accepted"}, headers=HX))
    assert same.select_one("#handoff-news") is None
    handoff.status, handoff.delivered_at = "delivered", utcnow()
    db.session.commit()
    changed = soup(client.get(url, query_string={"was": "accepted"}, headers=HX))
    news = changed.select_one("#handoff-news[hx-swap-oob=innerHTML]").get_text()
    assert news.startswith("Lia Live's card: delivered at")
    assert "was=delivered" in changed.select_one(".handoff-status")["hx-get"]


def test_presence_and_a_card_sent_elsewhere_come_with_the_next_poll(
    client, auth, make_user, make_ticket, make_specialist
):
    from models import utcnow
    from services import presence

    alex = make_user("agent", name="Alex Other")
    me = auth.login("agent")
    ticket, specialist = make_ticket(), make_specialist(display_name="Cara Card")
    page = soup(client.get(f"/tickets/{ticket.id}"))
    region = page.select_one("#ticket-activity")
    assert region["aria-live"] == "polite" and region.get_text(strip=True) == ""
    poll_url = page.select_one("#window-state")["hx-get"]
    tab = page.select_one("#send-form input[name=tab]")["value"]
    assert page.select_one("#send-form input[name=idempotency_key]")["value"].startswith(tab + ".")
    # Alex opens the ticket (his own poll stores it) and sends a card from there.
    presence.seen(alex.id, ticket.id)
    add_handoff(ticket, specialist, alex, created_at=utcnow())
    db.session.commit()
    news = soup(client.get(poll_url, headers=HX)).select_one("#ticket-activity[hx-swap-oob=innerHTML]")
    assert "Alex Other is viewing this ticket now." in news.get_text(" ", strip=True)
    assert "Cara Card's card for this ticket went" in news.get_text(" ", strip=True)
    assert "sent by Alex Other" in news.get_text(" ", strip=True)
    # My own card from this very page is not news; the same card from another tab of mine is.
    mine = add_handoff(ticket, specialist, me, created_at=utcnow())
    mine.idempotency_key = handoffs_key(me, tab)
    db.session.commit()
    text = soup(client.get(poll_url, headers=HX)).select_one("#ticket-activity").get_text(" ", strip=True)
    assert text.count("went") == 1
    other_tab = soup(client.get(poll_url.replace(f"tab={tab}", "tab=0123456789ab"), headers=HX))
    assert "sent by you, in another tab" in other_tab.select_one("#ticket-activity").get_text(" ", strip=True)
    # A retry's key names no page: it is mine, but which tab is not known.
    mine.idempotency_key = f"retry-of-{mine.id - 1}"
    db.session.commit()
    text = soup(client.get(poll_url.replace(f"tab={tab}", "tab=0123456789ab"), headers=HX)).get_text(" ", strip=True)
    assert "sent by you." in text and "in another tab" not in text
    # Gone for three polls: no longer viewing; nothing changed since the last answer: no swap.
    presence.seen(alex.id, ticket.id, at=utcnow() - timedelta(seconds=presence.VIEWING_SECONDS + 1))
    db.session.commit()
    gone = soup(client.get(poll_url, headers=HX)).select_one("#ticket-activity")
    assert "is viewing" not in gone.get_text()
    next_url = soup(client.get(poll_url, headers=HX)).select_one("#window-state")["hx-get"]
    assert soup(client.get(next_url, headers=HX)).select_one("#ticket-activity") is None


def handoffs_key(user, tab: str) -> str:
    from services import handoffs

    return handoffs.user_key(user, f"{tab}.0123456789abcdef")


def test_a_retry_that_needs_a_question_asks_it_on_a_get_page_too(
    client, auth, emulated_app, emulator, make_ticket, make_specialist
):
    from models import utcnow

    agent = auth.login("agent")
    ticket, first, second = make_ticket(), make_specialist(display_name="Fay First"), make_specialist()
    failed = add_handoff(
        ticket,
        second,
        agent,
        created_at=utcnow(),
        status="failed",
        failed_at=utcnow(),
        failure_code="rate_limited",
        failure_reason="Too many",
    )
    add_handoff(ticket, first, agent, created_at=utcnow(), status="accepted", accepted_at=utcnow())
    asked = client.post(f"/handoffs/{failed.id}/retry", data={})
    assert asked.status_code == 303 and "action=retry" in asked.location and f"handoff_id={failed.id}" in asked.location
    page = soup(client.get(asked.location))
    assert page.select_one("main form")["action"] == f"/handoffs/{failed.id}/retry"
    assert "Fay First" in page.get_text()
    assert client.get(f"/tickets/{ticket.id}/confirm?action=bogus").status_code == 404
