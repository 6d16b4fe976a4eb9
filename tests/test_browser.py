"""End to end in real Chromium (Debian's package) driven by Playwright: the demo flow."""

import re
import threading

import pytest

from models import Ticket, db
from onemsg.emulator import NAMESPACE
from services import handoffs
from tests.browser_support import browser, browser_page, require_chromium  # noqa: F401
from tests.helpers import wait_until

require_chromium()
pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


@pytest.fixture
def viewport() -> str:
    return "desktop"  # the send flow at the desktop size


@pytest.fixture
def page(browser_page):
    return browser_page


def log_in_as_agent(page):
    page.goto("/login")
    page.fill("#email", "agent@example.com")
    page.fill("#password", "agent-demo-pass")
    page.click("input[type=submit]")
    expect(page.get_by_role("heading", name="Tickets")).to_be_visible()


def open_ticket(page, ref):
    page.get_by_role("link", name=ref).click()
    expect(page.locator("#window-state")).to_contain_text("Window closed")


def make_customer_write(page):
    page.get_by_text("make the customer write to us").click()
    page.get_by_role("button", name="Simulate a message from the customer").click()
    # The window opens live, when 1MSG's messages[] webhook reaches us (no reload).
    expect(page.locator("#window-state")).to_contain_text("Window open", timeout=15000)


def test_agent_sends_a_card_and_sees_it_read_live(page):
    log_in_as_agent(page)
    open_ticket(page, "HD-1001")
    make_customer_write(page)
    pick(page, "Omar Haddad")
    expect(page.locator("#card-preview")).to_contain_text("Omar Haddad")
    page.get_by_role("button", name="Send card").click()
    expect(page.locator(".flash-success")).to_contain_text("Card accepted by 1MSG (message id wamid.")
    status = page.locator(".handoff-status").first
    for step in ("accepted", "sent", "delivered", "read"):
        expect(status.locator(f'[data-step="{step}"]')).to_have_class("done", timeout=15000)
    expect(status).to_have_attribute("data-status", "read")
    expect(status.locator("time").last).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))
    assert status.get_attribute("hx-trigger") is None, "a final status stops polling"


def test_failed_delivery_shows_why_and_what_to_do(page):
    log_in_as_agent(page)
    open_ticket(page, "HD-1004")  # the demo customer whose number ends 0001: delivery fails
    make_customer_write(page)
    pick(page, "Jane Specialist")
    page.get_by_role("button", name="Send card").click()
    status = page.locator(".handoff-status").first
    expect(status).to_have_attribute("data-status", "failed", timeout=15000)
    expect(status).to_contain_text("part of an experiment")
    expect(status).to_contain_text("retry after 24 hours")
    expect(status.locator('[data-action="retry-later"]')).to_contain_text("Retry is offered from")
    expect(status.locator('[data-action="retry"]')).to_have_count(0)


def test_closed_window_reopened_with_a_template_then_card_read(page):
    """Issue flow: closed window → template → the customer answers → window opens → card → read."""
    log_in_as_agent(page)
    open_ticket(page, "HD-1002")
    pick(page, "Jane Specialist")
    expect(page.locator("#template-preview")).to_contain_text("Hello Tom Becker, our specialist Jane Specialist")
    page.get_by_label("Send the card automatically when the customer answers").uncheck()
    page.get_by_role("button", name="Send template to reopen the chat").click()
    expect(page.locator("#handoffs .send-result")).to_contain_text("Template accepted by 1MSG")
    # The emulated customer answers the template; the page notices without a reload.
    expect(page.locator("#window-state")).to_contain_text("Window open", timeout=20000)
    expect(page.get_by_role("button", name="Send card")).to_be_visible(timeout=10000)
    pick(page, "Jane Specialist")
    page.get_by_role("button", name="Send card").click()
    card = page.locator(".handoff-status").first
    expect(card).to_contain_text("Card of")
    expect(card).to_have_attribute("data-status", "read", timeout=15000)
    template = page.locator(".handoff-status").nth(1)
    expect(template).to_contain_text("Template")
    assert db.session.query(Ticket).count() >= 4


