"""Failure triage: turn a send/delivery failure into words and a next step for an agent.

Inputs come from three places: our 1MSG client's error codes (e.g. "window_closed"), Meta
error codes carried by raw webhooks (e.g. 131047), and the plain-text errors 1MSG puts in
`sent: false` answers and failed acks (e.g. "Dialog window is closed").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "TRIAGE_TABLE",
    "Triage",
    "TriageRule",
    "advice",
    "explain_failure",
    "failure_sentence",
    "queued_sentence",
    "unknown_sentence",
    "wait_text",
]

ACTION_LABELS = {
    "retry": "Retry",
    "send_template": "Send a template",
    "check_number": "Check the number",
    "wait": "Wait, then retry",
    "tell_admin": "Tell an admin",
    "none": "Nothing to do",
}
ACTIONS = tuple(ACTION_LABELS)

MINUTE, HOUR = 60, 3600


@dataclass(frozen=True)
class Triage:
    """What went wrong, in plain language, and what the agent should do next."""

    title: str
    explanation: str
    retry_helps: bool
    retry_after_seconds: int | None
    action: str  # one of ACTIONS
    action_label: str
    raw: str | None  # the reason exactly as given, for the agent and for support tickets


@dataclass(frozen=True)
class TriageRule:
    """One row of TRIAGE_TABLE: what it matches and the advice it gives."""

    key: str
    title: str
    explanation: str
    action: str
    retry_helps: bool
    retry_after_seconds: int | None = None
    reason_codes: tuple[str, ...] = ()
    meta_codes: tuple[int, ...] = ()
    text_markers: tuple[str, ...] = ()  # lower-case fragments of 1MSG/Meta error texts


TRIAGE_TABLE: tuple[TriageRule, ...] = (
    TriageRule(
        "window_closed",
        "Customer's 24-hour window is closed",
        "WhatsApp only lets us send a normal message within 24 hours of the customer's last "
        "message, so reopen the chat with a template or wait until the customer writes again.",
        "send_template",
        False,
        reason_codes=("window_closed",),
        meta_codes=(131047,),
        text_markers=(
            "dialog window is closed",
            "window is closed",
            "re-engagement",
            "24 hours have passed",
            "outside the allowed window",
        ),
    ),
    TriageRule(
        "invalid_recipient",
        "The number cannot receive WhatsApp",
        "WhatsApp could not deliver to this number (mistyped, not on WhatsApp, or unable to "
        "receive this kind of message), so check the number with the customer.",
        "check_number",
        False,
        reason_codes=("invalid_recipient",),
        meta_codes=(131026, 131021),
        text_markers=(
            "message undeliverable",
            "undeliverable",
            "not a valid whatsapp",
            "invalid phone",
            "not on whatsapp",
            "recipient cannot be sender",
        ),
    ),
    TriageRule(
        "ecosystem_hold",
        "Held back by WhatsApp",
        "WhatsApp held the message back to protect the customer from too many business "
        "messages, so sending again now would fail too; retry after 24 hours.",
        "wait",
        True,
        retry_after_seconds=24 * HOUR,
        meta_codes=(131049,),
        text_markers=("ecosystem",),
    ),
    TriageRule(
        "experiment",
        "Customer is in a WhatsApp experiment",
        "WhatsApp is running an experiment on this customer's number and did not deliver the "
        "message, so retry after 24 hours or reach the customer another way meanwhile.",
        "wait",
        True,
        retry_after_seconds=24 * HOUR,
        meta_codes=(130472,),
        text_markers=("part of an experiment",),
    ),
    TriageRule(
        "pair_rate_limit",
        "Too many messages to this customer",
        "We sent this customer too many messages in a short time, so retry after 5 minutes.",
        "wait",
        True,
        retry_after_seconds=5 * MINUTE,
        meta_codes=(131056,),
        text_markers=("pair rate limit",),
    ),
    TriageRule(
        "rate_limited",
        "Sending too fast",
        "WhatsApp or 1MSG asked us to slow down, so retry after 1 minute.",
        "wait",
        True,
        retry_after_seconds=MINUTE,
        reason_codes=("rate_limited",),
        meta_codes=(130429, 131048, 4, 80007),
        text_markers=("rate limit", "too many requests", "too many messages", "throttl"),
    ),
    TriageRule(
        "auth_failed",
        "1MSG refused our credentials",
        "The 1MSG token or channel is wrong or expired, so nothing can be sent until an admin fixes the settings.",
        "tell_admin",
        False,
        reason_codes=("auth_failed",),
        meta_codes=(190, 0),
        text_markers=("invalid token", "wrong token", "unauthorized", "access token"),
    ),
    TriageRule(
        "circuit_open",
        "Sending paused after repeated 1MSG errors",
        "1MSG failed several times in a row, so sending is paused; retry after 1 minute, and "
        "tell an admin if it keeps happening.",
        "wait",
        True,
        retry_after_seconds=MINUTE,
        reason_codes=("circuit_open",),
    ),
    TriageRule(
        "unknown_outcome",
        "Unknown whether it was sent",
        "We cannot tell yet whether the card reached the customer, so do not send it again: "
        "we are checking with 1MSG and the status will update.",
        "wait",
        False,
        reason_codes=("unknown_outcome",),
    ),
    TriageRule(
        "queued",
        "Queued by 1MSG",
        "1MSG queued the card without a message id, so do not send it again: its status settles when 1MSG reports it.",
        "wait",
        False,
        reason_codes=("queued",),
    ),
    TriageRule(
        "upstream",
        "WhatsApp or 1MSG had a temporary problem",
        "A temporary fault on WhatsApp's or 1MSG's side stopped the message, so retry after 1 minute.",
        "retry",
        True,
        retry_after_seconds=MINUTE,
        reason_codes=("upstream_error", "upstream_unavailable"),
        meta_codes=(131000,),
        text_markers=("something went wrong", "service unavailable", "internal error"),
    ),
    TriageRule(
        "template_missing",
        "The template does not exist on the channel",
        "1MSG has no approved template with this name in this language (it may have been "
        "deleted, paused or renamed), so tell an admin to choose an approved template in Settings.",
        "tell_admin",
        False,
        meta_codes=(132001,),
        text_markers=(
            "template is not defined",
            "template name does not exist",
            "no longer among the channel's approved templates",
        ),
    ),
    TriageRule(
        "template_params",
        "The template's parameters do not match it",
        "WhatsApp expected a different number of parameters for this template, so tell an "
        "admin to map every placeholder (header, body and buttons) in Settings.",
        "tell_admin",
        False,
        meta_codes=(132000,),
        text_markers=("number of parameters does not match", "map every placeholder"),
    ),
    TriageRule(
        "template_param_text",
        "A template parameter has text WhatsApp refuses",
        "A parameter held a new line, a tab or more than four spaces in a row, so check the "
        "ticket's customer name and the specialist's details, or tell an admin to map that "
        "placeholder to another field in Settings.",
        "tell_admin",
        False,
        meta_codes=(132018,),
        text_markers=("param text cannot have",),
    ),
    TriageRule(
        "rejected",
        "1MSG rejected the request",
        "1MSG refused the message and sending it again would fail the same way, so tell an admin the reason shown.",
        "tell_admin",
        False,
        reason_codes=("rejected",),
    ),
)

_UNKNOWN_TITLE = "Not delivered"
# Codes that say little by themselves: the error text, when it says more, decides.
GENERIC_CODES = ("", "rejected", "delivery_failed", "upstream_error")


def explain_failure(
    reason_code: str | None, error_text: str | None, meta_code: int | None, *, retry_after_seconds: int | None = None
) -> Triage:
    """Explain a failure; a Retry-After from 1MSG overrides the table's default wait."""
    rule = _match(reason_code, error_text, meta_code)
    raw = _raw(reason_code, error_text, meta_code)
    if rule is None:
        return _unknown(raw)
    wait = retry_after_seconds if retry_after_seconds is not None and rule.retry_helps else rule.retry_after_seconds
    return Triage(
        title=rule.title,
        explanation=rule.explanation,
        retry_helps=rule.retry_helps,
        retry_after_seconds=wait,
        action=rule.action,
        action_label=ACTION_LABELS[rule.action],
        raw=raw,
    )


