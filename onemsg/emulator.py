"""An emulator of the 1MSG API over real HTTP, for tests and the demo (shared/onemsg-contract.md).

Scripted faults are chosen by the LAST FOUR DIGITS of the recipient number (see FAULTS).
Order of checks on a send: channel (404) → token (401) → body validation (400; for
sendTemplate, "Template is not defined" unless name, language code and namespace match an
approved template) → transport faults 0002/0003/0012/0013 (nothing is recorded) → 24-hour
window (sendContact and sendMessage only; sendTemplate ignores it) → recipient faults
0007/0009 → the message is recorded and its acks scheduled (0001/0005/0006/0010/0011 shape
them; acks are posted only once the channel's ackNotificationsOn is set) → 0004 delays the
answer and 0008 garbles it. So to reach a recipient fault, open the window first via
`_emulator/inbound`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server, run_simple

FAULTS = {
    "0001": 'Accepted; after the sent ack comes a failed ack with error "User\'s number is part of an experiment".',
    "0002": "Always 429 with Retry-After: 1 (nothing is sent).",
    "0003": 'Always 500 {"error": "Internal error"} (nothing is sent).',
    "0004": "The message IS recorded and acks flow, but the HTTP answer comes only after "
    "slow_seconds (longer than the client's read timeout).",
    "0005": "Accepted; every ack is delivered twice.",
    "0006": "Accepted; acks arrive out of order: read, then sent, then delivered.",
    "0007": '400 {"error": "Phone number is not a valid WhatsApp number"}.',
    "0008": "200 with a malformed (non-JSON) body; if the window was open the message WAS sent.",
    "0009": '200 {"sent": false, "jobId": "job-..."}: queued, no message id.',
    "0010": "Accepted; sent ack, then a raw Meta statuses[] webhook: failed, code 131026 "
    '"Message undeliverable" (Meta reports it later, never in the HTTP answer).',
    "0011": 'Accepted; sent ack, then a raw Meta statuses[] webhook: failed, code 131047 "Re-engagement message".',
    "0012": "Always 503 with Retry-After: 1 (nothing is sent).",
    "0013": "The first send to the number gets 429 with no Retry-After (nothing is sent); "
    "the next one is handled normally.",
    "0014": 'Accepted with `"sent": "true"` as a string.',
    "0015": 'With the window closed: 200 {"sent": "false", "message": "Re-engagement '
    'message"} (no code, `sent` as a string).',
}

WINDOW_SECONDS = 24 * 3600
MAX_WEBHOOKS = 5
PHONE_TYPES = frozenset({"CELL", "MAIN", "IPHONE", "HOME", "WORK"})
NAME_FIELDS = ("first_name", "last_name", "middle_name", "suffix", "prefix")
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}
TEMPLATE_REPLY = "Yes, please send it"
# A new channel posts no status acks until ackNotificationsOn is switched on.
DEFAULT_SETTINGS = {"ackNotificationsOn": False, "rawHooks": False, "chatHistoryOn": True}
_DIGITS = re.compile(r"^\d{6,15}$")
_E164 = re.compile(r"^\+\d{6,15}$")
_CHAT_ID = re.compile(r"^(\d{6,15})@(c\.us|lid)$")
_URL = re.compile(r"^https?://[^\s,]+$")
_BAD_TEMPLATE_PARAM = re.compile(r"[\n\t]| {5,}")

NAMESPACE = "c1a2b3d4_5e6f_4a7b_8c9d_0e1f2a3b4c5d"
# As 1MSG lists them (GET templates): no fields of our own. One name exists in two
# languages; `reopen_chat` and the German template list their components as a JSON string.
TEMPLATES = [
    {
        "name": "specialist_intro",
        "namespace": NAMESPACE,
        "language": "en_US",
        "category": "UTILITY",
        "status": "approved",
        "rejected_reason": "NONE",
        "components": [{"type": "BODY", "text": "Hello {{1}}, our specialist {{2}} can help you: call {{3}}."}],
    },
    {
        "name": "specialist_intro",
        "namespace": NAMESPACE,
        "language": "de",
        "category": "UTILITY",
        "status": "approved",
        "rejected_reason": "NONE",
        "components": json.dumps([{"type": "BODY", "text": "Hallo {{1}}, unser Spezialist {{2}} hilft Ihnen: {{3}}."}]),
    },
    {
        "name": "reopen_chat",
        "namespace": NAMESPACE,
        "language": "en_US",
        "category": "UTILITY",
        "status": "approved",
        "rejected_reason": "NONE",
        "components": json.dumps(
            [
                {
                    "type": "BODY",
                    "text": "We have an update on your request. Reply to this message to continue the conversation.",
                }
            ]
        ),
    },
    {
        "name": "handoff_followup",
        "namespace": NAMESPACE,
        "language": "en_US",
        "category": "UTILITY",
        "status": "approved",
        "rejected_reason": "NONE",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Ticket {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, did you manage to reach {{2}}? Reply to let us know."},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Open the ticket", "url": "https://help.example.com/t/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Yes"},
                ],
            },
        ],
    },
    {
        "name": "spring_promo",
        "namespace": NAMESPACE,
        "language": "en_US",
        "category": "MARKETING",
        "status": "rejected",
        "rejected_reason": "PROMOTIONAL",
        "components": [{"type": "BODY", "text": "Spring sale!"}],
    },
]
TEMPLATE_PAGE_SIZE = 100  # what 1MSG returns when no `limit` is given


def _error(status: int, message: Any, **headers: str) -> Response:
    """Return a JSON error answer in 1MSG's `{"error": ...}` shape."""
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def bsuid_for(phone: str) -> str:
    """The business-scoped user id (15 digits) this emulator gives a customer's number."""
    return str(10**14 + int(hashlib.sha256(phone.encode()).hexdigest(), 16) % (9 * 10**14))