def test_closed_window_reopened_by_a_template_a_strict_1msg_accepts_then_the_card_goes_by_itself(page, emulator):
    """The template goes with its namespace and listed language; after the reply the worker sends the card."""
    log_in_as_agent(page)
    open_ticket(page, "HD-1002")
    pick(page, "Jane Specialist")
    page.get_by_label("Send the card automatically when the customer answers").check()
    page.get_by_role("button", name="Send template to reopen the chat").click()
    expect(page.locator("#handoffs .send-result")).to_contain_text("Template accepted by 1MSG")
    [call] = [r for r in emulator.requests() if r["path"].endswith("/sendTemplate")]
    assert call["json"]["namespace"] == NAMESPACE
    assert call["json"]["language"] == {"policy": "deterministic", "code": "en_US"}
    # The emulated customer answers once the template is read; the worker's step sends the card.
    assert wait_until(lambda: handoffs.send_cards_after_replies() == 1, 20), "the card never went"
    [card_call] = [r for r in emulator.requests() if r["path"].endswith("/sendContact")]
    assert card_call["json"]["phone"] == "4915112345678"
    page.reload()
    card = page.locator(".handoff-status").first
    expect(card).to_contain_text("Card of")
    expect(card).to_have_attribute("data-status", "read", timeout=15000)


def picked(page, name):
    return page.get_by_role("radio", name=re.compile(name))


def pick(page, name):
    """Choose a specialist in the picker and wait for the panel to show them."""
    picked(page, name).check()
    expect(page.locator("#card-preview")).to_contain_text(name)


def test_the_template_preview_names_the_specialist_picked(page):
    """Picking another specialist on a closed window changes the template text with the card."""
    log_in_as_agent(page)
    open_ticket(page, "HD-1002")
    expect(page.locator("#template-preview")).to_contain_text("Pick a specialist")
    pick(page, "Jane Specialist")
    expect(page.locator("#template-preview")).to_contain_text("our specialist Jane Specialist")
    pick(page, "Omar Haddad")
    expect(page.locator("#template-preview")).to_contain_text("our specialist Omar Haddad")
    expect(page.locator("#template-preview")).not_to_contain_text("Jane Specialist")
    expect(page.locator("#card-preview")).to_contain_text("Omar Haddad")
    expect(picked(page, "Omar Haddad")).to_be_checked()


@pytest.fixture
def worker(emulated_app):
    """The worker's follow-up job, running beside the live server as `flask handoffs worker` does."""
    from services.handoffs import send_cards_after_replies

    stop = threading.Event()

    def loop():
        while not stop.is_set():
            with emulated_app.app_context():
                send_cards_after_replies()
            stop.wait(0.5)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


def test_hd_1002_omar_chosen_template_answered_one_card_omars_live_in_two_tabs(page, worker, emulator):
    """The README's walkthrough: the agent's choice survives the template, the card goes once,
    both tabs see it come without a reload, and a second specialist needs a confirmation."""
    log_in_as_agent(page)
    open_ticket(page, "HD-1002")
    other_tab = page.context.new_page()
    other_tab.goto(page.url)
    pick(page, "Omar Haddad")
    expect(page.get_by_label("Send the card automatically when the customer answers")).to_be_checked()
    page.get_by_role("button", name="Send template to reopen the chat").click()
    expect(page.locator("#handoffs .send-result")).to_contain_text("Template accepted by 1MSG")
    expect(page.locator("#pending-follow-up")).to_contain_text("Omar Haddad's card goes when the customer answers.")
    expect(picked(page, "Omar Haddad")).to_be_checked()
    # The other tab learns of the template by itself (the card may already follow it by then).
    expect(other_tab.locator("#handoffs .handoff-status", has_text="Template")).to_be_visible(timeout=10000)

    # The emulated customer answers; the worker sends Omar's card; both tabs show it, no reload.
    for tab in (page, other_tab):
        card = tab.locator("#handoffs .handoff-status", has_text="Card of Omar Haddad")
        expect(card).to_be_visible(timeout=30000)
        expect(card).to_have_attribute("data-status", "read", timeout=15000)
        expect(tab.locator("#pending-follow-up")).to_have_count(0)
    cards = [
        r["json"]["contacts"][0]["name"]["formatted_name"]
        for r in emulator.requests()
        if r["path"].endswith("/sendContact")
    ]
    assert cards == ["Omar Haddad"], cards

    # Now the window is open: picking another specialist asks first, naming Omar's card.
    expect(page.get_by_role("button", name="Send card")).to_be_visible(timeout=10000)
    expect(picked(page, "Omar Haddad")).to_be_checked()
    pick(page, "Jane Specialist")
    page.get_by_role("button", name="Send card").click()
    expect(page.get_by_role("heading", name="Also send Jane Specialist's card?")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Omar Haddad's card was already sent to this customer")
    page.get_by_role("button", name="No, go back").click()
    expect(page.locator("#window-state")).to_be_visible()
    cards = [
        r["json"]["contacts"][0]["name"]["formatted_name"]
        for r in emulator.requests()
        if r["path"].endswith("/sendContact")
    ]
    assert cards == ["Omar Haddad"], "nothing more went without the confirmation"
    other_tab.close()
