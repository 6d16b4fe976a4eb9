"""A small client for the 1MSG WhatsApp Business API (see shared/onemsg-contract.md)."""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_result
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from .errors import (
    AuthenticationFailed,
    InvalidRecipient,
    OneMsgError,
    RateLimited,
    UnknownOutcome,
    UpstreamError,
    UpstreamUnavailable,
    error_from_refusal,
    error_text,
)

log = logging.getLogger("onemsg")

MAX_WEBHOOKS = 5
USER_AGENT = "specialist-handoff-onemsg/1"
TOKEN_PLACES = ("header", "query")
RATE_LIMIT_BACKOFF = 0.5  # seconds before the first retry of a 429 without Retry-After
RETRY_LATER_STATUSES = frozenset({429, 503})
_DIGITS = re.compile(r"^\d{6,15}$")
_TEMPLATE_PARAM_BREAKS = re.compile(r"[\r\n\t]+")
_LONG_SPACE_RUN = re.compile(r" {5,}")


@dataclass(frozen=True)
class SendResult:
    """1MSG accepted a message for sending (not yet delivered); `id` correlates the acks."""

    id: str
    message: str = ""
    raw: dict = field(default_factory=dict, repr=False)


def channel_id_from_token(token: str) -> str | None:
    """Return the channel id inside a JWT channel key (`instanceId: "instance371267300"`)."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    instance = payload.get("instanceId") if isinstance(payload, dict) else None
    if not isinstance(instance, str) or not instance:
        return None
    return instance.removeprefix("instance") or None


def webhook_urls(value: Any) -> list[str]:
    """Read GET webhook's answer: one URL, a list, null, or one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [u.strip() for u in (str(v) for v in value if v) if u.strip()]


def _same_url(url: str) -> str:
    """Compare URLs without surrounding spaces or a trailing slash."""
    return url.strip().rstrip("/")


class _TokenFilter(logging.Filter):
    """Hide a query-string token in urllib3's debug lines ("GET /1/status?token=... 200")."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = message
        for token in self.tokens:
            hidden = hidden.replace(token, "***")
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_TRANSPORT_FILTER = _TokenFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_TRANSPORT_FILTER)


def _hide_in_transport_logs(token: str) -> None:
    """A token in the query string reaches urllib3's log lines: make it print as ***."""
    _TRANSPORT_FILTER.tokens.add(token)


def _template_identity(template: dict) -> tuple:
    """(name, language) as listed, the pair that identifies a template."""
    language = template.get("language")
    language = language.get("code") if isinstance(language, dict) else language
    return str(template.get("name")), str(language)


def _cleaned_component(component: dict) -> dict:
    """A template component with every text parameter made acceptable to Meta."""
    parameters = [
        {**p, "text": clean_template_param(p["text"])} if isinstance(p, dict) and "text" in p else p
        for p in component.get("parameters") or []
    ]
    return {**component, "parameters": parameters}


def recipient_digits(recipient: str) -> str:
    """Return the digits 1MSG wants as `phone` for "+14155552671", "14155552671", "...@c.us",
    or a user who hides their number, "<bsuid>@lid" (1MSG sends to them with phone=<bsuid>)."""
    text = str(recipient or "").strip().removesuffix("@c.us").removesuffix("@lid")
    digits = re.sub(r"[\s\-().]", "", text).removeprefix("+")
    if not _DIGITS.match(digits):
        raise InvalidRecipient(f"Not a WhatsApp number: {recipient!r}")
    return digits