def _match(reason_code: str | None, error_text: str | None, meta_code: int | None) -> TriageRule | None:
    """Find the rule: Meta code first, then our own specific code, then error text, then
    a generic code."""
    # Most specific first: a client code such as "rejected" often wraps a telling text,
    # while our specific codes come with our own sentence (whose words must not re-match).
    for rule in TRIAGE_TABLE:
        if meta_code is not None and meta_code in rule.meta_codes:
            return rule
    code = (reason_code or "").strip().lower()
    if code not in GENERIC_CODES:
        specific = next((rule for rule in TRIAGE_TABLE if code in rule.reason_codes), None)
        if specific is not None:
            return specific
    text = (error_text or "").lower()
    for rule in TRIAGE_TABLE:
        if text and any(marker in text for marker in rule.text_markers):
            return rule
    code = (reason_code or "").strip().lower()
    return next((rule for rule in TRIAGE_TABLE if code in rule.reason_codes), None)


def _raw(reason_code: str | None, error_text: str | None, meta_code: int | None) -> str | None:
    """Return the reason as given: the text when there is one, else the codes."""
    if error_text and error_text.strip():
        return error_text
    if meta_code is not None:
        return f"WhatsApp error {meta_code}"
    return reason_code or None


def _unknown(raw: str | None) -> Triage:
    """Advice for a reason we have no rule for: show it as given and let the agent retry."""
    explanation = (
        "The message was not delivered for the reason shown exactly as WhatsApp/1MSG gave it; retrying may help."
        if raw
        else "The message was not delivered and no reason was given; retrying may help."
    )
    return Triage(
        title=_UNKNOWN_TITLE,
        explanation=explanation,
        retry_helps=True,
        retry_after_seconds=None,
        action="retry",
        action_label=ACTION_LABELS["retry"],
        raw=raw,
    )


