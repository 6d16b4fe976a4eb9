"""WCAG 2.2 AA: axe-core finds no serious or critical violation on any page of any role."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Specialist, Ticket, User, db, utcnow
from services import api_keys
from tests.browser_support import axe_violations, browser, browser_page, log_in, require_chromium, viewport  # noqa: F401
from tests.history_factories import add_handoff

require_chromium()
pytestmark = pytest.mark.browser

AGENT_PAGES = [
    "/",
    "/tickets/",
    "/tickets/?q=Ana",
    "/tickets/new",
    "/tickets/{ticket}/edit",
    "/directory/",
    "/directory/{specialist}",
    "/account/password",
    "/no-such-page",
]
LEAD_PAGES = ["/history/", "/history/?status=failed", "/history/sla", "/history/stuck", "/history/audit"]
ADMIN_PAGES = [
    "/admin/users/",
    "/admin/users/new",
    "/admin/users/{user}",
    "/admin/settings",
    "/admin/api-keys/",
    "/admin/api-keys/{key}/revoke",
    "/admin/outbox/",
    "/directory/new",
    "/directory/{specialist}/edit",
    "/account/",
]
PAGES = {"agent": AGENT_PAGES, "lead": AGENT_PAGES + LEAD_PAGES, "admin": AGENT_PAGES + LEAD_PAGES + ADMIN_PAGES}
# The send flow: the ticket page, a handoff's page and a question a send asks ("Send again?").
SEND_FLOW_PAGES = [
    "/tickets/{ticket}",
    "/handoffs/{handoff}",
    "/tickets/{ticket}/confirm?action=send&specialist_id={specialist}&idempotency_key=axe-check-key",
]


def _ids() -> dict:
    """Ids for the pages' placeholders, with a delivered and a failed handoff in the history."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.external_ref == "HD-1001"))
    specialist = db.session.scalar(select(Specialist).order_by(Specialist.id))
    agent = db.session.scalar(select(User).where(User.role == "agent"))
    now = utcnow()
    handoff = add_handoff(
        ticket,
        specialist,
        agent,
        created_at=now - timedelta(minutes=5),
        status="read",
        accepted_at=now - timedelta(minutes=5),
        read_at=now - timedelta(minutes=4),
    )
    add_handoff(
        ticket,
        specialist,
        agent,
        created_at=now - timedelta(minutes=3),
        status="failed",
        failed_at=now - timedelta(minutes=2),
        failure_reason="User's number is part of an experiment",
    )
    key = api_keys.create("Helpdesk", "agent", label="test").api_key
    ids = {"ticket": ticket.id, "specialist": specialist.id, "user": agent.id, "handoff": handoff.id, "key": key.id}
    db.session.commit()  # end the read: on SQLite it holds the lock the server needs to log in
    return ids


def _sweep(page, paths: list[str], ids: dict) -> list[str]:
    found = []
    for path in paths:
        page.goto(path.format(**ids))
        page.wait_for_load_state("networkidle")
        found += [f"{path}: {line}" for line in axe_violations(page)]
    return found


def test_login_page_has_no_serious_violation(browser_page):
    browser_page.goto("/login")
    found = axe_violations(browser_page)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("role", ["agent", "lead", "admin"])
def test_every_page_of_the_role_has_no_serious_violation(browser_page, role):
    ids = _ids()
    log_in(browser_page, role)
    found = _sweep(browser_page, PAGES[role], ids)
    assert not found, "\n".join(found)


def test_skip_link_is_the_first_stop_and_moves_focus_to_the_content(browser_page):
    from playwright.sync_api import expect

    log_in(browser_page, "agent")
    browser_page.goto("/tickets/")
    browser_page.keyboard.press("Tab")
    skip = browser_page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    browser_page.keyboard.press("Enter")
    expect(browser_page.locator("main")).to_be_focused()


def test_account_menu_is_named_by_its_visible_text(browser_page):
    from playwright.sync_api import expect

    log_in(browser_page, "lead")
    summary = browser_page.locator("header details summary")
    expect(summary).to_have_accessible_name("Your account: Lee Lead (lead)")
    summary.click()
    expect(browser_page.get_by_role("button", name="Log out", exact=True)).to_be_visible()


def test_send_flow_pages(browser_page):
    ids = _ids()
    log_in(browser_page, "agent")
    found = _sweep(browser_page, SEND_FLOW_PAGES, ids)
    assert not found, "\n".join(found)


def test_ticket_page_states_have_no_serious_violation(browser_page, emulator):
    """Closed window, a send refused for want of a choice, then open with the customer's messages,
    someone else viewing and a card from elsewhere (a card sent in place: test_ticket_browser)."""
    from playwright.sync_api import expect

    from services import presence, status

    ids = _ids()
    page = browser_page
    log_in(page, "agent")
    page.goto(f"/tickets/{ids['ticket']}")
    found = [f"closed: {line}" for line in axe_violations(page)]
    page.get_by_role("button", name="Send template to reopen the chat").click()
    expect(page.locator("#specialist-error")).to_be_visible()
    found += [f"no choice: {line}" for line in axe_violations(page)]
    ticket = db.session.get(Ticket, ids["ticket"])
    lead = db.session.scalar(select(User).where(User.role == "lead"))
    emulator.open_window(ticket.customer_phone.lstrip("+"))
    status.record_inbound("in-axe-1", ticket.customer_phone, utcnow(), body="Hello, are you there?")
    presence.seen(lead.id, ticket.id)
    add_handoff(
        ticket,
        db.session.get(Specialist, ids["specialist"]),
        lead,
        created_at=utcnow(),
        status="accepted",
        accepted_at=utcnow(),
    )
    db.session.commit()
    expect(page.locator("#ticket-activity")).to_contain_text("is viewing", timeout=10000)
    expect(page.locator("#window-news")).to_contain_text("The window opened")
    expect(page.get_by_role("button", name="Send card")).to_be_visible(timeout=10000)
    found += [f"open, busy ticket: {line}" for line in axe_violations(page)]
    assert not found, "\n".join(found)