def _new_id(prefix: str) -> str:
    """Return a fresh id that looks like 1MSG's."""
    return prefix + secrets.token_hex(12).upper()


def _digits_of(value: Any) -> str | None:
    """Return the digits of "+14155552671", "14155552671" or "...@c.us", or None."""
    text = str(value or "").strip().removesuffix("@c.us").removesuffix("@lid").removeprefix("+")
    return text if _DIGITS.match(text) else None


# ----- request validation (like the real service: strict, with readable errors) -----


def recipient_problem(body: dict) -> str | None:
    """Check the recipient: exactly one of phone (digits) or chatId (<digits>@c.us)."""
    has_phone = body.get("phone") not in (None, "")
    has_chat = body.get("chatId") not in (None, "")
    if has_phone == has_chat:
        return "Give exactly one of phone or chatId"
    if has_phone and not _DIGITS.match(str(body["phone"])):
        return "Invalid phone: digits only with country code (no +), 6 to 15 digits"
    if has_chat and not _CHAT_ID.match(str(body["chatId"])):
        return "Invalid chatId: expected <digits>@c.us or <bsuid>@lid"
    return None


def _contact_item_problem(index: int, item: Any) -> str | None:
    """Check one `contacts[]` item against WhatsApp's contacts message rules."""
    name = item.get("name") if isinstance(item, dict) else None
    if not isinstance(name, dict) or not str(name.get("formatted_name") or "").strip():
        return f"contacts[{index}].name.formatted_name is required"
    if not any(str(name.get(f) or "").strip() for f in NAME_FIELDS):
        return f"contacts[{index}].name needs a field besides formatted_name"
    for phone in item.get("phones") or []:
        if not isinstance(phone, dict) or not isinstance(phone.get("phone"), str):
            return f"contacts[{index}].phones[].phone must be a string"
        if not _E164.match(phone["phone"]):
            return f"contacts[{index}].phones[].phone must be E.164, e.g. +12025550199"
        if phone.get("type", "CELL") not in PHONE_TYPES:
            return f"contacts[{index}].phones[].type must be one of {sorted(PHONE_TYPES)}"
        if "wa_id" in phone and not _DIGITS.match(str(phone["wa_id"])):
            return f"contacts[{index}].phones[].wa_id must be the number's digits"
    return None


def contacts_problem(body: dict) -> str | None:
    """Check the card(s): strict `contacts[]`, or the legacy `contact`, never both."""
    if "contacts" in body and "contact" in body:
        return "Send either contacts or contact, not both"
    if "contact" in body:
        legacy = body["contact"]
        if not isinstance(legacy, dict) or not legacy.get("name") or not legacy.get("phone"):
            return "contact needs name and phone"
        return None
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        return "contacts must be a non-empty list"
    for index, item in enumerate(contacts):
        problem = _contact_item_problem(index, item)
        if problem:
            return problem
    return None


def _components(template: dict) -> list[dict]:
    """A listed template's components, stored as a list or (as 1MSG may) a JSON string."""
    raw = template["components"]
    return json.loads(raw) if isinstance(raw, str) else raw


def _placeholder_count(text: Any) -> int:
    """How many distinct {{n}} a text has."""
    return len(set(re.findall(r"\{\{\s*(\d+)\s*\}\}", str(text or ""))))


