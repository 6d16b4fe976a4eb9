"""The exactly-once send of a specialist's card, and retries as new attempts."""
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import STATUS_RANK, Handoff, Specialist, Ticket, User, db, utcnow
from onemsg import errors as onemsg_errors
from onemsg.cards import contact_payload
from services import audit, events, settings, status, templates, window
from services.cards import card_for
from services.database import commit_keeping_values
from services.onemsg_gateway import CircuitOpen, client
from services.triage import explain_failure


# What the agent can do about each way a send can fail, in their words.
FAILURE_MESSAGES = {
    "window_closed": "The customer's 24-hour window is closed: ask the customer to write to us first "
                     "(or reopen the chat with a template), then send again.",
    "invalid_recipient": "1MSG says the customer's number cannot receive WhatsApp messages: check the "
                         "number on the ticket.",
    "auth_failed": "The 1MSG channel is misconfigured (token refused): tell an admin.",
    "rate_limited": "1MSG is rate limiting us: try again in {retry_after} s.",
    "upstream_unavailable": "1MSG could not be reached, so nothing was sent: try again in a minute.",
    "circuit_open": "1MSG has been failing; sending is paused for {retry_after} s to let it recover.",
    "unknown_outcome": "1MSG did not answer in time, so we cannot tell whether the card went out. "
                       "It is being checked; do not send again until this settles.",
    "rejected": "1MSG refused the message: {detail}",
    "intro_failed": "The introduction text could not be sent, so the card was not sent: {detail}",
    "specialist_inactive": "This specialist is no longer active in the directory: pick another one.",
    "ticket_closed": "The ticket is closed: reopen it before handing the customer off.",
    "no_template": "No template is chosen for reopening chats: ask an admin to pick one in Settings.",
    "not_retryable": "Only a failed attempt can be retried.",
}


class HandoffConflict(Exception):
    """The same idempotency key was used with different parameters."""


@dataclass
class SendOutcome:
    handoff: Handoff
    created: bool  # False: an earlier request with the same key already did this


def fingerprint(ticket_id: int, specialist_id: int, kind: str, retry_of_id: int | None) -> str:
    raw = f"{ticket_id}:{specialist_id}:{kind}:{retry_of_id or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def recent_duplicate(ticket: Ticket, specialist: Specialist, key: str = "") -> Handoff | None:
    """A card for the same specialist and ticket sent a short while ago (not failed, other key)."""
    since = utcnow() - timedelta(minutes=current_app.config["RESEND_CONFIRM_MINUTES"])
    return db.session.scalar(select(Handoff).where(
        Handoff.ticket_id == ticket.id, Handoff.specialist_id == specialist.id,
        Handoff.kind == "card", Handoff.created_at >= since, Handoff.status != "failed",
        Handoff.idempotency_key != key,
    ).order_by(Handoff.id.desc()).limit(1))


def send_card(ticket: Ticket, specialist: Specialist, agent: User | None, key: str, *,
              intro_text: str | None = None, retry_of: Handoff | None = None,
              actor_label: str | None = None) -> SendOutcome:
    """Send the card once per key: check the window, record the attempt, call 1MSG."""
    blocked = _blocked_reason(ticket, specialist)
    card, phone = contact_payload(card_for(specialist)), ticket.customer_phone
    summary = f"card of {specialist.display_name} to {phone} for ticket {ticket.external_ref}"
    handoff, created = _claim(ticket, specialist, agent, key, intro_text, retry_of, card=card,
                              audit_entry=("handoff.send", summary, actor_label))
    if not created:
        return SendOutcome(handoff, False)
    if blocked:
        _fail(handoff, blocked, FAILURE_MESSAGES[blocked])
    else:
        # The attempt is committed and no transaction is open while 1MSG answers.
        _record_answer(handoff, call_onemsg(phone, intro_text or None, card))
    commit_keeping_values()
    return SendOutcome(handoff, True)


