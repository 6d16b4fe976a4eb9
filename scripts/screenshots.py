"""Take the docs' screenshots from a running app (scripts/screenshots starts one): python screenshots.py URL DIR."""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, log_in  # noqa: E402

# (file name, role, path): the pages the README and the issue talk about. "ticket:REF" is that
# ticket's page, with the customer's message in (the emulated channel) and a specialist picked.
SHOTS = [
    ("queue", "agent", "/tickets/"),
    ("queue-ready", "agent", "/tickets/?ready=y"),
    ("ticket", "agent", "ticket:HD-1001"),
    ("ticket-closed", "agent", "ticket:HD-1002"),
    ("history", "lead", "/history/?date_from="),
]


def open_ticket(page, ref: str, *, customer_writes: bool) -> None:
    """The ticket's page as an agent works it: (optionally) the customer writes, a specialist is picked."""
    from playwright.sync_api import expect

    page.goto(f"/tickets/?q={ref}")
    page.get_by_role("link", name=ref, exact=True).first.click()
    if customer_writes:
        page.get_by_text("make the customer write to us").click()
        page.get_by_role("button", name="Simulate a message from the customer").click()
        expect(page.get_by_role("button", name="Send card")).to_be_visible(timeout=20000)
    page.get_by_label("Find a specialist").fill("Haddad")
    expect(page.locator("#specialist-count")).to_contain_text("match")
    page.get_by_role("radio", name="Omar Haddad").first.check()
    expect(page.locator("#card-preview")).to_contain_text("Omar Haddad")


def take(base_url: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for viewport in VIEWPORTS.values():
            for name, role, path in SHOTS:
                context = browser.new_context(base_url=base_url, viewport=viewport, timezone_id="Europe/Berlin")
                page = context.new_page()
                log_in(page, role)
                if path.startswith("ticket:"):
                    open_ticket(page, path.split(":", 1)[1], customer_writes=name == "ticket")
                else:
                    page.goto(path)
                page.wait_for_load_state("networkidle")
                page.evaluate("window.scrollTo(0, 0)")  # the top of the page, whatever was clicked
                target = out / f"{name}-{viewport['width']}x{viewport['height']}.png"
                page.screenshot(path=str(target))  # what the screen shows, not the whole list
                written.append(target)
                context.close()
        browser.close()
    return written


if __name__ == "__main__":
    for path in take(sys.argv[1], Path(sys.argv[2])):
        print(path)