def expected_params(template: dict) -> dict[tuple, int]:
    """Parameters the template needs: {("header", None): n, ("body", None): n, ("button", i): n}."""
    needed: dict[tuple, int] = {}
    for component in _components(template):
        kind = component["type"].lower()
        if kind in ("header", "body") and _placeholder_count(component.get("text")):
            needed[(kind, None)] = _placeholder_count(component.get("text"))
        for index, button in enumerate(component.get("buttons") or []):
            if button.get("type") == "URL" and _placeholder_count(button.get("url")):
                needed[("button", index)] = _placeholder_count(button["url"])
    return needed


def sent_params(body: dict) -> dict[tuple, list[str]] | None:
    """The texts sent per component, or None when `params` is not a list of components."""
    params = body.get("params", [])
    if not isinstance(params, list):
        return None
    sent: dict[tuple, list[str]] = {}
    for component in params:
        if not isinstance(component, dict) or not isinstance(component.get("parameters"), list):
            return None
        kind = str(component.get("type", "")).lower()
        key = (kind, component.get("index") if kind == "button" else None)
        sent[key] = [str(p.get("text", "")) if isinstance(p, dict) else "" for p in component["parameters"]]
    return sent


def find_template(body: dict, templates: list[dict]) -> dict | None:
    """The approved template matching name, language code AND namespace, as 1MSG requires."""
    language = body.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    return next(
        (
            t
            for t in templates
            if t["status"] == "approved"
            and t["name"] == body.get("template")
            and t["language"] == code
            and t["namespace"] == body.get("namespace")
        ),
        None,
    )


def template_problem(body: dict, templates: list[dict]) -> Response | None:
    """Check a template send: known (name, language, namespace), right parameters, clean texts."""
    template = find_template(body, templates)
    if template is None:
        return jsonify({"sent": False, "message": "Template is not defined"})
    sent = sent_params(body)
    if sent is None or {k: len(v) for k, v in sent.items()} != expected_params(template):
        return _error(
            400, {"message": "Number of parameters does not match the expected number of params", "code": 132000}
        )
    if any(_BAD_TEMPLATE_PARAM.search(text) for texts in sent.values() for text in texts):
        return _error(
            400,
            {
                "message": "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
                "code": 132018,
            },
        )
    return None


def _render_template(template: dict, sent: dict[tuple, list[str]]) -> str:
    """Fill the header and body placeholders, as the customer reads them."""
    parts = []
    for component in _components(template):
        kind = component["type"].lower()
        if kind in ("header", "body"):
            texts = sent.get((kind, None), [])
            parts.append(
                re.sub(
                    r"\{\{\s*(\d+)\s*\}\}",
                    lambda m, t=texts: t[int(m.group(1)) - 1] if int(m.group(1)) <= len(t) else m.group(0),
                    component.get("text", ""),
                )
            )
    return "\n".join(parts)


def _ack_plan(fault: str) -> list[tuple[str, str | None]]:
    """Return the (status, error) acks a message gets, shaped by its fault number."""
    if fault == "0001":
        return [("sent", None), ("failed", "User's number is part of an experiment")]
    if fault == "0005":
        return [(s, None) for s in ("sent", "sent", "delivered", "delivered", "read", "read")]
    if fault == "0006":
        return [("read", None), ("sent", None), ("delivered", None)]
    if fault == "0011":
        return [("sent", None), ("failed", "Re-engagement message")]
    if fault == "0010":
        return [("sent", None), ("failed", "Message undeliverable")]
    return [("sent", None), ("delivered", None), ("read", None)]


def _derived_status(events: list[str]) -> str | None:
    """A status never moves backwards; a failed event wins."""
    if "failed" in events:
        return "failed"
    return max(events, key=lambda s: STATUS_RANK.get(s, 0), default=None)


