"""Pointing 1MSG's webhooks at this app."""
import os
import time

import requests
from flask import current_app, url_for

from onemsg.errors import OneMsgError
from services.onemsg_gateway import client


def webhook_url(base_url: str) -> str:
    """Our receiver's full URL (it carries the secret: never print it whole)."""
    with current_app.test_request_context(base_url=base_url):
        return url_for("webhooks.onemsg", secret=current_app.config["ONEMSG_WEBHOOK_SECRET"], _external=True)


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}"


def _wait_until_up(url: str, seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not answer {url}/healthz within {seconds} s")
        time.sleep(0.5)


def connect(wait_seconds: int = 0) -> list[str]:
    """Register the webhook and switch on status notifications; returns what was done."""
    if not current_app.config["ONEMSG_WEBHOOK_SECRET"]:
        raise RuntimeError("ONEMSG_WEBHOOK_SECRET is not set: 1MSG would have nowhere safe to post.")
    base = base_url()
    if wait_seconds:
        _wait_until_up(base, wait_seconds)
    from services.emulated import is_emulated

    if not is_emulated() and not current_app.config["PUBLIC_BASE_URL"]:
        return ["PUBLIC_BASE_URL is not set, so no webhook was registered: the real 1MSG cannot reach "
                f"{base}. Set PUBLIC_BASE_URL to the app's public address and run `flask onemsg connect`."]
    try:
        urls = client().set_webhooks([webhook_url(base)])
        client().update_settings(ackNotificationsOn=True)
    except (OneMsgError, ValueError) as exc:
        raise RuntimeError(f"could not register the webhook with 1MSG: {exc}") from exc
    return [f"1MSG will post to {base}/webhooks/1msg/… ({len(urls)} webhook URL(s) registered)."]
