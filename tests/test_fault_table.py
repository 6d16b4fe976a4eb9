"""Every emulator fault (numbers ending 0001-0012), sent as an agent does it: the form with the
introduction on. For each: the customer never gets an introduction without its card, the
timeline draws only the steps that happened, the flash is one sentence, History files the
failure under the card's own class, and Retry is offered only when the advice says so."""

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests as http
from bs4 import BeautifulSoup
from sqlalchemy import select

from models import Handoff, db, utcnow
from services import settings, status
from tests.helpers import wait_until

INTRO = settings.DEFAULTS["intro_text"]


@dataclass(frozen=True)
class Expected:
    status: str  # the handoff's status once the fault has played out
    steps: tuple[str, ...]  # timeline steps drawn as done (or pending, for queued/unknown)
    flash: str  # words of the one flash sentence
    flash_kind: str
    failure_code: str | None  # the class a lead filters History by
    retry: str  # "never", "later" (after the advice's wait) or "now"
    card_recorded: bool  # the emulator recorded the card (whatever it answered)


ACCEPTED = "Card accepted by 1MSG (message id wamid."
FAULTS = {
    "0001": Expected(
        "failed", ("requested", "accepted", "sent", "failed"), ACCEPTED, "success", "delivery_failed", "later", True
    ),
    "0002": Expected(
        "failed",
        ("requested", "failed"),
        "1MSG is rate limiting us (HTTP 429), so the card was not sent; retry after 1 minute.",
        "error",
        "rate_limited",
        "later",
        False,
    ),
    "0003": Expected(
        "unknown",
        ("requested", "unknown"),
        "1MSG failed with HTTP 500 after the card left us",
        "warning",
        "unknown_outcome",
        "never",
        False,
    ),
    "0004": Expected(
        "unknown",
        ("requested", "unknown"),
        "1MSG did not answer within 2 s",
        "warning",
        "unknown_outcome",
        "never",
        True,
    ),
    "0005": Expected(
        "read", ("requested", "accepted", "sent", "delivered", "read"), ACCEPTED, "success", None, "never", True
    ),
    "0006": Expected(
        "read", ("requested", "accepted", "sent", "delivered", "read"), ACCEPTED, "success", None, "never", True
    ),
    "0007": Expected(
        "failed",
        ("requested", "failed"),
        "1MSG says this number cannot receive WhatsApp "
        "messages, so the card was not sent; check the number on the ticket.",
        "error",
        "invalid_recipient",
        "never",
        False,
    ),
    "0008": Expected(
        "unknown",
        ("requested", "unknown"),
        "1MSG's answer (HTTP 200) could not be read",
        "warning",
        "unknown_outcome",
        "never",
        True,
    ),
    "0009": Expected(
        "queued", ("requested", "queued"), "1MSG queued the card as job job-", "warning", "queued", "never", False
    ),
    "0010": Expected(
        "failed", ("requested", "accepted", "sent", "failed"), ACCEPTED, "success", "delivery_failed", "never", True
    ),
    "0011": Expected(
        "failed", ("requested", "accepted", "sent", "failed"), ACCEPTED, "success", "delivery_failed", "never", True
    ),
    "0012": Expected(
        "failed",
        ("requested", "failed"),
        "1MSG was unavailable (HTTP 503), so the card was not sent; retry after 1 minute.",
        "error",
        "upstream_unavailable",
        "later",
        False,
    ),
}


