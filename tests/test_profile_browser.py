"""Times in the reader's zone, in Chromium at both sizes: the browser's by default, the profile's once set."""

import pytest

from tests.browser_support import browser, browser_page, log_in, require_chromium, viewport  # noqa: F401

require_chromium()
pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


def test_times_follow_the_browser_then_the_profile(browser_page):
    page = browser_page  # the browser runs in Europe/Berlin
    log_in(page, "lead")
    page.goto("/history/audit")
    expect(page.locator("footer")).to_contain_text("times shown in Europe/Berlin")
    page.locator("footer").get_by_role("link", name="change").click()
    expect(page.get_by_label("Time zone")).to_have_value("")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Times are now shown in Asia/Tokyo")
    page.goto("/history/audit")
    expect(page.locator("footer")).to_contain_text("times shown in Asia/Tokyo")
    first = page.locator("table time").first
    instant = first.get_attribute("datetime")  # the login just audited: its UTC instant
    shown = first.inner_text()
    hours_utc, hours_tokyo = int(instant[11:13]), int(shown[11:13])
    assert (hours_tokyo - hours_utc) % 24 == 9, (instant, shown)
