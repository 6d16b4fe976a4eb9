"""Pytest fixtures around the 1MSG emulator, served over real HTTP on 127.0.0.1.

Import them where needed: ``from tests.emulator_fixtures import *``.

- ``emulator``: a running emulator (one per session, state reset before each test) with
  helpers ``url(method)``, ``reset()``, ``requests()``, ``inbound(phone, body, time=None)``,
  ``deliveries()``, ``pending()``, ``open_window(phone)`` and ``post(method, json, auth=...)``.
- ``onemsg_client``: a OneMsgClient pointed at it (read timeout 0.5 s).
- ``webhook_receiver``: a tiny real HTTP server recording POSTed JSON bodies, with
  ``wait_for(predicate, timeout)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask, request

from onemsg.client import OneMsgClient
from onemsg.emulator import create_emulator, serve_in_thread
from tests.onemsg_contract import check_log
from tests.onemsg_contract import summary as contract_summary

__all__ = [
    "EmulatorHandle",
    "WebhookReceiver",
    "emulator",
    "emulator_server",
    "onemsg_client",
    "webhook_receiver",
    "ACK_DELAY",
    "SLOW_SECONDS",
    "CHANNEL_ID",
    "TOKEN",
]

CHANNEL_ID = "371267300"
TOKEN = "test-token-5f0c2a9e"
ACK_DELAY = 0.05
SLOW_SECONDS = 3.0  # past the tests' 2 s read timeout (conftest), which a loaded machine can need
WEBHOOK_RETRY_DELAYS = (0.05, 0.1, 0.2)


@dataclass
class EmulatorHandle:
    """A running emulator and the calls tests need to drive and inspect it."""

    base_url: str
    channel_id: str
    token: str

    def url(self, method: str) -> str:
        """Return the full URL of a 1MSG method on this channel."""
        return f"{self.base_url}/{self.channel_id}/{method}"

    def _control(self, http_method: str, action: str, json: Any = None) -> Any:
        """Call an `_emulator/<action>` endpoint and return its JSON."""
        response = requests.request(
            http_method,
            self.url(f"_emulator/{action}"),
            json=json,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget messages, webhooks, settings, logs and pending acks."""
        self._control("POST", "reset")

    def requests(self) -> list[dict]:
        """Return the API requests the emulator received (method, path, query, json, auth)."""
        return self._control("GET", "requests")

    def pending(self) -> int:
        """Return how many webhook jobs (echoes, scheduled acks, retries) are still running."""
        return self._control("GET", "pending")["background_jobs"]

    def deliveries(self) -> list[dict]:
        """Return the webhook POSTs the emulator made (url, body, status, error, attempt)."""
        return self._control("GET", "deliveries")

    def inbound(
        self, phone: str, body: str, time: int | None = None, *, hidden: bool = False, group: str | None = None
    ) -> dict:
        """Simulate the customer writing (opens the window unless `time` is old).

        `hidden`: from `<bsuid>@lid` (number hidden behind a username); `group`: in that group.
        """
        payload: dict = {"phone": phone, "body": body, "hidden": hidden}
        if time is not None:
            payload["time"] = time
        if group:
            payload["group"] = group
        return self._control("POST", "inbound", payload)

    def call(self, phone: str) -> dict:
        """Make 1MSG post a calls passthrough body (no event array) for a customer's call."""
        return self._control("POST", "call", {"phone": phone})

    def hook_info(self, enabled: bool) -> None:
        """Switch GET hookInfo on or off (newer channels answer it with 404)."""
        self._control("POST", "hookinfo", {"enabled": enabled})

    def latest_status(self, message_id: str) -> str | None:
        """What GET hookInfo says of one message now (None before its first ack)."""
        response = requests.get(
            self.url("hookInfo"),
            params={"messageId": message_id},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=5,
        )
        response.raise_for_status()
        hooks = response.json().get("hooks") or []
        return hooks[0]["status"] if hooks else None

    def open_window(self, phone: str) -> dict:
        """Open the customer's 24-hour window with a fresh inbound message."""
        return self.inbound(phone, "Hello, I need help")

    def webhook_form(self, form: str) -> None:
        """Make GET webhook answer as an "array", a "string" or a "legacy" comma-separated string."""
        self._control("POST", "webhook-form", {"form": form})

    def connect(self, *urls: str) -> None:
        """Register webhook URLs and switch status acks on, as `flask onemsg connect` does."""
        self.post("webhook", {"webhookUrl": list(urls)}).raise_for_status()
        self.post("settings", {"ackNotificationsOn": True}).raise_for_status()

    def post(
        self, method: str, json: Any = None, *, auth: str = "header", token: str | None = None
    ) -> requests.Response:
        """POST to a 1MSG method with the token in the header, the query, the body or nowhere."""
        token = self.token if token is None else token
        headers, params, body = {}, {}, dict(json or {})
        if auth == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif auth == "query":
            params["token"] = token
        elif auth == "body":
            body["token"] = token
        return requests.post(self.url(method), json=body, params=params, headers=headers, timeout=5)


