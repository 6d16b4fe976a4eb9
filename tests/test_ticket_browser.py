"""The ticket page in Chromium at 1366x900 and 390x844: the picker, sending in place, Back after a
confirmation, the page without JavaScript, the conversation, presence and collisions, live regions."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Handoff, Ticket, db
from services.app_state import app_state
from tests.browser_support import (  # noqa: F401
    axe_violations,
    browser,
    browser_page,
    horizontal_overflow,
    log_in,
    require_chromium,
    viewport,
)
from tests.helpers import wait_until

require_chromium()
pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


def ticket_id(ref: str) -> int:
    found = db.session.scalar(select(Ticket.id).where(Ticket.external_ref == ref))
    db.session.commit()  # end the read: on SQLite it holds the lock the server needs
    return found


def open_ticket(page, ref: str) -> int:
    number = ticket_id(ref)
    page.goto(f"/tickets/{number}")
    expect(page.locator("#window-state")).to_be_visible()
    return number


def make_customer_write(page, text: str = "Hi, I still need help with this.") -> None:
    page.get_by_text("make the customer write to us").click()
    page.get_by_label("Message from the customer").fill(text)
    page.get_by_role("button", name="Simulate a message from the customer").click()
    expect(page.locator("#window-state")).to_contain_text("Window open", timeout=15000)
    expect(page.get_by_role("button", name="Send card")).to_be_visible(timeout=10000)


def radio(page, name: str):
    return page.get_by_role("radio", name=re.compile(name))


def handoffs_sent() -> list[Handoff]:
    found = db.session.scalars(select(Handoff).order_by(Handoff.id)).all()
    db.session.commit()
    return found


def test_the_picker_filters_as_the_agent_types_works_by_keyboard_and_preselects_nobody(browser_page):
    page = browser_page
    log_in(page, "agent")
    open_ticket(page, "HD-1001")
    make_customer_write(page)
    options = page.locator("#specialist-options .specialist-option")
    everyone = options.count()
    assert everyone >= 3
    expect(page.locator("#specialist-options input:checked")).to_have_count(0)
    expect(page.locator("#card-preview")).to_contain_text("Pick a specialist")
    # Sending without a choice sends nothing and says so where the choice is made.
    page.get_by_role("button", name="Send card").click()
    expect(page.locator("#specialist-error")).to_have_text(
        "Pick a specialist first: nobody was chosen, so nothing was sent."
    )
    expect(page.locator("#specialist-options input[name=specialist_id]").first).to_be_focused()
    assert handoffs_sent() == []
    # Type-ahead: by tag, the list narrows in place and the count is announced.
    page.get_by_label("Find a specialist").fill("routers")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Omar Haddad")
    expect(page.locator("#specialist-count")).to_have_text("1 specialist match.")
    page.get_by_label("Find a specialist").fill("")
    # The whole list is back: the search's answer has landed, so it cannot replace a choice made next
    expect(options).to_have_count(everyone)
    # Keyboard: Tab into the radio group, arrows move the choice, the card follows.
    page.get_by_label("Find a specialist").focus()
    page.keyboard.press("Tab")  # the Find button
    page.keyboard.press("Tab")  # the first radio
    expect(options.first.locator("input")).to_be_focused()
    page.keyboard.press("Space")
    first_name = options.first.locator("strong").inner_text()
    expect(page.locator("#card-preview")).to_contain_text(first_name)
    page.keyboard.press("ArrowDown")
    second_name = options.nth(1).locator("strong").inner_text()
    expect(options.nth(1).locator("input")).to_be_checked()
    expect(page.locator("#card-preview")).to_contain_text(second_name)
    assert horizontal_overflow(page) == 0


def test_send_in_place_shows_busy_then_moves_focus_to_the_new_attempt_and_a_double_click_sends_once(browser_page, app):
    page = browser_page
    # 1MSG answers this customer slowly (emulator fault 0004): long enough to see the busy state.
    app.config["ONEMSG_READ_TIMEOUT"] = 5
    app_state(app).onemsg_client = None
    db.session.add(
        Ticket(
            external_ref="HD-0004",
            subject="Slow answer",
            customer_name="Slow Customer",
            customer_phone="+14155550004",
            status="ready",
        )
    )
    db.session.commit()
    log_in(page, "agent")
    number = open_ticket(page, "HD-0004")
    make_customer_write(page)
    radio(page, "Omar Haddad").check()
    expect(page.locator("#card-preview")).to_contain_text("Omar Haddad")
    url = page.url
    page.get_by_role("button", name="Send card").dblclick()
    expect(page.get_by_role("button", name="Send card")).to_be_disabled()
    expect(page.locator("#send-busy")).to_be_visible()
    attempt = page.locator("#handoffs article").first
    expect(attempt).to_be_focused(timeout=10000)
    expect(attempt.locator(".send-result")).to_contain_text("Card accepted by 1MSG")
    expect(page.locator("#send-busy")).to_be_hidden()
    assert page.url == url, "no full reload"
    [handoff] = handoffs_sent()
    assert handoff.ticket_id == number
    expect(page.get_by_role("button", name="Send card")).to_be_enabled()
    expect(page.locator("#specialist-options input:checked")).to_have_count(0)
    found = axe_violations(page)
    assert not found, "\n".join(found)


def test_send_again_asks_on_a_page_of_its_own_and_back_never_reposts(browser_page):
    page = browser_page
    log_in(page, "agent")
    number = open_ticket(page, "HD-1001")
    make_customer_write(page)
    radio(page, "Jane Specialist").check()
    page.get_by_role("button", name="Send card").click()
    expect(page.locator("#handoffs .send-result")).to_contain_text("Card accepted by 1MSG")
    radio(page, "Jane Specialist").check()
    page.get_by_role("button", name="Send card").click()
    expect(page.get_by_role("heading", name="Send Jane Specialist again?")).to_be_visible()
    assert "/confirm?" in page.url
    page.get_by_role("button", name="Yes, send it again").click()
    expect(page.locator("#flashes")).to_contain_text("Card accepted by 1MSG")
    assert len(handoffs_sent()) == 2
    page.go_back()
    # Back lands on a page, not on "Confirm Form Resubmission": the question knows it was answered.
    expect(page.locator("#window-state")).to_be_visible()
    assert page.url.split("#")[0].endswith(f"/tickets/{number}")
    assert len(handoffs_sent()) == 2


def test_without_javascript_the_picker_and_send_work_by_full_pages(browser, live_server, viewport):
    from services.demo import seed_demo
    from tests.browser_support import VIEWPORTS

    seed_demo()
    number = ticket_id("HD-1001")
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport], java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, "agent")
        page.goto(f"/tickets/{number}")
        page.get_by_text("make the customer write to us").click()
        page.get_by_role("button", name="Simulate a message from the customer").click()
        assert wait_until(lambda: _window_open(page, number), 15), "the window never opened"
        page.get_by_label("Find a specialist").fill("routers")
        page.get_by_role("button", name="Find").click()
        expect(page.locator("#specialist-options .specialist-option")).to_have_count(1)
        page.get_by_role("button", name="Send card").click()
        expect(page.locator("#flashes")).to_contain_text("Pick a specialist first")
        radio(page, "Omar Haddad").check()
        page.get_by_role("button", name="Send card").click()
        expect(page.locator("#flashes")).to_contain_text("Card accepted by 1MSG")
        assert re.search(rf"/tickets/{number}\?tab=[0-9a-f]{{12}}#handoff-\d+$", page.url)
        assert len(handoffs_sent()) == 1
    finally:
        context.close()


def _window_open(page, number: int) -> bool:
    page.goto(f"/tickets/{number}")
    return "Window open" in page.locator("#window-state").inner_text()


def test_the_conversation_and_the_live_regions_follow_the_customer_and_the_card(browser_page, emulator):
    from models import utcnow
    from services import status as statuses

    page = browser_page
    log_in(page, "agent")
    number = open_ticket(page, "HD-1002")
    expect(page.locator("#conversation")).to_contain_text("No message from this customer")
    # The customer writes while the page is open (as 1MSG's webhook would store it).
    phone = db.session.get(Ticket, number).customer_phone
    emulator.open_window(phone.lstrip("+"))
    statuses.record_inbound("in-browser-1", phone, utcnow(), body="Hallo, the router died again")
    db.session.commit()
    # Without a reload: the message with its time (the viewer's zone), and the window change said aloud.
    message = page.locator("#conversation .message").last
    expect(message).to_contain_text("Hallo, the router died again", timeout=10000)
    expect(message.locator("time")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    # Times in the viewer's zone (the browser's, Europe/Berlin here), each carrying its UTC instant.
    expect(page.locator("footer")).to_contain_text("times shown in Europe/Berlin")
    instant = message.locator("time").get_attribute("datetime")
    berlin = datetime.fromisoformat(instant.rstrip("Z")).replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    expect(message.locator("time")).to_have_text(berlin.strftime("%Y-%m-%d %H:%M"))
    expect(page.locator("#window-news")).to_contain_text("The window opened")
    expect(page.locator("#window-news")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name="Send card")).to_be_visible(timeout=10000)
    radio(page, "Omar Haddad").check()
    page.get_by_role("button", name="Send card").click()
    # Each status change is said once in the timeline's live region; states carry words, not colour only.
    expect(page.locator("#handoff-news")).to_contain_text(
        re.compile(r"Omar Haddad's card: (sent|delivered|read) at"), timeout=15000
    )
    status = page.locator("#handoffs .handoff-status").first
    expect(status).to_have_attribute("data-status", "read", timeout=15000)
    expect(status.locator(".badge")).to_have_text("Read")
    assert horizontal_overflow(page) == 0


def test_who_else_is_here_and_a_card_from_elsewhere_show_within_one_poll(browser_page, browser, live_server, viewport):
    from tests.browser_support import VIEWPORTS

    page = browser_page
    log_in(page, "agent")
    number = open_ticket(page, "HD-1001")
    make_customer_write(page)
    lead_context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORTS[viewport], timezone_id="Europe/Berlin"
    )
    try:
        lead = lead_context.new_page()
        log_in(lead, "lead")
        lead.goto(f"/tickets/{number}")
        activity = page.locator("#ticket-activity")
        expect(activity).to_contain_text("Lee Lead is viewing this ticket now.", timeout=8000)
        expect(lead.locator("#ticket-activity")).to_contain_text("Alex Agent is viewing", timeout=8000)
        radio(lead, "Jane Specialist").check()
        lead.get_by_role("button", name="Send card").click()
        expect(lead.locator("#handoffs .send-result")).to_contain_text("Card accepted by 1MSG")
        expect(activity).to_contain_text(
            re.compile(r"Jane Specialist's card for this ticket went \d+ s ago"), timeout=8000
        )
        expect(activity).to_contain_text("sent by Lee Lead")
        # The sender's own page does not warn about its own card.
        expect(lead.locator("#ticket-activity")).not_to_contain_text("went")
        # Another tab of the same agent: its card is news to the first tab, not to itself.
        second_tab = page.context.new_page()
        second_tab.goto(f"/tickets/{number}")
        radio(second_tab, "Omar Haddad").check()
        second_tab.get_by_role("button", name="Send card").click()
        expect(second_tab.get_by_role("heading", name=re.compile("Also send Omar Haddad"))).to_be_visible()
        second_tab.get_by_role("button", name=re.compile("Yes, also send")).click()
        expect(second_tab.locator("#flashes")).to_contain_text("Card accepted by 1MSG")
        expect(activity).to_contain_text("sent by you, in another tab", timeout=8000)
        expect(second_tab.locator("#ticket-activity")).not_to_contain_text("in another tab")
        assert horizontal_overflow(page) == 0
    finally:
        lead_context.close()


def test_on_a_closed_window_the_arrow_keys_keep_focus_while_the_panel_follows_the_choice(browser_page):
    """Picking there reloads the panel (the template names the specialist): focus must stay put."""
    page = browser_page
    log_in(page, "agent")
    open_ticket(page, "HD-1002")
    options = page.locator("#specialist-options .specialist-option")
    first = options.first.locator("input")
    first.focus()
    page.keyboard.press("Space")
    first_name = options.first.locator("strong").inner_text()
    expect(page.locator("#template-preview")).to_contain_text(f"our specialist {first_name}")
    expect(options.first.locator("input")).to_be_focused()
    page.keyboard.press("ArrowDown")
    second_name = options.nth(1).locator("strong").inner_text()
    expect(page.locator("#template-preview")).to_contain_text(f"our specialist {second_name}")
    expect(options.nth(1).locator("input")).to_be_checked()
    expect(options.nth(1).locator("input")).to_be_focused()