class Emulator:
    """In-memory 1MSG channel; every state change happens under one lock."""

    def __init__(
        self,
        channel_id: str,
        token: str,
        *,
        ack_delay: float,
        slow_seconds: float,
        webhook_retry_delays: tuple[float, ...],
        hook_info: bool = True,
    ):
        self.channel_id = str(channel_id)
        self.token = token
        self.ack_delay = ack_delay
        self.slow_seconds = slow_seconds
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.hook_info_default = hook_info
        self.lock = threading.RLock()
        self.generation = 0
        # Webhook jobs (echoes, acks, retries) still running; not cleared by reset, since the
        # threads of an older generation still finish. Tests wait for 0 instead of sleeping.
        self.background_jobs = 0
        self._clear()

    def _clear(self) -> None:
        """Forget everything (called under the lock, or before any thread exists)."""
        self.request_log: list[dict] = []
        self.deliveries: list[dict] = []
        self.messages: list[dict] = []
        self.statuses: dict[str, dict] = {}
        self.last_inbound: dict[str, int] = {}
        self.webhooks: list[str] = []
        self.settings = dict(DEFAULT_SETTINGS)
        self.tried: set[str] = set()
        self.webhook_form = "array"
        self.hook_info_enabled = self.hook_info_default
        self.lid_phones: dict[str, str] = {}  # BSUID -> phone, for users who hide their number

    def reset(self) -> None:
        """Clear state; pending ack threads see the new generation and stop."""
        with self.lock:
            self.generation += 1
            self._clear()

    # ----- authentication and the request log -----

    def token_placement(self, body: Any) -> tuple[str, str | None]:
        """Find the token in the header, the query or the JSON body (in that order)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return "header", header.removeprefix("Bearer ").strip()
        if "token" in request.args:
            return "query", request.args["token"]
        if isinstance(body, dict) and "token" in body:
            return "body", str(body["token"])
        return "none", None

    def log_request(self, placement: str, body: Any) -> None:
        """Remember what arrived, so tests can check what the client really sent."""
        entry = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.args),
            "json": body,
            "auth": placement,
            "time": time.time(),
            "user_agent": request.headers.get("User-Agent", ""),
        }
        with self.lock:
            self.request_log.append(entry)

    def refusal(self, channel: str, body: Any, *, log: bool) -> Response | None:
        """Return the 404/401 answer for a wrong channel or token, else None."""
        placement, token = self.token_placement(body)
        if log:
            self.log_request(placement, body)
        if channel != self.channel_id:
            return _error(404, f"Channel {channel} not found")
        if token is None or not secrets.compare_digest(token, self.token):
            # The real text quotes the token; ours does not, so it cannot leak from logs.
            return _error(401, f"Wrong token ... for channel {channel}")
        return None

    def first_try(self, phone: str) -> bool:
        """True the first time a number is seen by a fault that refuses once."""
        with self.lock:
            first = phone not in self.tried
            self.tried.add(phone)
        return first

    # ----- the 24-hour window and chat history -----

    def window_open(self, phone: str) -> bool:
        """The window is open for 24 h after the customer's last inbound message."""
        with self.lock:
            last = self.last_inbound.get(phone)
        return last is not None and time.time() - last < WINDOW_SECONDS

    def record_inbound(
        self,
        phone: str,
        text: str,
        when: int | None = None,
        sender_name: str | None = None,
        *,
        hidden: bool = False,
        group: str | None = None,
    ) -> dict:
        """Store a customer's message (it opens the window) and post it to the webhooks.

        `hidden`: the customer hides their number behind a username and writes from
        `<bsuid>@lid`. `group`: the message comes from the group `<group>@g.us` (no window).
        """
        bsuid = bsuid_for(phone)
        chat = f"{bsuid}@lid" if hidden else f"{group}@g.us" if group else f"{phone}@c.us"
        message = {
            "id": _new_id("wamid.HBgN"),
            "body": text,
            "type": "chat",
            "fromMe": False,
            "self": 0,
            "time": int(when if when is not None else time.time()),
            "chatId": chat,
            "author": f"{bsuid}@lid" if hidden else f"{phone}@c.us",
            "senderName": sender_name or ("~user" if hidden else f"+{phone}"),
            "chatName": "Project group" if group else sender_name or f"+{phone}",
        }
        if not hidden:
            message["authorBsuid"] = bsuid  # production items carry it beside the phone
        with self.lock:
            self.messages.append(message)
            self.lid_phones[bsuid] = phone
            if not group:
                self.last_inbound[phone] = max(message["time"], self.last_inbound.get(phone, 0))
            generation = self.generation
        self.in_background(self.deliver_all, {"instanceId": self.channel_id, "messages": [message]}, generation)
        return message

    def record_call(self, phone: str) -> dict:
        """Post a calls passthrough body: no event array, as 1MSG forwards calling events."""
        body = {
            "instanceId": self.channel_id,
            "type": "calls",
            "data": {"id": _new_id("call."), "from": f"{phone}@c.us", "status": "ringing", "time": int(time.time())},
        }
        with self.lock:
            generation = self.generation
        self.in_background(self.deliver_all, body, generation)
        return body

    def record_outgoing(self, phone: str, kind: str, text: str) -> dict:
        """Store our own message in the chat history (fromMe true: it opens nothing)."""
        message = {
            "id": _new_id("wamid.HBgL"),
            "body": text,
            "type": kind,
            "fromMe": True,
            "self": 1,
            "time": int(time.time()),
            "chatId": f"{phone}@c.us",
        }
        with self.lock:
            self.messages.append(message)
            self.statuses[message["id"]] = {"events": [], "timestamp": None, "phone": phone}
        return message

    def chat_history(self, chat_id: str, limit: int) -> list[dict]:
        """Return a chat's messages, newest first."""
        with self.lock:
            chat = [m for m in self.messages if m["chatId"] == chat_id]
        return list(reversed(chat))[:limit]

    # ----- webhooks -----

    def in_background(self, target: Callable, *args: Any) -> None:
        """Run webhook work off the request thread, as 1MSG does (counted in background_jobs)."""
        with self.lock:
            self.background_jobs += 1
        threading.Thread(target=self._counted, args=(target, *args), daemon=True, name="onemsg-emulator-hook").start()

    def _counted(self, target: Callable, *args: Any) -> None:
        try:
            target(*args)
        finally:
            with self.lock:
                self.background_jobs -= 1

    def is_current(self, generation: int) -> bool:
        """Tell whether the state a background job belongs to still exists (no reset since)."""
        with self.lock:
            return generation == self.generation

    def deliver_all(self, body: dict, generation: int) -> None:
        """POST one webhook body to every registered URL."""
        with self.lock:
            urls = list(self.webhooks)
        for url in urls:
            self.deliver(url, body, generation)

    def deliver(self, url: str, body: dict, generation: int) -> None:
        """POST to one URL, retrying a failure per webhook_retry_delays."""
        for attempt, delay in enumerate((0.0,) + self.webhook_retry_delays, start=1):
            time.sleep(delay)
            if not self.is_current(generation):
                return
            status, error = None, None
            try:
                status = requests.post(url, json=body, timeout=5).status_code
            except requests.RequestException as exc:
                error = type(exc).__name__
            with self.lock:
                if generation != self.generation:
                    return  # a reset happened mid-POST: keep the new log clean
                self.deliveries.append(
                    {
                        "url": url,
                        "body": body,
                        "status": status,
                        "error": error,
                        "attempt": attempt,
                        "time": time.time(),
                    }
                )
            if status is not None and 200 <= status < 300:
                return

    # ----- acks -----

    def run_acks(self, message: dict, fault: str, generation: int, is_template: bool) -> None:
        """Echo the message, then post its acks one by one, ack_delay apart."""
        phone = message["chatId"].removesuffix("@c.us")
        echo = {**message, "fromMe": 1}  # 1MSG echoes our own messages with fromMe as 1
        self.deliver_all({"instanceId": self.channel_id, "messages": [echo]}, generation)
        for status, error in _ack_plan(fault):
            time.sleep(self.ack_delay)
            if not self.is_current(generation):
                return
            self.apply_status(message["id"], status)
            self.post_status(message, status, error, generation, raw=fault in ("0010", "0011"))
        if is_template and self.current_status(message["id"]) == "read":
            # The customer answers the template, which opens the window.
            time.sleep(self.ack_delay)
            if self.is_current(generation):
                self.record_inbound(phone, TEMPLATE_REPLY)

    def apply_status(self, message_id: str, status: str) -> None:
        """Record one status event for hookInfo."""
        with self.lock:
            record = self.statuses.get(message_id)
            if record is not None:
                record["events"].append(status)
                record["timestamp"] = int(time.time())

    def current_status(self, message_id: str) -> str | None:
        """Return the derived status of a message."""
        with self.lock:
            record = self.statuses.get(message_id)
            return _derived_status(record["events"]) if record else None

    def post_status(self, message: dict, status: str, error: str | None, generation: int, *, raw: bool) -> None:
        """POST one status event, as normalized ack[] or (rawHooks / 0011) raw Meta format."""
        with self.lock:
            settings = dict(self.settings)
        if not settings.get("ackNotificationsOn"):
            return
        phone = message["chatId"].removesuffix("@c.us")
        if (raw and status == "failed") or settings.get("rawHooks"):
            body = self.raw_status_body(message["id"], phone, status, error)
        else:
            ack = {
                "id": message["id"],
                "status": status,
                "chatId": message["chatId"],
                "phone": phone,
                "bsuid": bsuid_for(phone),
            }
            if error:
                ack["error"] = error
            body = {"instanceId": self.channel_id, "ack": [ack]}
        self.deliver_all(body, generation)

    def raw_status_body(self, message_id: str, phone: str, status: str, error: str | None) -> dict:
        """Build Meta's entry[].changes[].value.statuses[] webhook."""
        item: dict = {"id": message_id, "status": status, "timestamp": str(int(time.time())), "recipient_id": phone}
        if error:
            code = 131047 if "engagement" in error else 131026 if "undeliverable" in error else 130472
            item["errors"] = [{"code": code, "title": error, "message": error}]
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "12025550100", "phone_number_id": self.channel_id},
            "statuses": [item],
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.channel_id, "changes": [{"field": "messages", "value": value}]}],
        }

    # ----- sends -----

    def send(self, body: dict, kind: str, text: str, *, is_template: bool = False) -> Response:
        """Run a validated send through faults, the window, recording and acks."""
        phone = _digits_of(body.get("phone") or body.get("chatId"))
        with self.lock:
            phone = self.lid_phones.get(phone, phone)  # phone=<bsuid> reaches an @lid user
        fault = phone[-4:]
        if fault == "0002":
            return _error(429, "Too many requests", **{"Retry-After": "1"})
        if fault == "0012":
            return _error(503, "Service temporarily unavailable", **{"Retry-After": "1"})
        if fault == "0003":
            return _error(500, "Internal error")
        if fault == "0013" and self.first_try(phone):
            return _error(429, "Too many requests")  # no Retry-After: 1MSG does not promise one
        started = time.monotonic()
        answer = self.decide(phone, fault, kind, text, is_template)
        if fault == "0004":
            time.sleep(max(0.0, self.slow_seconds - (time.monotonic() - started)))
        if fault == "0008":
            return Response('{"sent": true, "id": "wamid.', status=200, mimetype="application/json")
        return answer

    def decide(self, phone: str, fault: str, kind: str, text: str, is_template: bool) -> Response:
        """Answer a send: window closed, a recipient fault, or accepted."""
        if not is_template and not self.window_open(phone):
            if fault == "0015":
                return jsonify({"sent": "false", "message": "Re-engagement message"})
            return jsonify({"sent": False, "message": "Dialog window is closed"})
        if fault == "0007":
            return _error(400, "Phone number is not a valid WhatsApp number")
        if fault == "0009":
            return jsonify({"sent": False, "jobId": _new_id("job-")})
        message = self.record_outgoing(phone, kind, text)
        with self.lock:
            generation = self.generation
        self.in_background(self.run_acks, message, fault, generation, is_template)
        return jsonify(
            {
                "sent": "true" if fault == "0014" else True,
                "id": message["id"],
                "message": f"Sent to {phone}@c.us",
                "description": "Message has been sent to the provider",
            }
        )