# ----- one sentence per send that did not go: the real cause, then what to do -----

ADVICE = {
    "send_template": "reopen the chat with a template, or wait until the customer writes",
    "check_number": "check the number on the ticket",
    "tell_admin": "tell an admin",
    "none": "nothing needs doing",
}


def wait_text(seconds: int | None) -> str:
    """'1 minute', '5 minutes', '24 hours': the one way a wait is written."""
    if not seconds:
        return "a moment"
    value, unit = (
        (seconds // HOUR, "hour")
        if seconds % HOUR == 0
        else (seconds // MINUTE, "minute")
        if seconds % MINUTE == 0
        else (seconds, "second")
    )
    return f"{value} {unit}{'s' if value != 1 else ''}"


def advice(triage: Triage) -> str:
    """What to do, matching the buttons the timeline offers for this triage."""
    if triage.action in ("retry", "wait"):
        return f"retry after {wait_text(triage.retry_after_seconds)}" if triage.retry_after_seconds else "retry it"
    return ADVICE[triage.action]


def _cause(exc) -> str:
    """The real cause, as 1MSG's answer showed it."""
    status = getattr(exc, "status_code", None)
    causes = {
        "window_closed": "1MSG says the customer's 24-hour window is closed",
        "invalid_recipient": "1MSG says this number cannot receive WhatsApp messages",
        "auth_failed": "1MSG refused our token",
        "rate_limited": "1MSG is rate limiting us" + (f" (HTTP {status})" if status else ""),
        "upstream_unavailable": f"1MSG was unavailable (HTTP {status})" if status else "1MSG could not be reached",
        "circuit_open": "sending is paused because 1MSG failed several times in a row",
    }
    if exc.code in causes:
        return causes[exc.code]
    text = (str(exc) or exc.code).strip().rstrip(".")[:200]
    return f"1MSG refused it ({text})"


def failure_sentence(exc, noun: str = "card") -> tuple[str, str]:
    """(failure code, the one sentence shown in the flash, the timeline and History)."""
    code = exc.code if exc.code in _SEND_CODES else "rejected"
    triage = explain_failure(code, str(exc) if code == "rejected" else None, getattr(exc, "meta_code", None))
    if code == "rejected" and triage.title != _REJECTED_TITLE:
        # 1MSG's words matched a rule of their own (a template error, say): its advice is the one.
        explanation = triage.explanation[:1].lower() + triage.explanation[1:]
        return code, f"{_capital(_cause(exc))}, so the {noun} was not sent: {explanation}"
    return code, f"{_capital(_cause(exc))}, so the {noun} was not sent; {advice(triage)}."


def unknown_sentence(exc, read_timeout: float, noun: str = "card") -> str:
    """The send left us but no usable answer came back: say which way, and not to resend."""
    status = getattr(exc, "status_code", None)
    if status and status >= 500:
        cause = f"1MSG failed with HTTP {status} after the {noun} left us"
    elif status:
        cause = f"1MSG's answer (HTTP {status}) could not be read"
    else:
        cause = f"1MSG did not answer within {read_timeout:g} s"
    return f"{cause}, so it may or may not have gone out; do not send it again while we check with 1MSG."


def queued_sentence(job_id: str, noun: str = "card") -> str:
    return (
        f"1MSG queued the {noun} as job {job_id} without a message id, so do not send it again; "
        "its status settles when 1MSG reports it."
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_REJECTED_TITLE = next(rule.title for rule in TRIAGE_TABLE if rule.key == "rejected")
_SEND_CODES = (
    "window_closed",
    "invalid_recipient",
    "auth_failed",
    "rate_limited",
    "upstream_unavailable",
    "circuit_open",
)
