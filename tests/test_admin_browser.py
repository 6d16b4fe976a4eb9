"""Admins' and leads' safety in Chromium at 1366x900 and 390x844: keys shown once, confirmations,
duplicate warnings, clean URLs, the users list, the ticket form with errors, the CSV export."""

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from models import ApiKey, Specialist, User, db
from tests.browser_support import browser, browser_page, horizontal_overflow, log_in, require_chromium, viewport  # noqa: F401

require_chromium()
pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

KEY = re.compile(r"shk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def key_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(ApiKey))
    db.session.commit()  # end the read: on SQLite it holds the lock the server needs
    return count


def test_a_new_key_is_shown_once_copied_and_a_reload_makes_no_second(browser_page, live_server):
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, "admin")
    page.goto("/admin/api-keys/")
    page.get_by_label("Name").fill("Zendesk")
    page.get_by_role("button", name="Create key").click()
    expect(page).to_have_url(re.compile(r"/admin/api-keys/$"))
    secret = page.locator("#new-api-key").inner_text()
    assert KEY.fullmatch(secret)
    page.get_by_role("button", name="Copy the key").click()
    expect(page.locator(".copy-result")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    # A reload sends the form again: its one-time token is spent, so no second key and no key shown.
    page.reload()
    expect(page.locator(".flash-info")).to_contain_text("already used")
    expect(page.locator("#new-api-key")).to_have_count(0)
    assert key_count() == 1
    # The same name again: a warning, and nothing is made until the admin says so.
    page.get_by_label("Name").fill("zendesk")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#duplicate-warning")).to_contain_text("An active key is already named Zendesk")
    assert key_count() == 1
    page.get_by_label("Create it anyway").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-api-key")).to_be_visible()
    assert key_count() == 2


def test_revoke_asks_first_with_keeping_the_key_as_the_primary_choice(browser_page):
    page = browser_page
    log_in(page, "admin")
    page.goto("/admin/api-keys/")
    page.get_by_label("Name").fill("Old helpdesk")
    page.get_by_role("button", name="Create key").click()
    page.get_by_role("link", name=re.compile(r"^Revoke Old helpdesk")).click()
    expect(page.get_by_role("heading", name="Revoke the key Old helpdesk?")).to_be_visible()
    keep = page.get_by_role("button", name="Keep the key")
    expect(keep).to_be_focused()
    expect(keep).not_to_have_class(re.compile("secondary"))
    expect(page.get_by_role("button", name="Revoke the key")).to_have_class(re.compile("secondary"))
    keep.click()
    expect(page.locator("td .badge-open")).to_have_text("Active")
    page.get_by_role("link", name=re.compile(r"^Revoke Old helpdesk")).click()
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.locator(".flash-success")).to_contain_text("Revoked the key Old helpdesk")


def test_deactivate_asks_first(browser_page):
    page = browser_page
    log_in(page, "admin")
    page.goto("/admin/users/")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_role("row", name=re.compile("agent@example.com")).get_by_role("link", name="Edit").click()
    page.get_by_label("Active (can log in)").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Deactivate Alex Agent?")).to_be_visible()
    expect(page.get_by_role("button", name="Keep the account active")).to_be_focused()
    page.get_by_role("button", name="Deactivate Alex Agent").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved agent@example.com")
    expect(page.get_by_role("row", name=re.compile("agent@example.com"))).to_contain_text("Deactivated")
    agent = db.session.scalar(select(User).where(User.email == "agent@example.com"))
    assert agent.active is False
    db.session.commit()


def test_an_exact_duplicate_specialist_is_flagged(browser_page):
    page = browser_page
    log_in(page, "admin")
    page.goto("/directory/new")
    page.get_by_label("Display name").fill("Omar Haddad")
    page.get_by_label("First name").fill("Omar")
    page.get_by_label("Last name").fill("Haddad")
    page.get_by_label(re.compile("WhatsApp phone")).fill("+44 7700 900123")
    page.get_by_role("button", name=re.compile("Save|Add")).click()
    expect(page.locator("#duplicate-warning")).to_contain_text("Possible duplicate.")
    assert horizontal_overflow(page) == 0
    page.get_by_label("Save anyway: this is a separate entry").check()
    page.get_by_role("button", name=re.compile("Save|Add")).click()
    expect(page.locator(".flash-success")).to_contain_text("Added Omar Haddad")
    assert db.session.scalar(select(func.count()).where(Specialist.display_name == "Omar Haddad")) == 2
    db.session.commit()


def test_history_urls_carry_no_none_and_the_csv_is_spreadsheet_ready(browser_page):
    page = browser_page
    log_in(page, "lead")
    page.goto("/history/")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/history/\?"))
    assert "None" not in page.url
    for href in page.locator("a[href*='/history/']").evaluate_all("links => links.map(a => a.href)"):
        assert "None" not in href, href
    with page.expect_download() as download:
        page.get_by_role("link", name="Export this selection as CSV").click()
    assert re.fullmatch(r"handoffs-\d{8}-\d{4}-UTC\.csv", download.value.suggested_filename)
    raw = open(download.value.path(), "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header.index("agent_name") == header.index("agent_id") + 1
    assert header.index("specialist_name") > header.index("specialist_id")


def test_ticket_form_errors_sit_under_their_fields(browser_page):
    page = browser_page
    log_in(page, "agent")
    page.goto("/tickets/new")
    page.get_by_label("Customer WhatsApp phone (with country code)").fill("call me")
    page.get_by_role("button", name="Save ticket").click()
    for field_id in ("external_ref", "subject", "customer_name", "customer_phone"):
        control, error = page.locator(f"#{field_id}"), page.locator(f"#{field_id}-error")
        expect(error).to_be_visible()
        expect(control).to_have_attribute("aria-invalid", "true")
        c, e = control.bounding_box(), error.bounding_box()
        # The message starts where its field starts and sits below it (after the hint, if any).
        assert abs(c["x"] - e["x"]) < 2 and 0 <= e["y"] - (c["y"] + c["height"]) < 80, field_id
    assert horizontal_overflow(page) == 0