def _json_body() -> Any:
    """Return the JSON body, or None when there is none or it is not JSON."""
    return request.get_json(silent=True)


def _api_routes(emu: Emulator) -> dict[tuple[str, str], Callable[[dict], Response]]:
    """Map (HTTP method, 1MSG method) to handlers taking the JSON body."""

    def send_contact(body: dict) -> Response:
        """POST sendContact: validate, then send a card."""
        problem = recipient_problem(body) or contacts_problem(body)
        if problem:
            return _error(400, problem)
        return emu.send(body, "contacts", "")

    def send_message(body: dict) -> Response:
        """POST sendMessage: validate, then send a session text."""
        problem = recipient_problem(body)
        text = body.get("body")
        if not problem and (not isinstance(text, str) or not 1 <= len(text) <= 4096):
            problem = "body must be 1 to 4096 characters"
        return _error(400, problem) if problem else emu.send(body, "chat", text)

    def send_template(body: dict) -> Response:
        """POST sendTemplate: strict about the template's identity, then send (any window)."""
        problem = recipient_problem(body)
        if problem:
            return _error(400, problem)
        refused = template_problem(body, TEMPLATES)
        if refused is not None:
            return refused
        text = _render_template(find_template(body, TEMPLATES), sent_params(body))
        return emu.send(body, "template", text, is_template=True)

    def list_templates(_body: dict) -> Response:
        """GET templates: paged with limit/offset, like 1MSG."""
        limit = request.args.get("limit", TEMPLATE_PAGE_SIZE, type=int)
        offset = request.args.get("offset", 0, type=int)
        if limit is None or offset is None or limit < 1 or offset < 0:
            return _error(400, "limit and offset must be whole numbers (limit at least 1)")
        return jsonify({"total": len(TEMPLATES), "templates": TEMPLATES[offset : offset + limit]})

    def get_webhook(_body: dict) -> Response:
        """GET webhook: the registered URLs, in the form this channel answers in."""
        with emu.lock:
            urls, form = list(emu.webhooks), emu.webhook_form
        if form == "legacy":  # older channels: one comma-separated string
            return jsonify({"webhookUrl": ",".join(urls) if urls else None})
        if form == "string":  # one URL as a plain string, none as null
            return jsonify({"webhookUrl": (urls[0] if len(urls) == 1 else urls) if urls else None})
        return jsonify({"webhookUrl": urls})

    def set_webhook(body: dict) -> Response:
        """POST webhook: replace the URL list (at most 5)."""
        urls = body.get("webhookUrl")
        urls = [urls] if isinstance(urls, str) and urls else urls or []
        if not isinstance(urls, list) or not all(isinstance(u, str) and _URL.match(u) for u in urls):
            return _error(400, "webhookUrl must be an http(s) URL or a list of them")
        urls = list(dict.fromkeys(urls))
        if len(urls) > MAX_WEBHOOKS:
            return _error(400, f"At most {MAX_WEBHOOKS} webhook URLs")
        with emu.lock:
            emu.webhooks = urls  # replaces the list, as 1MSG does
        return jsonify({"set": True, "webhookUrl": urls})

    def get_settings(_body: dict) -> Response:
        """GET settings."""
        with emu.lock:
            return jsonify(dict(emu.settings))

    def set_settings(body: dict) -> Response:
        """POST settings: change the fields given."""
        fields = {k: v for k, v in body.items() if k != "token"}
        with emu.lock:
            emu.settings.update(fields)
            return jsonify(dict(emu.settings))

    def hook_info(_body: dict) -> Response:
        """GET hookInfo: the latest status of one message (404 when switched off)."""
        with emu.lock:
            enabled = emu.hook_info_enabled
        if not enabled:
            return _error(404, "Unknown method GET hookInfo")
        message_id = request.args.get("messageId", "")
        with emu.lock:
            record = emu.statuses.get(message_id)
            status = _derived_status(record["events"]) if record else None
            hooks = (
                []
                if status is None
                else [
                    {
                        "id": message_id,
                        "type": "message",
                        "status": status,
                        "timestamp": str(record["timestamp"]),
                        "recipient_id": record["phone"],
                    }
                ]
            )
        return jsonify({"hooks": hooks})

    def messages(_body: dict) -> Response:
        """GET messages: one message by msgId, or a chat's history, newest first."""
        limit = request.args.get("limit", 100, type=int)
        if request.args.get("msgId"):
            with emu.lock:
                found = [m for m in emu.messages if m["id"] == request.args["msgId"]]
            return jsonify({"messages": found[:limit]})
        chat_id = str(request.args.get("chatId") or "")
        if not _CHAT_ID.match(chat_id):
            return _error(400, "chatId (<digits>@c.us) or msgId is required")
        return jsonify({"messages": emu.chat_history(chat_id, limit)})

    return {
        ("POST", "sendContact"): send_contact,
        ("POST", "sendMessage"): send_message,
        ("POST", "sendTemplate"): send_template,
        ("GET", "templates"): list_templates,
        ("GET", "webhook"): get_webhook,
        ("POST", "webhook"): set_webhook,
        ("GET", "settings"): get_settings,
        ("POST", "settings"): set_settings,
        ("GET", "status"): lambda _body: jsonify({"status": "connected"}),
        ("GET", "hookInfo"): hook_info,
        ("GET", "messages"): messages,
    }


