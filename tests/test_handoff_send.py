"""The send path over real HTTP against the 1MSG emulator: window, faults, exactly once."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from models import AuditEntry, Handoff, InboundMessage, db, utcnow
from services import handoffs, settings, status
from tests.helpers import wait_until


def sends(emulator, method="sendContact"):
    return [r for r in emulator.requests() if r["path"].endswith("/" + method)]


def open_window_everywhere(emulator, phone):
    """The customer writes: stored by us and known to the emulator."""
    emulator.open_window(phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", phone, utcnow())
    db.session.commit()


def send(ticket, specialist, agent=None, key=None, intro=None):
    return handoffs.send_card(ticket, specialist, agent, key or uuid.uuid4().hex, intro_text=intro)


def test_window_opened_by_an_inbound_webhook_then_card_accepted(
    live_server, emulator, make_ticket, make_specialist, make_user
):
    ticket, specialist, agent = make_ticket(customer_phone="+14155552671"), make_specialist(), make_user()
    emulator.inbound("14155552671", "Hello, I need the billing expert")
    assert wait_until(lambda: db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1)
    outcome = send(ticket, specialist, agent)
    handoff = outcome.handoff
    assert handoff.status in ("accepted", "sent", "delivered", "read")
    assert handoff.message_id.startswith("wamid.")
    [call] = sends(emulator)
    assert call["json"]["phone"] == "14155552671"
    assert call["json"]["contacts"] == [handoff.card_snapshot]
    assert call["auth"] == "header"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "handoff.send")).actor_id == agent.id


def test_introduction_follows_the_accepted_card(emulated_app, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155552672")
    open_window_everywhere(emulator, ticket.customer_phone)
    handoff = send(ticket, make_specialist(), intro=settings.DEFAULTS["intro_text"]).handoff
    paths = [r["path"].rsplit("/", 1)[1] for r in emulator.requests() if r["method"] == "POST"]
    assert paths == ["sendContact", "sendMessage"]
    assert handoff.intro_message_id and handoff.message_id and handoff.status == "accepted"


def test_closed_window_is_blocked_by_our_check(emulated_app, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155552673")
    handoff = send(ticket, make_specialist()).handoff
    assert handoff.status == "failed" and handoff.failure_code == "window_closed"
    assert "reopen the chat with a template" in handoff.failure_reason
    assert sends(emulator) == [], "nothing reached 1MSG"


def test_stale_window_is_caught_by_1msg_answer(emulated_app, emulator, make_ticket, make_specialist):
    """Our data says open, 1MSG says closed: 1MSG's answer is final."""
    ticket = make_ticket(customer_phone="+14155552674")
    status.record_inbound("stale-1", ticket.customer_phone, utcnow())
    db.session.commit()
    handoff = send(ticket, make_specialist()).handoff
    assert handoff.status == "failed" and handoff.failure_code == "window_closed"
    assert len(sends(emulator)) == 1