class WebhookReceiver:
    """A real HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        # Raw bodies and headers too, for receivers that check signatures (helpdesk events).
        self.received: list[dict] = []
        self.fail_next = 0  # answer the next N POSTs with 500, to exercise retries
        self._condition = threading.Condition()
        self.server, base_url = serve_in_thread(self._build_app())
        self.url = f"{base_url}/hooks/1msg/secret"

    def _build_app(self) -> Flask:
        """Build the recording app."""
        app = Flask("webhook_receiver")

        @app.post("/hooks/<path:_rest>")
        def receive(_rest: str):
            """Record one webhook body (or fail on purpose while fail_next > 0)."""
            with self._condition:
                if self.fail_next > 0:
                    self.fail_next -= 1
                    return {"ok": False}, 500
                self.bodies.append(request.get_json(force=True))
                self.received.append({"headers": dict(request.headers), "raw": request.get_data()})
                self._condition.notify_all()
            return {"ok": True}

        return app

    def wait_for(self, predicate: Callable[[list[dict]], Any], timeout: float = 3.0) -> Any:
        """Wait until predicate(bodies) is truthy and return its value; fail on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                result = predicate(list(self.bodies))
                remaining = deadline - time.monotonic()
                if result or remaining <= 0:
                    break
                self._condition.wait(remaining)
        assert result, f"webhook bodies never matched within {timeout}s: {self.bodies}"
        return result

    def acks(self) -> list[dict]:
        """Return every ack[] item received so far, in arrival order."""
        return [ack for body in list(self.bodies) for ack in body.get("ack", [])]

    def messages(self) -> list[dict]:
        """Return every messages[] item received so far, in arrival order."""
        return [m for body in list(self.bodies) for m in body.get("messages", [])]

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def emulator_server():
    """Start one emulator for the session on a free port (fast acks, short slow fault)."""
    app = create_emulator(
        CHANNEL_ID, TOKEN, ack_delay=ACK_DELAY, slow_seconds=SLOW_SECONDS, webhook_retry_delays=WEBHOOK_RETRY_DELAYS
    )
    server, base_url = serve_in_thread(app)
    yield EmulatorHandle(base_url, CHANNEL_ID, TOKEN)
    server.shutdown()
    server.server_close()


@pytest.fixture
def emulator(emulator_server):
    """The session's emulator, with its state reset before the test.

    At the end, every request our client sent it is checked against the 1MSG contract's
    JSON Schemas (tests/onemsg_contract.py): a drift in what the client sends fails the test.
    """
    emulator_server.reset()
    yield emulator_server
    drift = check_log(emulator_server.requests())
    emulator_server.reset()
    if drift:
        pytest.fail("requests that break the 1MSG contract:\n" + "\n".join(drift[:20]))


def pytest_terminal_summary(terminalreporter):
    """Say how many client requests the contract check saw (and which kinds it never saw)."""
    for line in contract_summary():
        terminalreporter.write_line(line)


@pytest.fixture
def onemsg_client(emulator):
    """A client for the emulator; short read timeout so the slow fault stays quick."""
    client = OneMsgClient(
        emulator.base_url,
        emulator.channel_id,
        emulator.token,
        connect_timeout=1.0,
        read_timeout=0.5,
        max_retries=2,
        max_retry_wait=5.0,
    )
    yield client
    client.close()


@pytest.fixture
def webhook_receiver():
    """A running webhook receiver; register `webhook_receiver.url` with the emulator."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
