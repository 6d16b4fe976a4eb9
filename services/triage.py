"""Failure triage: turn a send/delivery failure into words and a next step for an agent.

Inputs come from three places: our 1MSG client's error codes (e.g. "window_closed"), Meta
error codes carried by raw webhooks (e.g. 131047), and the plain-text errors 1MSG puts in
`sent: false` answers and failed acks (e.g. "Dialog window is closed").
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACTIONS", "ACTION_LABELS", "TRIAGE_TABLE", "Triage", "TriageRule", "explain_failure"]

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
        "window_closed", "Customer's 24-hour window is closed",
        "WhatsApp only lets us send a normal message within 24 hours of the customer's last "
        "message. Send an approved template instead, or wait until the customer writes again.",
        "send_template", False,
        reason_codes=("window_closed",), meta_codes=(131047,),
        text_markers=("dialog window is closed", "window is closed", "re-engagement",
                      "24 hours have passed", "outside the allowed window")),
    TriageRule(
        "invalid_recipient", "The number cannot receive WhatsApp",
        "WhatsApp could not deliver to this number: it may be mistyped, not on WhatsApp, or "
        "unable to receive this kind of message. Check the number with the customer.",
        "check_number", False,
        reason_codes=("invalid_recipient",), meta_codes=(131026, 131021),
        text_markers=("message undeliverable", "undeliverable", "not a valid whatsapp",
                      "invalid phone", "not on whatsapp", "recipient cannot be sender")),
    TriageRule(
        "ecosystem_hold", "Held back by WhatsApp",
        "WhatsApp held the message back to protect the customer from too many business "
        "messages. Sending again now will fail too; try again tomorrow.",
        "wait", True, retry_after_seconds=24 * HOUR,
        meta_codes=(131049,), text_markers=("ecosystem",)),
    TriageRule(
        "experiment", "Customer is in a WhatsApp experiment",
        "WhatsApp is running an experiment on this customer's number and did not deliver the "
        "message. Try again later, or reach the customer another way meanwhile.",
        "wait", True, retry_after_seconds=24 * HOUR,
        meta_codes=(130472,), text_markers=("part of an experiment",)),
    TriageRule(
        "pair_rate_limit", "Too many messages to this customer",
        "We sent this customer too many messages in a short time. Wait a few minutes, then "
        "retry.",
        "wait", True, retry_after_seconds=5 * MINUTE,
        meta_codes=(131056,), text_markers=("pair rate limit",)),
    TriageRule(
        "rate_limited", "Sending too fast",
        "WhatsApp or 1MSG asked us to slow down. Wait a minute, then retry.",
        "wait", True, retry_after_seconds=MINUTE,
        reason_codes=("rate_limited",), meta_codes=(130429, 131048, 4, 80007),
        text_markers=("rate limit", "too many requests", "too many messages", "throttl")),
    TriageRule(
        "auth_failed", "1MSG refused our credentials",
        "The 1MSG token or channel is wrong or expired, so nothing can be sent until an "
        "administrator fixes the settings.",
        "tell_admin", False,
        reason_codes=("auth_failed",), meta_codes=(190, 0),
        text_markers=("invalid token", "wrong token", "unauthorized", "access token")),
    TriageRule(
        "circuit_open", "Sending paused after repeated 1MSG errors",
        "1MSG failed several times in a row, so we paused sending for a short while. Retry in "
        "a minute; if it keeps happening, tell an administrator.",
        "wait", True, retry_after_seconds=MINUTE, reason_codes=("circuit_open",)),
    TriageRule(
        "unknown_outcome", "Unknown whether it was sent",
        "1MSG did not answer in time, so the card may or may not have reached the customer. "
        "Do not send again yet: we are checking with 1MSG, and the status will update.",
        "wait", False, reason_codes=("unknown_outcome",)),
    TriageRule(
        "upstream", "WhatsApp or 1MSG had a temporary problem",
        "The message was not sent because of a temporary fault on WhatsApp's or 1MSG's side. "
        "Retrying in a minute usually works.",
        "retry", True, retry_after_seconds=MINUTE,
        reason_codes=("upstream_error", "upstream_unavailable"), meta_codes=(131000,),
        text_markers=("something went wrong", "service unavailable", "internal error")),
    TriageRule(
        "template_missing", "The template does not exist on the channel",
        "1MSG has no approved template with this name in this language (it may have been "
        "deleted, paused or renamed). An administrator must choose an approved template in "
        "Settings; then send it again.",
        "tell_admin", False, meta_codes=(132001,),
        text_markers=("template is not defined", "template name does not exist",
                      "no longer among the channel's approved templates")),
    TriageRule(
        "template_params", "The template's parameters do not match it",
        "WhatsApp expected a different number of parameters for this template. An "
        "administrator must map every placeholder of the template (header, body and buttons) "
        "in Settings; then send it again.",
        "tell_admin", False, meta_codes=(132000,),
        text_markers=("number of parameters does not match", "map every placeholder")),
    TriageRule(
        "template_param_text", "A template parameter has text WhatsApp refuses",
        "A parameter contained a new line, a tab or more than four spaces in a row. Check the "
        "ticket's customer name and the specialist's details; an administrator may map that "
        "placeholder to another field in Settings.",
        "tell_admin", False, meta_codes=(132018,),
        text_markers=("param text cannot have",)),
    TriageRule(
        "rejected", "1MSG rejected the request",
        "1MSG refused the message as malformed, so sending it again will fail the same way. "
        "An administrator should look at the reason shown.",
        "tell_admin", False, reason_codes=("rejected",)),
)

_UNKNOWN_TITLE = "Not delivered"


def explain_failure(reason_code: str | None, error_text: str | None, meta_code: int | None,
                    *, retry_after_seconds: int | None = None) -> Triage:
    """Explain a failure; a Retry-After from 1MSG overrides the table's default wait."""
    rule = _match(reason_code, error_text, meta_code)
    raw = _raw(reason_code, error_text, meta_code)
    if rule is None:
        return _unknown(raw)
    wait = retry_after_seconds if retry_after_seconds is not None and rule.retry_helps \
        else rule.retry_after_seconds
    return Triage(title=rule.title, explanation=rule.explanation, retry_helps=rule.retry_helps,
                  retry_after_seconds=wait, action=rule.action,
                  action_label=ACTION_LABELS[rule.action], raw=raw)


def _match(reason_code: str | None, error_text: str | None,
           meta_code: int | None) -> TriageRule | None:
    """Find the rule: Meta code first, then error text, then our client's generic code."""
    # Most specific first: a client code such as "rejected" often wraps a telling text.
    for rule in TRIAGE_TABLE:
        if meta_code is not None and meta_code in rule.meta_codes:
            return rule
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
    explanation = ("The message was not delivered. The reason below is shown exactly as "
                   "WhatsApp/1MSG gave it; retrying may help." if raw else
                   "The message was not delivered and no reason was given; retrying may help.")
    return Triage(title=_UNKNOWN_TITLE, explanation=explanation, retry_helps=True,
                  retry_after_seconds=None, action="retry", action_label=ACTION_LABELS["retry"],
                  raw=raw)
