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
    ours = webhook_url(base)
    try:
        before = client().get_webhooks()
        stale = [u for u in before if _rotated_away(u, base)]
        before, after = client().register_webhooks([ours], drop=stale)
        client().update_settings(ackNotificationsOn=True)
    except (OneMsgError, ValueError) as exc:
        raise RuntimeError(f"could not register the webhook with 1MSG: {exc}") from exc
    lines = ["Webhook URLs before:"] + _listed(before)
    lines += ["Webhook URLs after:"] + _listed(after)
    if stale:
        lines.append(f"Removed {len(stale)} URL(s) of a webhook secret no longer in use.")
    return lines + [f"1MSG will post to {base}/webhooks/1msg/… ({len(after)} webhook URL(s) "
                    "registered, status notifications on)."]


def _our_prefix(base: str) -> str:
    """Where our receiver's URLs start: what follows is a secret."""
    return webhook_url(base).rsplit("/", 1)[0] + "/"


def _rotated_away(url: str, base: str) -> bool:
    """Our receiver's URL with a secret we no longer accept: it only takes one of the 5 slots."""
    if not url.startswith(_our_prefix(base)):
        return False
    secret = url[len(_our_prefix(base)):].strip("/")
    config = current_app.config
    return secret not in {config["ONEMSG_WEBHOOK_SECRET"], config["ONEMSG_WEBHOOK_SECRET_PREVIOUS"]} - {""}


def _listed(urls: list[str]) -> list[str]:
    """One line per URL, secrets hidden: ours after /webhooks/1msg/, anyone's query string."""
    if not urls:
        return ["  (none)"]
    shown = []
    for url in urls:
        head, marker, _secret = url.partition("/webhooks/1msg/")
        shown.append("  " + (head + marker + "…" if marker else url.split("?", 1)[0]))
    return shown