def test_window_lookup_asks_1msg_when_nothing_is_stored(emulated_app, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155552675")
    emulator.open_window("14155552675")  # the customer wrote, but we never got the webhook
    handoff = send(ticket, make_specialist()).handoff
    assert handoff.status == "accepted"
    assert len([r for r in emulator.requests() if r["path"].endswith("/messages")]) == 1


@pytest.mark.parametrize("suffix", ["0013", "0014"])
def test_a_429_without_retry_after_and_sent_as_a_string_are_accepted(
    emulated_app, emulator, make_ticket, make_specialist, suffix
):
    """0013: 429 with no Retry-After, retried after a jittered back-off; 0014: `"sent": "true"`."""
    ticket = make_ticket(customer_phone=f"+1415555{suffix}")
    open_window_everywhere(emulator, ticket.customer_phone)
    handoff = send(ticket, make_specialist()).handoff
    assert handoff.status == "accepted" and handoff.message_id.startswith("wamid.")
    tries = [r["time"] for r in sends(emulator)]
    assert len(tries) == (2 if suffix == "0013" else 1)
    if suffix == "0013":
        assert tries[1] - tries[0] >= 0.25, "backed off before the retry"


def test_re_engagement_without_a_code_means_the_window_is_closed(emulated_app, emulator, make_ticket, make_specialist):
    """0015 answers a closed window with `"sent": "false"` and "Re-engagement message"."""
    ticket = make_ticket(customer_phone="+14155550015")
    status.record_inbound("in-0015", ticket.customer_phone, utcnow())  # we think it is open
    db.session.commit()
    handoff = send(ticket, make_specialist()).handoff
    assert (handoff.status, handoff.failure_code) == ("failed", "window_closed")
    assert handoffs.triage_for(handoff).action == "send_template"


def test_undeliverable_comes_in_a_later_failed_status(live_server, emulator, make_ticket, make_specialist):
    """0010: 1MSG accepts; Meta's 131026 arrives in a failed status webhook, not in the answer."""
    ticket = make_ticket(customer_phone="+14155550010")
    open_window_everywhere(emulator, ticket.customer_phone)
    handoff = send(ticket, make_specialist()).handoff
    assert handoff.status == "accepted"

    def failed_by_webhook():
        # The worker's backstop too: an ack that beat the send's commit waits as pending.
        status.apply_pending(handoff.message_id)
        db.session.commit()
        return db.session.get(Handoff, handoff.id).status == "failed"

    assert wait_until(failed_by_webhook, 10)
    failed = db.session.get(Handoff, handoff.id)
    assert failed.failure_meta_code == 131026
    assert handoffs.triage_for(failed).action == "check_number"


def test_bad_token_is_a_channel_problem_for_an_admin(make_app, emulator, make_ticket, make_specialist):
    app = make_app(
        ONEMSG_API_URL=emulator.base_url, ONEMSG_CHANNEL_ID=emulator.channel_id, ONEMSG_TOKEN="wrong-token-123"
    )
    with app.app_context():
        ticket = make_ticket(customer_phone="+14155552676")
        open_window_everywhere(emulator, ticket.customer_phone)
        handoff = send(ticket, make_specialist()).handoff
        assert handoff.failure_code == "auth_failed" and "tell an admin" in handoff.failure_reason
        assert "wrong-token-123" not in handoff.failure_reason


def test_1msg_down_is_recorded_not_raised(make_app, make_ticket, make_specialist):
    app = make_app(ONEMSG_API_URL="http://127.0.0.1:9", ONEMSG_CONNECT_TIMEOUT=0.5)
    with app.app_context():
        ticket = make_ticket(customer_phone="+14155552677")
        status.record_inbound("in-down", ticket.customer_phone, utcnow())
        db.session.commit()
        handoff = send(ticket, make_specialist()).handoff
        assert handoff.status == "failed" and handoff.failure_code == "upstream_unavailable"


def test_same_key_twice_sends_once(emulated_app, emulator, make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155552678"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    first = send(ticket, specialist, key="double-click-key")
    second = send(ticket, specialist, key="double-click-key")
    assert first.created and not second.created
    assert first.handoff.id == second.handoff.id
    assert len(sends(emulator)) == 1


def test_same_key_other_specialist_is_a_conflict(emulated_app, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155552679")
    open_window_everywhere(emulator, ticket.customer_phone)
    send(ticket, make_specialist(), key="reused-key-1")
    with pytest.raises(handoffs.HandoffConflict):
        send(ticket, make_specialist(), key="reused-key-1")


def test_twenty_concurrent_submits_send_once(
    live_server, emulated_app, emulator, make_ticket, make_specialist, make_user
):
    ticket, specialist, agent = make_ticket(customer_phone="+14155552680"), make_specialist(), make_user()
    open_window_everywhere(emulator, ticket.customer_phone)
    sessions = [live_server.session_for(agent) for _ in range(4)]
    form = {"specialist_id": specialist.id, "idempotency_key": "one-form-key-20", "include_intro": "no"}
    ticket_id = ticket.id
    db.session.commit()  # release SQLite's write lock taken by the reads above

    def submit(i):
        return (
            sessions[i % 4]
            .post(f"{live_server.url}/tickets/{ticket_id}/handoffs", data=form, allow_redirects=False, timeout=20)
            .status_code
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(submit, range(20)))
    assert all(code == 302 for code in codes), codes
    assert len(sends(emulator)) == 1
    assert db.session.scalar(select(func.count()).select_from(Handoff)) == 1


def test_form_double_submit_sends_once(client, auth, emulated_app, emulator, make_ticket, make_specialist):
    auth.login("agent")
    ticket, specialist = make_ticket(customer_phone="+14155552681"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    form = {"specialist_id": specialist.id, "idempotency_key": "form-key-abcdef", "include_intro": "no"}
    first = client.post(f"/tickets/{ticket.id}/handoffs", data=form, follow_redirects=True)
    second = client.post(f"/tickets/{ticket.id}/handoffs", data=form, follow_redirects=True)
    assert b"Card accepted by 1MSG" in first.data
    assert b"nothing was sent twice" in second.data
    assert len(sends(emulator)) == 1


def test_resending_soon_asks_to_confirm(client, auth, emulated_app, emulator, make_ticket, make_specialist):
    auth.login("agent")
    ticket, specialist = make_ticket(customer_phone="+14155552682"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    client.post(
        f"/tickets/{ticket.id}/handoffs",
        data={"specialist_id": specialist.id, "idempotency_key": "first-key-123", "include_intro": "no"},
    )
    again = {"specialist_id": specialist.id, "idempotency_key": "second-key-123", "include_intro": "no"}
    asked = client.post(f"/tickets/{ticket.id}/handoffs", data=again)
    # Post/Redirect/Get: the question is a page of its own, so Back never re-posts the form.
    assert asked.status_code == 303 and f"/tickets/{ticket.id}/confirm?" in asked.location
    question = client.get(asked.location)
    assert question.status_code == 200 and b"Send Spec" in question.data and b"again?" in question.data
    assert b'name="confirm_resend" value="yes"' in question.data
    assert len(sends(emulator)) == 1
    confirmed = client.post(f"/tickets/{ticket.id}/handoffs", data={**again, "confirm_resend": "yes"})
    assert confirmed.status_code == 302
    assert len(sends(emulator)) == 2
    # Back after "Yes, send it again": the question page sees its key used and goes to the ticket.
    back = client.get(asked.location)
    assert back.status_code == 302 and back.location.endswith(f"/tickets/{ticket.id}")


def test_ticket_page_offers_simulation_and_shows_the_window(
    client, auth, emulated_app, emulator, make_ticket, make_specialist
):
    auth.login("agent")
    make_specialist()
    ticket = make_ticket(customer_phone="+14155552683")
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "No message from this customer yet" in page
    assert "make the customer write to us" in page
    status.record_inbound("in-page", ticket.customer_phone, utcnow())
    db.session.commit()
    fragment = client.get(f"/tickets/{ticket.id}/window", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Window open" in fragment and "data-closes-at" in fragment
    assert "<html" not in fragment


def test_window_not_guessed_closed_when_1msg_cannot_be_asked(make_app, make_ticket, make_specialist):
    """1MSG down and nothing stored: the send is not blocked as "window closed"; 1MSG's failure is recorded."""
    app = make_app(ONEMSG_API_URL="http://127.0.0.1:9", ONEMSG_CONNECT_TIMEOUT=0.3)
    with app.app_context():
        ticket = make_ticket(customer_phone="+14155552690")
        state = handoffs.window.session_window(ticket.customer_phone)
        assert state.source == "unchecked" and not state.is_open
        handoff = send(ticket, make_specialist()).handoff
        assert handoff.failure_code == "upstream_unavailable"
