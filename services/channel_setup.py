"""Pointing 1MSG's webhooks at this app."""

import os
import time

import requests
from flask import current_app, url_for

from onemsg.client import OneMsgClient
from onemsg.errors import OneMsgError
from services.app_state import Cached, app_state
from services.emulated import is_emulated
from services.onemsg_gateway import client, connection_settings


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


def _wait_for_onemsg(seconds: float) -> None:
    """Until 1MSG (or the emulator, which may still be starting) answers at all."""
    # A client of its own, outside the breaker: refusals while 1MSG starts are expected here.
    probe = OneMsgClient(*connection_settings(), connect_timeout=2, read_timeout=5, max_retries=0)
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                probe.channel_status()
                return
            except OneMsgError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"1MSG did not answer within {seconds:g} s ({exc.code}), so the webhook is NOT registered"
                    ) from exc
            time.sleep(0.5)
    finally:
        probe.close()


def _register(ours: str, base: str, attempts: int = 4) -> tuple[list[str], list[str], list[str]]:
    """Register (a few tries, backing off), then read the list back: registered means listed."""
    for attempt in range(1, attempts + 1):
        try:
            stale = [u for u in client().get_webhooks() if _rotated_away(u, base)]
            before, after = client().register_webhooks([ours], drop=stale)
            client().update_settings(ackNotificationsOn=True)
            if ours in client().get_webhooks():
                return before, after, stale
            problem = "1MSG did not list it afterwards"
        except (OneMsgError, ValueError) as exc:
            problem = str(exc)
        if attempt < attempts:
            time.sleep(0.5 * 2 ** (attempt - 1))
    raise RuntimeError(f"the webhook is NOT registered with 1MSG after {attempts} tries: {problem}")


def webhook_registered(max_age: float = 30.0) -> bool | None:
    """Whether 1MSG lists our receiver (current or previous secret); None when 1MSG cannot say."""
    state = app_state()
    if state.webhook_registered and state.webhook_registered.fresh(max_age):
        return state.webhook_registered.value
    secrets = {current_app.config["ONEMSG_WEBHOOK_SECRET"], current_app.config["ONEMSG_WEBHOOK_SECRET_PREVIOUS"]} - {""}
    try:
        registered = any(
            url.rstrip("/").rsplit("/webhooks/1msg/", 1)[-1] in secrets
            for url in client().get_webhooks()
            if "/webhooks/1msg/" in url
        )
    except OneMsgError:
        registered = None
    state.webhook_registered = Cached(registered)
    return registered


def connect(wait_seconds: int = 0) -> list[str]:
    """Register the webhook and switch on status notifications; returns what was done.

    With a wait, the app and 1MSG are each given that long to answer first (on a first run the
    emulator starts beside the app), then registration is tried a few times; a webhook that
    is not registered in the end is an error that says so."""
    if not current_app.config["ONEMSG_WEBHOOK_SECRET"]:
        raise RuntimeError("ONEMSG_WEBHOOK_SECRET is not set: 1MSG would have nowhere safe to post.")
    base = base_url()
    if wait_seconds:
        _wait_until_up(base, wait_seconds)
        _wait_for_onemsg(wait_seconds)
    if not is_emulated() and not current_app.config["PUBLIC_BASE_URL"]:
        return [
            "PUBLIC_BASE_URL is not set, so no webhook was registered: the real 1MSG cannot reach "
            f"{base}. Set PUBLIC_BASE_URL to the app's public address and run `flask onemsg connect`."
        ]
    before, after, stale = _register(webhook_url(base), base)
    app_state().webhook_registered = None
    lines = ["Webhook URLs before:"] + _listed(before)
    lines += ["Webhook URLs after:"] + _listed(after)
    if stale:
        lines.append(f"Removed {len(stale)} URL(s) of a webhook secret no longer in use.")
    return lines + [
        f"1MSG will post to {base}/webhooks/1msg/… ({len(after)} webhook URL(s) registered, status notifications on)."
    ]


def _our_prefix(base: str) -> str:
    """Where our receiver's URLs start: what follows is a secret."""
    return webhook_url(base).rsplit("/", 1)[0] + "/"


def _rotated_away(url: str, base: str) -> bool:
    """Our receiver's URL with a secret we no longer accept: it only takes one of the 5 slots."""
    if not url.startswith(_our_prefix(base)):
        return False
    secret = url[len(_our_prefix(base)) :].strip("/")
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