def _control_routes(emu: Emulator) -> dict[tuple[str, str], Callable[[dict], Response]]:
    """Map the emulator's own test/demo endpoints (`/<channel>/_emulator/<action>`)."""

    def inbound(body: dict) -> Response:
        """Simulate the customer writing (opens the window) and post it to the webhooks."""
        phone = _digits_of(body.get("phone") or body.get("chatId"))
        if phone is None or not isinstance(body.get("body"), str):
            return _error(400, "inbound needs phone (+E.164 or digits) and body")
        message = emu.record_inbound(
            phone,
            body["body"],
            body.get("time"),
            body.get("senderName"),
            hidden=bool(body.get("hidden")),
            group=body.get("group") or None,
        )
        return jsonify(message)

    def call(body: dict) -> Response:
        """Post a calls passthrough body for a customer's call."""
        phone = _digits_of(body.get("phone"))
        if phone is None:
            return _error(400, "call needs phone")
        return jsonify(emu.record_call(phone))

    def hook_info_switch(body: dict) -> Response:
        """Switch GET hookInfo on or off (newer channels do not offer it)."""
        if not isinstance(body.get("enabled"), bool):
            return _error(400, "enabled must be true or false")
        with emu.lock:
            emu.hook_info_enabled = body["enabled"]
        return jsonify({"enabled": body["enabled"]})

    def webhook_form(body: dict) -> Response:
        """Choose how GET webhook answers: "array", "string" or "legacy" (comma-separated)."""
        form = body.get("form")
        if form not in ("array", "string", "legacy"):
            return _error(400, "form must be array, string or legacy")
        with emu.lock:
            emu.webhook_form = form
        return jsonify({"form": form})

    def reset(_body: dict) -> Response:
        """Forget everything."""
        emu.reset()
        return jsonify({"reset": True})

    def request_log(_body: dict) -> Response:
        """The API requests received, for tests to inspect."""
        with emu.lock:
            return jsonify(list(emu.request_log))

    def deliveries(_body: dict) -> Response:
        """The webhook POSTs made, for tests to inspect."""
        with emu.lock:
            return jsonify(list(emu.deliveries))

    def pending(_body: dict) -> Response:
        """How many webhook jobs (echoes, scheduled acks, retries) have not finished yet."""
        with emu.lock:
            return jsonify({"background_jobs": emu.background_jobs})

    return {
        ("POST", "inbound"): inbound,
        ("POST", "reset"): reset,
        ("POST", "webhook-form"): webhook_form,
        ("POST", "call"): call,
        ("POST", "hookinfo"): hook_info_switch,
        ("GET", "requests"): request_log,
        ("GET", "deliveries"): deliveries,
        ("GET", "pending"): pending,
    }