def clean_template_param(text: str) -> str:
    """Make a template parameter acceptable to Meta: no newlines/tabs, no runs of >4 spaces."""
    flat = _TEMPLATE_PARAM_BREAKS.sub(" ", str(text))
    return _LONG_SPACE_RUN.sub("    ", flat).strip()


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header given as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def never_reached_server(exc: BaseException) -> bool:
    """Tell whether a requests error happened before the request could reach 1MSG."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError covers refused connections and failed DNS lookups; a dropped
    # connection after sending (ProtocolError) is not here: the request may have been read.
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def emulator_inbound(base_url: str, channel_id: str, token: str, phone: str, body: str) -> None:
    """Ask the 1MSG emulator (never the real service) to make a customer write to the channel:
    it then posts a messages[] webhook. Raises UpstreamUnavailable when the emulator cannot be
    reached, UpstreamError when it refuses; no retries (a person clicked and sees the result)."""
    url = f"{base_url.rstrip('/')}/{channel_id}/_emulator/inbound"
    try:
        response = requests.post(
            url, json={"phone": phone, "body": body}, headers={"Authorization": f"Bearer {token}"}, timeout=(3, 10)
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        name = type(exc).__name__
        if never_reached_server(exc):
            raise UpstreamUnavailable(f"the emulator could not be reached ({name})") from None
        raise UpstreamError(f"the emulator refused the message ({name})") from None


def _asks_to_retry_later(response: requests.Response) -> bool:
    """Tell whether 1MSG refused before processing: any 429, or a 503 with Retry-After."""
    if response.status_code == 429:
        return True  # Retry-After is not promised on a 429; we back off without it
    return (
        response.status_code in RETRY_LATER_STATUSES
        and retry_after_seconds(response.headers.get("Retry-After")) is not None
    )


def accepted_flag(value: Any) -> bool | None:
    """Read `sent` as 1MSG gives it: a boolean or the strings "true"/"false"."""
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return value if isinstance(value, bool) else None


def _last_outcome(retry_state: RetryCallState) -> Any:
    """Hand back the last response, or re-raise the last error, once retries are spent."""
    return retry_state.outcome.result()


# A call_wrapper gets one argument-less callable per 1MSG call (retries included) and must
# return what it returns (or let its OneMsgError through): a place for a circuit breaker.
CallWrapper = Callable[[Callable[[], requests.Response]], requests.Response]


class OneMsgClient:
    """Talks to one 1MSG channel; settings come in as arguments, the token only in a header.

    `call_wrapper`, when given, is called as `call_wrapper(call)` around every 1MSG call, sends
    and reads alike; `call()` makes the call with its safe retries and returns the 2xx response
    or raises a typed error. The app uses it to put its circuit breaker in front of 1MSG.
    """

    def __init__(
        self,
        base_url: str,
        channel_id: str | None,
        token: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_retries: int = 2,
        max_retry_wait: float = 10.0,
        token_in: str = "header",
        call_wrapper: CallWrapper | None = None,
    ):
        if not token:
            raise ValueError("A 1MSG token is required")
        if token_in not in TOKEN_PLACES:
            raise ValueError(f"token_in must be one of {', '.join(TOKEN_PLACES)}, not {token_in!r}")
        self.channel_id = str(channel_id or channel_id_from_token(token) or "")
        if not self.channel_id:
            raise ValueError("A 1MSG channel id is required (none found in the token either)")
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._token = token
        self.token_in = token_in
        self.call_wrapper = call_wrapper
        # "header" and "query" say where the token goes (bandit B105 reads them as tokens).
        self._session = self._build_session(token if token_in == "header" else None)  # nosec B105
        if token_in == "query":  # nosec B105
            _hide_in_transport_logs(token)

    def __repr__(self) -> str:
        return f"OneMsgClient(base_url={self.base_url!r}, channel_id={self.channel_id!r})"

    @staticmethod
    def _build_session(header_token: str | None) -> requests.Session:
        """Build the one session this client reuses; urllib3 itself never retries."""
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        if header_token:
            session.headers["Authorization"] = f"Bearer {header_token}"
        return session

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # ----- sends (never retried once they may have reached 1MSG) -----

    def send_contact(self, recipient: str, card: dict) -> SendResult:
        """Send one contact card (a `contacts[]` item, see cards.contact_payload)."""
        payload = {"phone": recipient_digits(recipient), "contacts": [card]}
        return self._send("sendContact", payload)

    def send_message(self, recipient: str, text: str) -> SendResult:
        """Send a plain session text (1–4096 characters)."""
        if not text or len(text) > 4096:
            raise ValueError("A message body must be 1 to 4096 characters")
        return self._send("sendMessage", {"phone": recipient_digits(recipient), "body": text})

    def send_template(
        self, recipient: str, template: str, language: str, params: Iterable[dict] = (), *, namespace: str
    ) -> SendResult:
        """Send an approved template; it may go out while the window is closed.

        `params` are WhatsApp components (see templates.build_params); 1MSG answers "Template
        is not defined" unless name, language code and namespace match an approved template.
        """
        if not namespace or not language:
            raise ValueError("sendTemplate needs the template's namespace and language code")
        payload = {
            "phone": recipient_digits(recipient),
            "template": template,
            "namespace": namespace,
            "language": {"policy": "deterministic", "code": language},
            "params": [_cleaned_component(c) for c in params],
        }
        return self._send("sendTemplate", payload)

    def _send(self, method: str, payload: dict) -> SendResult:
        """POST a send and turn the answer into a SendResult or a typed error."""
        response = self._request("POST", method, json_body=payload, is_send=True)
        body = self._json(response, is_send=True)
        if not isinstance(body, dict):
            raise UnknownOutcome(
                "1MSG answered a send with an unexpected body", status_code=response.status_code, raw=body
            )
        accepted = accepted_flag(body.get("sent")) is True or ("sent" not in body and body.get("id"))
        if not accepted or "error" in body:
            raise self._scrub_error(error_from_refusal(body, status_code=response.status_code))
        if not body.get("id"):
            raise UnknownOutcome(
                "1MSG accepted the send without a message id", status_code=response.status_code, raw=body
            )
        return SendResult(id=str(body["id"]), message=str(body.get("message") or ""), raw=body)

    # ----- reads and settings (safe to repeat) -----

    def templates(self, page_size: int = 100, max_pages: int = 20) -> list[dict]:
        """List the channel's templates, page by page (`limit`/`offset`)."""
        collected, seen = [], set()
        for page in range(max_pages):
            body = self._get_json("templates", params={"limit": page_size, "offset": page * page_size})
            items = body.get("templates") if isinstance(body, dict) else body
            items = [t for t in items or [] if isinstance(t, dict)]
            fresh = [t for t in items if _template_identity(t) not in seen]
            seen.update(_template_identity(t) for t in fresh)
            collected += fresh
            total = body.get("total") if isinstance(body, dict) else None
            # A channel that ignores offset sends the same page again: stop there too.
            if not fresh or len(items) < page_size or (isinstance(total, int) and len(collected) >= total):
                break
        return collected

    def hook_info(self, message_id: str) -> list[dict]:
        """Return the status hooks 1MSG holds for one message (to reconcile an unknown outcome)."""
        body = self._get_json("hookInfo", params={"messageId": message_id})
        return list(body.get("hooks") or []) if isinstance(body, dict) else []

    def message(self, message_id: str) -> dict | None:
        """Return one message by id (`GET messages?msgId=`), or None when 1MSG has no such message."""
        body = self._get_json("messages", params={"msgId": message_id})
        found = body.get("messages") if isinstance(body, dict) else body
        return next((m for m in found or [] if isinstance(m, dict) and m.get("id") == message_id), None)

    def messages(self, chat_id: str, last: bool = True, limit: int = 100) -> list[dict]:
        """Return a chat's message history, newest first."""
        params = {"chatId": f"{recipient_digits(chat_id)}@c.us", "last": "true" if last else "false", "limit": limit}
        body = self._get_json("messages", params=params)
        return list(body.get("messages") or []) if isinstance(body, dict) else list(body or [])

    def channel_status(self) -> dict:
        """Return the channel's health, e.g. {"status": "connected"}."""
        return self._get_json("status")

    def get_webhooks(self) -> list[str]:
        """Return the registered webhook URLs, whatever form 1MSG answered in."""
        body = self._get_json("webhook")
        return webhook_urls(body.get("webhookUrl") if isinstance(body, dict) else body)

    def set_webhooks(self, urls: Iterable[str] | str, *, drop: Iterable[str] = ()) -> list[str]:
        """Add webhook URLs, keeping every other URL registered (1MSG's call replaces the list).

        URLs in `drop` are removed (a rotated-away secret's URL); never more than 5 in all.
        """
        return self.register_webhooks(urls, drop=drop)[1]

    def register_webhooks(self, urls: Iterable[str] | str, *, drop: Iterable[str] = ()) -> tuple[list[str], list[str]]:
        """Like set_webhooks, returning (the list before, the list after)."""
        before = self.get_webhooks()
        wanted = [urls] if isinstance(urls, str) else list(urls)
        gone = {_same_url(u) for u in drop}
        merged = [u for u in before if _same_url(u) not in gone]
        merged += [u for u in wanted if _same_url(u) not in {_same_url(m) for m in merged}]
        if len(merged) > MAX_WEBHOOKS:
            raise ValueError(
                f"1MSG keeps at most {MAX_WEBHOOKS} webhook URLs and this channel "
                f"already has {len(before)}: remove one in the 1MSG channel "
                "settings, then try again."
            )
        if merged == before:
            return before, before
        response = self._request("POST", "webhook", json_body={"webhookUrl": merged})
        body = self._json(response, is_send=False)
        saved = webhook_urls(body.get("webhookUrl")) if isinstance(body, dict) else []
        return before, saved or merged

    def settings(self) -> dict:
        """Return the channel settings (ackNotificationsOn, rawHooks, ...)."""
        return self._get_json("settings")

    def update_settings(self, **fields: Any) -> dict:
        """Change some channel settings and return what 1MSG answered."""
        response = self._request("POST", "settings", json_body=fields)
        return self._json(response, is_send=False)

    def _get_json(self, method: str, params: dict | None = None) -> Any:
        """GET a read-only method and return its JSON body."""
        response = self._request("GET", method, params=params)
        return self._json(response, is_send=False)

    # ----- transport -----

    def _request(
        self, http_method: str, method: str, *, json_body: Any = None, params: dict | None = None, is_send: bool = False
    ) -> requests.Response:
        """Call 1MSG with safe retries (through call_wrapper when set) and return a 2xx response."""

        def call() -> requests.Response:
            return self._request_with_retries(http_method, method, json_body, params, is_send)

        return self.call_wrapper(call) if self.call_wrapper else call()

    def _request_with_retries(
        self, http_method: str, method: str, json_body: Any, params: dict | None, is_send: bool
    ) -> requests.Response:
        """Call 1MSG with safe retries and return a 2xx response, or raise a typed error."""
        retrying = Retrying(
            retry=retry_if_exception(never_reached_server) | retry_if_result(_asks_to_retry_later),
            wait=self._retry_wait,
            stop=self._retry_stop,
            retry_error_callback=_last_outcome,
        )
        try:
            response = retrying(self._attempt, http_method, method, json_body, params)
        except requests.RequestException as exc:
            raise self._transport_error(exc, is_send) from None
        return self._check_status(response, is_send)

    def _attempt(self, http_method: str, method: str, json_body: Any, params: dict | None) -> requests.Response:
        """Make one HTTP call and log it (method, path, status; never the token)."""
        path = f"/{self.channel_id}/{method}"
        # For gateways that want ?token=; never logged (path only). "query" is a place, not a token.
        if self.token_in == "query":  # nosec B105
            params = {**(params or {}), "token": self._token}
        try:
            response = self._session.request(
                http_method,
                self.base_url + path,
                json=json_body,
                params=params,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        except requests.RequestException as exc:
            log.warning("1MSG %s %s failed: %s", http_method, path, type(exc).__name__)
            raise
        log.info("1MSG %s %s -> %s", http_method, path, response.status_code)
        return response

    def _retry_wait(self, retry_state: RetryCallState) -> float:
        """Wait what 1MSG asked for (Retry-After); without it, back off exponentially with jitter."""
        outcome = retry_state.outcome
        attempt = retry_state.attempt_number
        if outcome is not None and not outcome.failed:
            asked = retry_after_seconds(outcome.result().headers.get("Retry-After"))
            if asked is not None:
                return asked
            # A 429 with no Retry-After: jitter keeps many workers from retrying in step.
            return min(RATE_LIMIT_BACKOFF * 2 ** (attempt - 1), 8.0) * random.uniform(0.5, 1.0)
        return min(0.1 * 2 ** (attempt - 1), 1.0)

    def _retry_stop(self, retry_state: RetryCallState) -> bool:
        """Stop after max_retries, or when the next wait would overrun max_retry_wait."""
        if retry_state.attempt_number > self.max_retries:
            return True
        return retry_state.seconds_since_start + retry_state.upcoming_sleep > self.max_retry_wait

    def _transport_error(self, exc: requests.RequestException, is_send: bool) -> OneMsgError:
        """Map a requests error: never reached → unavailable; else unknown for a send."""
        name = type(exc).__name__
        if never_reached_server(exc):
            return UpstreamUnavailable(f"1MSG could not be reached ({name}); nothing was sent")
        if is_send:
            return UnknownOutcome(f"No answer from 1MSG after sending ({name}); the message may have been sent")
        return UpstreamError(f"1MSG did not answer ({name})")

    def _check_status(self, response: requests.Response, is_send: bool) -> requests.Response:
        """Return a 2xx response; raise the typed error for anything else."""
        status = response.status_code
        if 200 <= status < 300:
            return response
        body = self._json_or_text(response)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status in (401, 403):
            raise self._scrub_error(
                AuthenticationFailed(error_text_or(body, "1MSG refused the token"), status_code=status, raw=body)
            )
        if status == 429:
            raise self._scrub_error(
                RateLimited(
                    error_text_or(body, "Rate limited by 1MSG"), retry_after=retry_after, status_code=status, raw=body
                )
            )
        if status == 503 and retry_after is not None:
            # 503 with Retry-After is a refusal before processing: nothing was sent.
            raise self._scrub_error(
                UpstreamUnavailable(error_text_or(body, "1MSG is unavailable"), status_code=status, raw=body)
            )
        if status >= 500:
            raise self._scrub_error(self._server_error(status, body, is_send))
        raise self._scrub_error(error_from_refusal(body, status_code=status))

    @staticmethod
    def _server_error(status: int, body: Any, is_send: bool) -> OneMsgError:
        """A 5xx on a send leaves the outcome unknown; on a read it is plain upstream trouble."""
        text = error_text_or(body, f"HTTP {status}")
        if is_send:
            return UnknownOutcome(
                f"1MSG failed after the send left us ({text}); the message may have been sent",
                status_code=status,
                raw=body,
            )
        return UpstreamError(f"1MSG failed ({text})", status_code=status, raw=body)

    def _json(self, response: requests.Response, *, is_send: bool) -> Any:
        """Decode a 2xx JSON body; garbage after a send means we cannot know what happened."""
        try:
            return response.json()
        except ValueError:
            error = UnknownOutcome if is_send else UpstreamError
            raise error(
                f"1MSG answered HTTP {response.status_code} with a body that is not JSON",
                status_code=response.status_code,
                raw=self._redact(response.text[:500]),
            ) from None

    def _json_or_text(self, response: requests.Response) -> Any:
        """Decode an error body, falling back to its first characters."""
        try:
            return response.json()
        except ValueError:
            return {"error": response.text[:500]}

    def _redact(self, value: Any) -> Any:
        """Remove the token from text 1MSG sent back (its 401 text may quote it)."""
        if isinstance(value, str):
            return value.replace(self._token, "***")
        if isinstance(value, dict):
            return {k: self._redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact(v) for v in value]
        return value

    def _scrub_error(self, error: OneMsgError) -> OneMsgError:
        """Return the same error with the token removed from its message and raw body."""
        error.message = self._redact(error.message)
        error.args = (error.message,)
        error.raw = self._redact(error.raw)
        return error


def error_text_or(body: Any, default: str) -> str:
    """Return the error text of a body, or a default when it has none."""
    return error_text(body) or default