def send_template(ticket: Ticket, specialist: Specialist, agent: User | None, key: str, *,
                  card_on_reply: bool = False, retry_of: Handoff | None = None,
                  actor_label: str | None = None) -> SendOutcome:
    """Reopen the chat with the chosen template (allowed with the window closed)."""
    choice = templates.reopen_choice()
    blocked = "no_template" if choice is None else _blocked_reason(ticket, specialist, check_window=False)
    params = templates.parameters(choice, ticket, specialist) if choice else []
    phone, name = ticket.customer_phone, choice["name"] if choice else None
    summary = f"template {name} to {phone} for ticket {ticket.external_ref}"
    handoff, created = _claim(ticket, specialist, agent, key, None, retry_of, kind="template",
                              template_name=name, card_on_reply=card_on_reply,
                              audit_entry=("handoff.template", summary, actor_label))
    if not created:
        return SendOutcome(handoff, False)
    if blocked:
        _fail(handoff, blocked, FAILURE_MESSAGES[blocked])
    else:
        _record_answer(handoff, _call_template(phone, choice, params))
    commit_keeping_values()
    return SendOutcome(handoff, True)


def _call_template(phone: str, choice: dict, params: list[str]) -> "OneMsgAnswer":
    try:
        return OneMsgAnswer(message_id=templates.send(phone, choice, params).id)
    except onemsg_errors.OneMsgError as exc:
        return OneMsgAnswer(error=exc)


def retry(failed: Handoff, agent: User | None, key: str) -> SendOutcome:
    """A new attempt linked to the failed one (never a reset), under the same rules."""
    if failed.status != "failed":
        raise HandoffConflict(FAILURE_MESSAGES["not_retryable"])
    if failed.kind == "template":
        return send_template(failed.ticket, failed.specialist, agent, key,
                             card_on_reply=failed.card_on_reply, retry_of=failed)
    return send_card(failed.ticket, failed.specialist, agent, key, intro_text=failed.intro_text,
                     retry_of=failed)


def send_cards_after_replies() -> int:
    """Send the card for reopened chats whose customer has now answered (worker job)."""
    waiting = db.session.scalars(select(Handoff).where(
        Handoff.kind == "template", Handoff.card_on_reply.is_(True), Handoff.follow_up_id.is_(None),
        Handoff.status.in_(("accepted", "sent", "delivered", "read")))).all()
    sent = 0
    for template in waiting:
        state = window.session_window(template.customer_phone, lookup=False)
        # 1MSG gives message times in whole seconds: allow for the truncation.
        if not state.is_open or state.last_inbound_at < template.created_at - timedelta(seconds=1):
            continue
        outcome = send_card(template.ticket, template.specialist, template.agent, f"after-reply-{template.id}",
                            intro_text=settings.get("intro_text"),
                            actor_label="automatic, after the customer answered")
        template.follow_up_id = outcome.handoff.id
        db.session.commit()
        sent += 1
    return sent


def find_by_key(key: str) -> Handoff | None:
    return db.session.scalar(select(Handoff).where(Handoff.idempotency_key == key))


def _claim(ticket, specialist, agent, key, intro_text, retry_of, *, kind: str = "card",
           card: dict | None = None, audit_entry: tuple, **extra) -> tuple[Handoff, bool]:
    """Commit the attempt (and its audit entry) before any call to 1MSG; the unique key stops a second."""
    fp = fingerprint(ticket.id, specialist.id, kind, retry_of.id if retry_of else None)
    handoff = Handoff(
        kind=kind, ticket_id=ticket.id, specialist_id=specialist.id,
        agent_id=agent.id if agent else None, idempotency_key=key, request_fingerprint=fp,
        retry_of_id=retry_of.id if retry_of else None, customer_phone=ticket.customer_phone,
        card_snapshot=card or contact_payload(card_for(specialist)), intro_text=intro_text or None,
        status="sending", status_rank=0, ready_at=ticket.ready_at, **extra,
    )
    db.session.add(handoff)
    try:
        db.session.flush()
        action, summary, label = audit_entry
        audit.record(action, "handoff", handoff.id, actor=agent, label=label, summary=summary,
                     after={"ticket": ticket.external_ref, "specialist_id": specialist.id,
                            "customer_phone": ticket.customer_phone, "kind": kind})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(Handoff).where(Handoff.idempotency_key == key))
        if existing is None:
            raise
        if existing.request_fingerprint != fp:
            raise HandoffConflict("This idempotency key was already used for a different handoff.")
        return existing, False
    return handoff, True