# bandit: the emulator's own dev token
def create_emulator(
    channel_id: str = "100000",
    token: str = "dev-token",
    *,  # nosec B107
    ack_delay: float = 1.0,
    slow_seconds: float = 12.0,
    webhook_retry_delays: tuple[float, ...] = (0.5, 1, 2),
    hook_info: bool = True,
) -> Flask:
    """Build the emulator as its own Flask app (state in memory, per app).

    `hook_info=False` runs it like a newer channel without GET hookInfo (it answers 404).
    """
    app = Flask("onemsg.emulator")
    emu = Emulator(
        channel_id,
        token,
        ack_delay=ack_delay,
        slow_seconds=slow_seconds,
        webhook_retry_delays=webhook_retry_delays,
        hook_info=hook_info,
    )
    app.extensions["onemsg_emulator"] = emu
    api, control = _api_routes(emu), _control_routes(emu)

    @app.route("/<channel>/<method>", methods=["GET", "POST"])
    def api_call(channel: str, method: str) -> Response:
        """Route a 1MSG method call after checking channel and token."""
        body = _json_body()
        refused = emu.refusal(channel, body, log=True)
        handler = api.get((request.method, method))
        if refused is not None or handler is None:
            return refused or _error(404, f"Unknown method {request.method} {method}")
        if request.method == "POST" and not isinstance(body, dict):
            return _error(400, "The body must be a JSON object")
        return handler(body or {})

    @app.route("/<channel>/_emulator/<action>", methods=["GET", "POST"])
    def control_call(channel: str, action: str) -> Response:
        """Route an emulator control call after checking channel and token."""
        body = _json_body()
        handler = control.get((request.method, action))
        refused = emu.refusal(channel, body, log=False)
        if refused is not None or handler is None:
            return refused or _error(404, f"Unknown emulator action {action}")
        return handler(body if isinstance(body, dict) else {})

    return app


_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")


class _AccessLogWithoutTokens(WSGIRequestHandler):
    """Access log lines with a gateway-style `?token=` printed as ***."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        full_path = self.path
        self.path = _TOKEN_IN_QUERY.sub(r"\1***", full_path)
        try:
            super().log_request(code, size)
        finally:
            self.path = full_path


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, str]:
    """Serve an app on a real port in a daemon thread; returns (server, base_url)."""
    server = make_server(host, port, app, threaded=True, request_handler=_AccessLogWithoutTokens)
    # A short poll interval keeps shutdown() quick for test fixtures.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="onemsg-emulator"
    )
    thread.start()
    return server, f"http://{host}:{server.server_port}"


# bandit: the emulator's own dev token
def run_emulator(
    host: str = "127.0.0.1",
    port: int = 5001,
    channel_id: str = "100000",  # nosec B107
    token: str = "dev-token",
    **options: Any,
) -> None:
    """Run the emulator in the foreground (for `flask onemsg emulator`)."""
    app = create_emulator(channel_id, token, **options)
    run_simple(host, port, app, threaded=True, request_handler=_AccessLogWithoutTokens)
