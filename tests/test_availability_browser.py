"""In real Chromium: the ticket page shows each specialist's availability in the picker and the
suggestion with its reason; picking the suggestion is the agent's click, and nothing is sent."""

import pytest

from models import Handoff, db
from tests.browser_support import axe_violations, browser, browser_page, log_in, require_chromium, viewport  # noqa: F401

require_chromium()
pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


def test_the_ticket_page_shows_availability_and_the_suggestion(browser_page, viewport):
    page = browser_page
    log_in(page, "agent")
    page.goto("/tickets/")
    page.get_by_role("link", name="HD-1005").click()
    # The demo: a Portuguese-speaking customer asks about tax on an invoice; Rui (pt-BR, tax, invoice)
    # is suggested whatever the hour; Omar is on call, Jane has no hours, Mei is on leave.
    suggestion = page.locator("#suggestion")
    expect(suggestion).to_contain_text("Suggested: Rui Costa")
    expect(suggestion).to_contain_text("speaks pt-BR, tax, invoice, ")
    expect(suggestion).to_contain_text("0 of 8 today")
    expect(suggestion).to_contain_text("Customer's language: pt-BR")
    options = page.locator("#specialist-options")

    def row(name):
        return options.locator(".specialist-option", has=page.locator("strong", has_text=name))

    expect(row("Omar Haddad")).to_contain_text("available now · 0 of 20 today")
    expect(row("Jane Specialist")).to_contain_text("working hours not set")
    expect(row("Mei Tanaka")).to_contain_text("on leave until")
    expect(row("Mei Tanaka")).to_contain_text("stand-in: Omar Haddad")
    rui = row("Rui Costa")
    expect(rui).to_contain_text("Suggested")
    expect(rui).to_contain_text("speaks pt-BR")
    expect(page.locator("input[name=specialist_id]:checked")).to_have_count(0)  # nobody chosen for the agent
    assert axe_violations(page) == []

    page.locator("[data-action=pick-suggestion]").click()
    rui_id = rui.get_attribute("data-specialist")
    expect(page.locator(f"input#specialist-{rui_id}")).to_be_checked()
    expect(page.locator("#template-preview")).to_contain_text("Rui Costa")
    expect(page.locator("[data-action=pick-suggestion]")).to_have_count(0)
    assert db.session.query(Handoff).count() == 0, "a suggestion sends nothing"