def _blocked_reason(ticket: Ticket, specialist: Specialist, *, check_window: bool = True) -> str | None:
    """Our own checks at the moment of sending; 1MSG's answer still has the last word."""
    if not specialist.active:
        return "specialist_inactive"
    if ticket.status == "closed":
        return "ticket_closed"
    state = window.session_window(ticket.customer_phone) if check_window else None
    # When 1MSG could not be asked, do not guess "closed": its answer to the send decides.
    if state is not None and not state.is_open and state.source != "unchecked":
        return "window_closed"
    return None


@dataclass
class OneMsgAnswer:
    intro_id: str | None = None
    message_id: str | None = None
    error: onemsg_errors.OneMsgError | None = None
    intro_failed: bool = False


def call_onemsg(phone: str, intro_text: str | None, card: dict) -> OneMsgAnswer:
    """Introduction (if any), then the card. HTTP only: no database work in here."""
    api, answer = client(), OneMsgAnswer()
    if intro_text:
        try:
            answer.intro_id = api.send_message(phone, intro_text).id
        except onemsg_errors.OneMsgError as exc:
            # An unknown intro outcome is settled like an unknown card; any other error stops here.
            # A paused breaker is reported as itself: nothing went out, intro or card.
            answer.error, answer.intro_failed = exc, not isinstance(exc, (onemsg_errors.UnknownOutcome, CircuitOpen))
            return answer
    try:
        answer.message_id = api.send_contact(phone, card).id
    except onemsg_errors.OneMsgError as exc:
        answer.error = exc
    return answer


def _record_answer(handoff: Handoff, answer: OneMsgAnswer) -> None:
    handoff.intro_message_id = answer.intro_id
    if answer.message_id:
        _accept(handoff, answer.message_id)
    elif isinstance(answer.error, onemsg_errors.UnknownOutcome):
        _mark_unknown(handoff, str(answer.error))
    else:
        _fail_from_error(handoff, answer.error, intro=answer.intro_failed)
    if answer.intro_id:
        db.session.flush()
        status.apply_pending(answer.intro_id)  # the introduction's early statuses become known


def _accept(handoff: Handoff, message_id: str) -> None:
    now = utcnow()
    handoff.message_id = message_id
    handoff.status, handoff.status_rank, handoff.accepted_at = "accepted", STATUS_RANK["accepted"], now
    db.session.flush()
    events.record_handoff_event(handoff.id, "accepted")
    status.apply_pending(message_id)


def _mark_unknown(handoff: Handoff, detail: str) -> None:
    current_app.logger.warning("handoff %s: outcome unknown (%s)", handoff.id, detail)
    handoff.status, handoff.status_rank = "unknown", STATUS_RANK["unknown"]
    handoff.failure_code = "unknown_outcome"
    handoff.failure_reason = FAILURE_MESSAGES["unknown_outcome"]
    db.session.flush()
    events.record_handoff_event(handoff.id, "unknown")


def _fail_from_error(handoff: Handoff, exc: onemsg_errors.OneMsgError, *, intro: bool = False) -> None:
    code = exc.code if exc.code in FAILURE_MESSAGES else "rejected"
    detail = str(exc) or exc.code
    message = FAILURE_MESSAGES[code].format(retry_after=int(getattr(exc, "retry_after", 0) or 30),
                                            detail=detail)
    if intro:
        code, message = "intro_failed", FAILURE_MESSAGES["intro_failed"].format(detail=message)
    _fail(handoff, code, message, meta_code=getattr(exc, "meta_code", None), raw=detail)


def _fail(handoff: Handoff, code: str, message: str, *, meta_code=None, raw: str | None = None) -> None:
    handoff.status, handoff.status_rank, handoff.failed_at = "failed", STATUS_RANK["failed"], utcnow()
    handoff.failure_code, handoff.failure_reason, handoff.failure_meta_code = code, message, meta_code
    if raw and raw not in message:
        handoff.failure_reason = f"{message} (1MSG: {raw})"
    db.session.flush()
    events.record_handoff_event(handoff.id, "failed")


def triage_for(handoff: Handoff):
    """What a failure (or an unsettled send) means and what the agent can do about it."""
    if handoff.status not in ("failed", "unknown") and not handoff.failed_at:
        return None
    return explain_failure(handoff.failure_code, handoff.failure_reason, handoff.failure_meta_code)


def attempts_for(ticket: Ticket) -> list[Handoff]:
    """Every handoff of a ticket, newest first."""
    return db.session.scalars(select(Handoff).where(Handoff.ticket_id == ticket.id)
                              .order_by(Handoff.id.desc())).all()
