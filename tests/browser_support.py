"""Real Chromium (Debian's package) driven by Playwright, with axe-core from npm.

Fixtures for browser tests outside the send flow: `browser`, `browser_page` (parametrized
over the two viewports the app is checked at), `log_in(page, role)` and `axe_violations`.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The desktop the issue was tried at, and a phone (iPhone 12-15 class).
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
DEMO_LOGINS = {
    "agent": ("agent@example.com", "agent-demo-pass"),
    "lead": ("lead@example.com", "lead-demo-pass"),
    "admin": ("admin@example.com", "admin-demo-pass"),
}
# WCAG 2.0-2.2 A and AA, and axe's best practices (the skip link, one main landmark...).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# Rules the app keeps whatever axe rates them: the issue's own findings.
ALWAYS_ENFORCED = {
    "empty-table-header",
    "label-content-name-mismatch",
    "color-contrast",
    "label",
    "skip-link",
    "bypass",
    "region",
    "landmark-one-main",
}


def require_chromium() -> None:
    """Skip the calling module without Chromium, unless CI demands the browser."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError("REQUIRE_BROWSER is set but Debian's chromium is not installed (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


@pytest.fixture
def browser_page(browser, live_server, viewport):
    """A fresh page on the demo data at the test's viewport; JavaScript errors fail the test."""
    from services.demo import seed_demo

    seed_demo()
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport], timezone_id="Europe/Berlin")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def log_in(page, role: str) -> None:
    from playwright.sync_api import expect

    email, password = DEMO_LOGINS[role]
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("input[type=submit]")
    expect(page.locator('form[action="/logout"]')).to_be_attached()


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """Run axe-core on the page as it is; one line per serious or critical violation.

    Violations of ALWAYS_ENFORCED rules count whatever their impact."""
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run ./scripts/setup (npm ci installs axe-core)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (no inline scripts) stays on.
        page.evaluate(AXE_JS.read_text() + "\n;void 0")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    if not result["passes"]:
        raise RuntimeError(f"axe checked nothing on {page.url}")
    lines = []
    for violation in result["violations"]:
        if violation["impact"] in impacts or violation["id"] in ALWAYS_ENFORCED:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return lines


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