def open_window(emulator, phone: str) -> None:
    emulator.post("settings", {"ackNotificationsOn": True})
    emulator.open_window(phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", phone, utcnow())
    db.session.commit()


def send_from_the_form(live_server, agent, ticket_id: int, specialist_id: int) -> BeautifulSoup:
    session = live_server.session_for(agent)
    page = session.post(
        f"{live_server.url}/tickets/{ticket_id}/handoffs",
        timeout=15,
        data={
            "specialist_id": specialist_id,
            "idempotency_key": uuid.uuid4().hex,
            "include_intro": "yes",
            "intro_text": INTRO,
        },
    )
    assert page.status_code == 200, page.text[:500]
    return BeautifulSoup(page.text, "html.parser")


def get(live_server, user, path: str, **params) -> str:
    """A page as that user sees it (the test's own transaction is ended first: SQLite's lock)."""
    db.session.commit()
    response = live_server.session_for(user).get(f"{live_server.url}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return response.text


def what_the_customer_got(emulator, phone: str) -> list[str]:
    """The customer's chat as 1MSG recorded it, oldest first: our card and text messages."""
    response = http.get(
        emulator.url("messages"),
        params={"chatId": f"{phone.lstrip('+')}@c.us"},
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=5,
    )
    return [m["type"] for m in reversed(response.json()["messages"]) if m.get("fromMe")]


def timeline_steps(fragment: BeautifulSoup) -> tuple[str, ...]:
    return tuple(
        li["data-step"]
        for li in fragment.select("ol.timeline li")
        if {"done", "failed", "pending"} & set(li.get("class") or [])
    )


def sentences(text: str) -> int:
    """Sentence ends: a full stop (or ! ?) followed by a space or the end, not inside an id."""
    return len(re.findall(r"[.!?](?=\s|$)", text.strip()))


def final(handoff_id: int, expected: Expected) -> Handoff:
    """The handoff once every ack the fault plays has arrived (they may come out of order)."""

    def settled():
        handoff = db.session.get(Handoff, handoff_id)
        steps = {"sent": handoff.sent_at, "delivered": handoff.delivered_at, "read": handoff.read_at}
        return handoff.status == expected.status and all(at for step, at in steps.items() if step in expected.steps)

    assert wait_until(settled, 10), f"handoff never settled: {db.session.get(Handoff, handoff_id).status}"
    handoff = db.session.get(Handoff, handoff_id)
    db.session.expunge(handoff)  # read once, then keep no transaction open
    db.session.commit()
    return handoff


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_tells_the_truth_and_never_leaves_an_intro_alone(
    fault, live_server, emulated_app, emulator, make_ticket, make_specialist, make_user
):
    expected = FAULTS[fault]
    ticket = make_ticket(customer_phone=f"+1415555{fault}", external_ref=f"HD-F{fault}")
    specialist, agent, lead = make_specialist(display_name="Omar Haddad"), make_user("agent"), make_user("lead")
    open_window(emulator, ticket.customer_phone)
    ticket_id, ref, phone, specialist_id = ticket.id, ticket.external_ref, ticket.customer_phone, specialist.id

    page = send_from_the_form(live_server, agent, ticket_id, specialist_id)
    handoff = final(db.session.scalar(select(Handoff.id).where(Handoff.ticket_id == ticket_id)), expected)

    # One flash, one sentence, naming the real cause.
    [flash] = page.select("#flashes .flash")
    assert f"flash-{expected.flash_kind}" in flash["class"]
    assert expected.flash in flash.get_text(), flash.get_text()
    assert sentences(flash.get_text()) == 1, flash.get_text()

    # The customer: an introduction only after a card 1MSG accepted, and never alone.
    got = what_the_customer_got(emulator, phone)
    card_types = [t for t in got if t != "chat"]
    assert ("chat" in got) == bool(handoff.message_id), got
    if "chat" in got:
        assert got.index("chat") > got.index(card_types[0]) and handoff.intro_message_id
    assert bool(card_types) == expected.card_recorded, got
    posts = [
        r["path"].rsplit("/", 1)[1]
        for r in emulator.requests()
        if r["method"] == "POST" and r["path"].rsplit("/", 1)[1].startswith("send")
    ]
    assert posts[0] == "sendContact" and posts.count("sendMessage") == (1 if handoff.message_id else 0), posts

    # The timeline draws only what happened: "Accepted" only with a message id.
    status_page = get(live_server, agent, f"/handoffs/{handoff.id}")
    timeline = BeautifulSoup(status_page, "html.parser").select_one(f"#handoff-{handoff.id}-status")
    assert timeline_steps(timeline) == expected.steps
    assert ("accepted" in expected.steps) == bool(handoff.message_id)
    alert = timeline.select_one("[role=alert]")
    if expected.status in ("failed", "unknown", "queued"):
        sentence = alert.select_one(".failure-sentence").get_text()
        assert sentences(sentence) == 1 and alert.get_text().count(sentence) == 1, alert.get_text()
    else:
        assert alert is None

    # History: the lead finds it under the card's own failure class.
    assert handoff.failure_code == expected.failure_code
    if expected.failure_code:
        history = get(live_server, lead, "/history/", reason=expected.failure_code, q=ref)
        assert f">{ref}<" in history

    # Retry: offered only as the advice says, and never twice.
    retry_form = f'action="/handoffs/{handoff.id}/retry"'
    assert (retry_form in status_page) == (expected.retry == "now")
    assert ('data-action="retry-later"' in status_page) == (expected.retry == "later")
    if expected.retry == "later":
        db.session.execute(
            Handoff.__table__.update().where(Handoff.id == handoff.id).values(failed_at=utcnow() - timedelta(days=2))
        )
        assert retry_form in get(live_server, agent, f"/handoffs/{handoff.id}"), (
            "once the advice's wait is over, Retry is offered"
        )


def test_a_queued_card_settles_by_reconciliation_and_is_never_retried_meanwhile(
    emulated_app, emulator, make_ticket, make_specialist
):
    from services import handoffs
    from services.reconcile import reconcile

    ticket = make_ticket(customer_phone="+14155550009")
    open_window(emulator, ticket.customer_phone)
    handoff = handoffs.send_card(ticket, make_specialist(), None, uuid.uuid4().hex, intro_text=INTRO).handoff
    assert handoff.status == "queued" and handoff.message_id is None and handoff.intro_message_id is None
    reconcile()
    queued = db.session.get(Handoff, handoff.id)
    assert queued.status == "queued" and queued.last_checked_at is not None, "checked, and left queued"
    assert not handoffs.triage_for(queued).retry_now
    db.session.execute(
        Handoff.__table__.update()
        .where(Handoff.id == handoff.id)
        .values(created_at=utcnow() - timedelta(hours=1), last_checked_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    reconcile()
    settled = db.session.get(Handoff, handoff.id)
    assert (settled.status, settled.failure_code) == ("failed", "not_sent")
    assert sentences(settled.failure_reason) == 1 and handoffs.triage_for(settled).retry_now
