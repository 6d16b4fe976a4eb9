"""Typed errors for the 1MSG API, and the rules that turn 1MSG's answers into them."""

from __future__ import annotations

import re
from typing import Any

# Meta error codes (contract, "Meta error codes worth mapping to an action").
META_WINDOW_CLOSED = 131047
META_UNDELIVERABLE = 131026
META_RATE_LIMITS = frozenset({130429, 131056})

# "Dialog window is closed", "outside the allowed window", "Re-engagement message" (no code).
_WINDOW_TEXT = re.compile(r"window|re-?engagement|24 hours have passed", re.IGNORECASE)
_TOKEN_TEXT = re.compile(r"token|unauthori[sz]ed", re.IGNORECASE)
_RATE_TEXT = re.compile(r"rate.?limit|too many|throttl", re.IGNORECASE)
_RECIPIENT_TEXT = re.compile(
    r"(phone|number|recipient|chat ?id).*(invalid|not a valid|not valid|unknown|not on whatsapp)"
    r"|(invalid|not a valid|unknown).*(phone|number|recipient|chat ?id)",
    re.IGNORECASE,
)


class OneMsgError(Exception):
    """Base of every error raised by the 1MSG client."""

    code = "onemsg_error"

    def __init__(self, message: str, *, status_code: int | None = None, raw: Any = None, meta_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.raw = raw
        self.meta_code = meta_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class WindowClosed(OneMsgError):
    """The customer's 24-hour window is closed: only a template can reach them."""

    code = "window_closed"


class InvalidRecipient(OneMsgError):
    """The recipient number is malformed or not reachable on WhatsApp."""

    code = "invalid_recipient"


class AuthenticationFailed(OneMsgError):
    """1MSG refused the token or the channel."""

    code = "auth_failed"


class RateLimited(OneMsgError):
    """1MSG asked us to slow down; `retry_after` is in seconds when it said so."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamError(OneMsgError):
    """1MSG failed (5xx, garbled answer, connection trouble) on a call that changes nothing."""

    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    """1MSG was never reached (or refused before processing): nothing was sent."""

    code = "upstream_unavailable"


class UnknownOutcome(OneMsgError):
    """The send left us but no usable answer came back: the message MAY have been sent."""

    code = "unknown_outcome"


class Rejected(OneMsgError):
    """1MSG answered but did not send (e.g. HTTP 200 with sent:false, or a 400)."""

    code = "rejected"

    def __init__(self, message: str, *, job_id: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.job_id = job_id


def error_text(body: Any) -> str:
    """Return the human text of an error body in any documented shape."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("error_user_msg") or error.get("message") or error.get("error_user_title") or "")
        return str(error or body.get("message") or "")
    return str(body or "")


def meta_code_of(body: Any) -> int | None:
    """Return the Meta error code of `{"error": {"code": ...}}`, if any."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        try:
            return int(error.get("code"))
        except (TypeError, ValueError):
            return None
    return None


def error_from_meta(message: str, meta_code: int, **kwargs: Any) -> OneMsgError:
    """Map a Meta error code to the error the caller can act on."""
    if meta_code == META_WINDOW_CLOSED:
        return WindowClosed(message, meta_code=meta_code, **kwargs)
    if meta_code == META_UNDELIVERABLE:
        return InvalidRecipient(message, meta_code=meta_code, **kwargs)
    if meta_code in META_RATE_LIMITS:
        return RateLimited(message, meta_code=meta_code, **kwargs)
    return Rejected(message, meta_code=meta_code, **kwargs)


def error_from_text(message: str, **kwargs: Any) -> OneMsgError:
    """Map 1MSG's free-text refusal (sent:false or a 4xx) to a typed error."""
    if _WINDOW_TEXT.search(message):
        return WindowClosed(message, **kwargs)
    if _TOKEN_TEXT.search(message):
        return AuthenticationFailed(message, **kwargs)
    if _RATE_TEXT.search(message):
        return RateLimited(message, **kwargs)
    if _RECIPIENT_TEXT.search(message):
        return InvalidRecipient(message, **kwargs)
    return Rejected(message, **kwargs)


def error_from_refusal(body: Any, *, status_code: int) -> OneMsgError:
    """Map a refusal (sent:false, a 4xx, or an error object) to a typed error."""
    message = error_text(body)
    meta_code = meta_code_of(body)
    if meta_code is not None:
        return error_from_meta(message or f"Meta error {meta_code}", meta_code, status_code=status_code, raw=body)
    if isinstance(body, dict) and body.get("jobId") and not message:
        # A queued send has no message id to follow, so we cannot treat it as sent.
        return Rejected(
            f"Queued by 1MSG as job {body['jobId']}, no message id",
            job_id=str(body["jobId"]),
            status_code=status_code,
            raw=body,
        )
    return error_from_text(
        message or f"1MSG refused the request (HTTP {status_code})", status_code=status_code, raw=body
    )
