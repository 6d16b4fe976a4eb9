"""The agents' queue in Chromium at 1366x900 and 390x844: search, filters, counts, live refresh, fit."""

import re

import pytest

from models import Ticket, db
from services.demo import DEMO_TICKETS
from tests.browser_support import browser, browser_page, horizontal_overflow, log_in, require_chromium, viewport  # noqa: F401

require_chromium()
pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

DEMO_COUNT = len(DEMO_TICKETS)
DEMO_READY = sum(ticket["status"] == "ready" for ticket in DEMO_TICKETS)


def rows(page):
    return page.locator("#ticket-queue tbody tr[data-ref]")


def test_search_and_filters_narrow_the_queue_in_place(browser_page):
    page = browser_page
    log_in(page, "agent")
    page.goto("/tickets/")
    expect(rows(page)).to_have_count(DEMO_COUNT)
    expect(page.locator(".queue-counts")).to_contain_text(f"{DEMO_COUNT} tickets")
    expect(page.locator(".queue-counts")).to_contain_text(
        f"{DEMO_READY} ready · 0 window open · 0 failed handoff · {DEMO_COUNT} mine"
    )
    page.get_by_label("Search by ref, customer name or phone").fill("becker")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-ref", "HD-1002")
    expect(page).to_have_url(re.compile(r"q=becker"))
    page.get_by_label("Search by ref, customer name or phone").fill("")
    expect(rows(page)).to_have_count(DEMO_COUNT)
    page.get_by_label("Ready").check()
    expect(rows(page)).to_have_count(DEMO_READY)
    expect(page).to_have_url(re.compile(r"ready=y"))
    page.get_by_label("Search by ref, customer name or phone").fill("+1 415 555 0001")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-ref", "HD-1004")
    # The URL keeps the filters: a reload shows the same queue.
    page.reload()
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_label("Ready")).to_be_checked()


def test_the_queue_refreshes_itself_and_shows_the_last_handoff(browser_page, app):
    page = browser_page
    app.config["QUEUE_REFRESH_SECONDS"] = 1
    log_in(page, "agent")
    page.goto("/tickets/")
    expect(rows(page)).to_have_count(DEMO_COUNT)
    db.session.add(
        Ticket(
            external_ref="HD-2001",
            subject="Arrived while watching",
            customer_name="New Person",
            customer_phone="+14155553333",
            status="ready",
        )
    )
    db.session.commit()
    expect(page.locator('tr[data-ref="HD-2001"]')).to_be_visible(timeout=10000)
    expect(page.locator(".queue-counts")).to_contain_text(f"{DEMO_COUNT + 1} tickets")
    expect(page.locator('tr[data-ref="HD-1001"] .last-handoff')).to_contain_text("none")


def test_the_queue_fits_the_screen(browser_page, viewport):
    page = browser_page
    log_in(page, "agent")
    page.goto("/tickets/")
    expect(rows(page)).to_have_count(DEMO_COUNT)
    assert horizontal_overflow(page) == 0
    if viewport == "phone":
        # Each ticket is a card whose fields carry their names.
        expect(page.locator('tr[data-ref="HD-1001"] td[data-label="Window"]')).to_be_visible()
        box = page.locator('tr[data-ref="HD-1001"]').bounding_box()
        assert box["width"] <= 390
