"""Take the docs' screenshots from a running app (scripts/screenshots starts one): python screenshots.py URL DIR."""
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, log_in  # noqa: E402

# (file name, role, path): the pages the README and the issue talk about.
SHOTS = [("queue", "agent", "/tickets/"), ("queue-ready", "agent", "/tickets/?ready=y"),
         ("history", "lead", "/history/?date_from=")]


def take(base_url: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, viewport in VIEWPORTS.items():
            for name, role, path in SHOTS:
                context = browser.new_context(base_url=base_url, viewport=viewport, timezone_id="Europe/Berlin")
                page = context.new_page()
                log_in(page, role)
                page.goto(path)
                page.wait_for_load_state("networkidle")
                target = out / f"{name}-{viewport['width']}x{viewport['height']}.png"
                page.screenshot(path=str(target))  # what the screen shows, not the whole list
                written.append(target)
                context.close()
        browser.close()
    return written


if __name__ == "__main__":
    for path in take(sys.argv[1], Path(sys.argv[2])):
        print(path)
