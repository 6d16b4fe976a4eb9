"""The exactly-once send of a specialist's card, the card that follows a template, and retries.

Every path (form, API, retry, the worker's follow-up) goes through `send_card` or
`send_template`, so the rules in services/send_rules.py hold for all of them.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import Handoff, Specialist, Ticket, User, db, utcnow
from onemsg import errors as onemsg_errors
from services import (
    audit,
    availability,
    events,
    reopen_templates,
    send_rules,
    settings,
    specialist_board,
    status,
    window,
)
from services.database import commit_keeping_values
from services.onemsg_gateway import client
from services.send_rules import CustomerCapReached, SecondCardNeedsConfirmation, SpecialistUnavailableNeedsConfirmation  # noqa: F401 (callers' API)
from services.specialist_cards import card_payload
from services.triage import explain_failure, failure_sentence, queued_sentence, unknown_sentence

# In an introduction, replaced at the send by when the specialist is next at work.
NEXT_AVAILABLE = "{next_available}"

# Our own refusals, before anything is sent (one sentence each: cause, then what to do).
BLOCKED_MESSAGES = {
    "window_closed": "The customer's 24-hour window is closed, so nothing was sent; reopen the chat "
    "with a template, or wait until the customer writes.",
    "specialist_inactive": "This specialist is no longer active in the directory, so nothing was sent; "
    "pick another one.",
    "ticket_closed": "The ticket is closed, so nothing was sent; reopen it before handing the customer off.",
    "no_template": "No template is chosen for reopening chats, so nothing was sent; ask an admin to pick "
    "one in Settings.",
}
FAILURE_MESSAGES = {**BLOCKED_MESSAGES, "not_retryable": "Only a failed attempt can be retried."}


class HandoffConflict(Exception):
    """The same idempotency key was used with different parameters."""


@dataclass
class SendOutcome:
    handoff: Handoff
    created: bool  # False: an earlier request with the same key already did this


@dataclass
class Claim:
    """One attempt as it is written before anything goes to 1MSG: what, to whom, by whom, under which key."""

    ticket: Ticket
    specialist: Specialist
    agent: User | None
    key: str
    audit_action: str  # "handoff.send" or "handoff.template"
    audit_summary: str
    actor_label: str | None = None  # who sent it when there is no agent: "the helpdesk API", "automatically"
    kind: str = "card"
    card: dict | None = None  # the card as sent; None: the specialist's card now
    intro_text: str | None = None
    template_name: str | None = None
    card_on_reply: bool = False
    retry_of: Handoff | None = None
    follow_up_of: Handoff | None = None  # the template whose pending card this send is
    detail: str = ""  # what else the key stands for (the typed introduction, card_on_reply)

    @property
    def fingerprint(self) -> str:
        retry_of_id = self.retry_of.id if self.retry_of else None
        return fingerprint(self.ticket.id, self.specialist.id, self.kind, retry_of_id, self.detail)


def fingerprint(ticket_id: int, specialist_id: int, kind: str, retry_of_id: int | None, detail: str = "") -> str:
    """What a key stands for: the same key with any different field is a conflict."""
    raw = f"{ticket_id}:{specialist_id}:{kind}:{retry_of_id or ''}:{detail}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def user_key(agent: User, key: str) -> str:
    """A form's key in its user's own namespace: no one can take another's key (or the worker's)."""
    return f"user:{agent.id}:{key}"


def _recent_card(ticket: Ticket, specialist: Specialist):
    since = utcnow() - timedelta(minutes=current_app.config["RESEND_CONFIRM_MINUTES"])
    return and_(
        Handoff.ticket_id == ticket.id,
        Handoff.specialist_id == specialist.id,
        Handoff.kind == "card",
        Handoff.created_at >= since,
        Handoff.status != "failed",
    )


def recent_duplicate(ticket: Ticket, specialist: Specialist, key: str = "") -> Handoff | None:
    """A card for the same specialist and ticket sent a short while ago (not failed, other key)."""
    return db.session.scalar(
        select(Handoff)
        .where(_recent_card(ticket, specialist), Handoff.idempotency_key != key)
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def key_or_duplicate(ticket: Ticket, specialist: Specialist, key: str) -> tuple[Handoff | None, Handoff | None]:
    """(the handoff this key already made, else None; a recent duplicate under another key, else None),
    in one query: the form's checks before a send, as find_by_key and recent_duplicate."""
    has_key = Handoff.idempotency_key == key
    rows = db.session.scalars(
        select(Handoff)
        .where(or_(has_key, _recent_card(ticket, specialist)))
        .order_by(case((has_key, 0), else_=1), Handoff.id.desc())
        .limit(1)
    ).all()
    if not rows:
        return None, None
    return (rows[0], None) if rows[0].idempotency_key == key else (None, rows[0])


def pending_follow_up(ticket: Ticket) -> Handoff | None:
    """The template whose card still goes by itself when the customer answers, if any."""
    return db.session.scalar(
        select(Handoff)
        .where(
            Handoff.ticket_id == ticket.id,
            Handoff.kind == "template",
            Handoff.card_on_reply.is_(True),
            Handoff.follow_up_id.is_(None),
            Handoff.status != "failed",
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def list_version(ticket: Ticket) -> str:
    """Changes when a handoff of the ticket is added or a pending follow-up goes or is cancelled."""
    count, last = db.session.execute(
        select(func.count(), func.max(Handoff.id)).where(Handoff.ticket_id == ticket.id)
    ).one()
    pending = pending_follow_up(ticket)
    return f"{count}-{last or 0}-{pending.id if pending else 0}"


def send_card(
    ticket: Ticket,
    specialist: Specialist,
    agent: User | None,
    key: str,
    *,
    intro_text: str | None = None,
    retry_of: Handoff | None = None,
    actor_label: str | None = None,
    confirmed_over: int | None = None,
    cap_override: bool = False,
    follow_up_of: Handoff | None = None,
    confirmed_unavailable: str | None = None,
) -> SendOutcome:
    """Send the card once per key: the rules, the window, the attempt recorded, then 1MSG.

    `confirmed_unavailable` is the reason (off_hours, on_leave, over_capacity) the sender was
    shown and accepted; any other reason at the send asks again."""
    blocked = _blocked_reason(ticket, specialist)
    card, phone = card_payload(specialist), ticket.customer_phone
    # Only the worker names the follow-up: nobody is there to ask, so unavailability is only recorded.
    # An agent sending the same card by hand is there, and is asked like on any other send.
    automatic = follow_up_of is not None
    follow_up_of = follow_up_of or _same_specialist_follow_up(ticket, specialist, retry_of)
    detail = intro_text or ""
    if follow_up_of is not None:
        # The pending follow-up and this send are the same card: one key, so only one goes.
        key, detail = f"follow-up-{follow_up_of.id}", ""

    def rules() -> send_rules.Unavailable | None:
        if follow_up_of is None:  # a follow-up passed the rules when its template was sent
            send_rules.check_second_card(ticket, specialist, confirmed_over)
        if blocked:
            return None
        unavailable = send_rules.check_available(specialist, confirmed_unavailable, ask=not automatic)
        send_rules.check_customer_cap(phone, agent, cap_override)
        return unavailable

    summary = f"card of {specialist.display_name} to {phone} for ticket {ticket.external_ref}"
    intro_text = _filled_intro(intro_text, specialist)  # `detail` (the key's fingerprint) keeps what was typed
    claim = Claim(
        ticket,
        specialist,
        agent,
        key,
        "handoff.send",
        summary,
        actor_label,
        card=card,
        intro_text=intro_text,
        retry_of=retry_of,
        follow_up_of=follow_up_of,
        detail=detail,
    )
    claimed = claim_attempt(claim, rules)
    if not claimed.created:
        return claimed
    handoff = claimed.handoff
    if blocked:
        _fail(handoff, blocked, BLOCKED_MESSAGES[blocked])
    else:
        # The attempt is committed and no transaction is open while 1MSG answers.
        _record_answer(handoff, call_onemsg(phone, intro_text or None, card))
    commit_keeping_values()
    status.apply_after_commit(handoff)
    return SendOutcome(handoff, True)


def _filled_intro(text: str | None, specialist: Specialist) -> str | None:
    """The introduction with {next_available} replaced ("now", or "Monday 7 December, 09:00 (Europe/Berlin time)")."""
    if not text or NEXT_AVAILABLE not in text:
        return text
    now = specialist_board.one(specialist)
    return text.replace(NEXT_AVAILABLE, availability.intro_phrase(now.availability, specialist.time_zone))


def _same_specialist_follow_up(ticket: Ticket, specialist: Specialist, retry_of) -> Handoff | None:
    pending = pending_follow_up(ticket) if retry_of is None else None
    return pending if pending is not None and pending.specialist_id == specialist.id else None


def send_template(
    ticket: Ticket,
    specialist: Specialist,
    agent: User | None,
    key: str,
    *,
    card_on_reply: bool = False,
    retry_of: Handoff | None = None,
    actor_label: str | None = None,
    confirmed_over: int | None = None,
    confirmed_unavailable: str | None = None,
) -> SendOutcome:
    """Reopen the chat with the chosen template (allowed with the window closed)."""
    choice = reopen_templates.reopen_choice()
    blocked = "no_template" if choice is None else _blocked_reason(ticket, specialist, check_window=False)
    params = reopen_templates.parameters(choice, ticket, specialist) if choice else []
    phone, name = ticket.customer_phone, choice["name"] if choice else None

    def rules() -> send_rules.Unavailable | None:
        if card_on_reply:  # the card that follows is a card like any other
            send_rules.check_second_card(ticket, specialist, confirmed_over)
            if not blocked:
                return send_rules.check_available(specialist, confirmed_unavailable)
        return None

    summary = f"template {name} to {phone} for ticket {ticket.external_ref}"
    claim = Claim(
        ticket,
        specialist,
        agent,
        key,
        "handoff.template",
        summary,
        actor_label,
        kind="template",
        template_name=name,
        card_on_reply=card_on_reply,
        retry_of=retry_of,
        detail=f"card_on_reply={card_on_reply}",
    )
    claimed = claim_attempt(claim, rules)
    if not claimed.created:
        return claimed
    handoff = claimed.handoff
    if blocked:
        _fail(handoff, blocked, BLOCKED_MESSAGES[blocked])
    else:
        _record_answer(handoff, _call_template(phone, choice, params))
    commit_keeping_values()
    status.apply_after_commit(handoff)
    return SendOutcome(handoff, True)


def _call_template(phone: str, choice: dict, params: list[str]) -> "OneMsgAnswer":
    try:
        return OneMsgAnswer(message_id=reopen_templates.send(phone, choice, params).id)
    except onemsg_errors.OneMsgError as exc:
        return OneMsgAnswer(error=exc)


def retried_by(handoff: Handoff) -> Handoff | None:
    """The attempt that already retried this one, if any."""
    return db.session.scalar(select(Handoff).where(Handoff.retry_of_id == handoff.id).limit(1))


def retry(
    failed: Handoff,
    agent: User | None,
    key: str = "",
    *,
    confirmed_over: int | None = None,
    confirmed_unavailable: str | None = None,
) -> SendOutcome:
    """A new attempt linked to the failed one (never a reset), under the same rules.

    The key is the failed attempt's own: however many people or tabs retry it, one retry goes."""
    if failed.status != "failed":
        raise HandoffConflict(FAILURE_MESSAGES["not_retryable"])
    key = f"retry-of-{failed.id}"
    if failed.kind == "template":
        return send_template(
            failed.ticket,
            failed.specialist,
            agent,
            key,
            confirmed_over=confirmed_over,
            card_on_reply=failed.card_on_reply,
            retry_of=failed,
            confirmed_unavailable=confirmed_unavailable,
        )
    return send_card(
        failed.ticket,
        failed.specialist,
        agent,
        key,
        intro_text=failed.intro_text,
        retry_of=failed,
        confirmed_over=confirmed_over,
        confirmed_unavailable=confirmed_unavailable,
    )


def cancel_follow_up(template: Handoff, agent: User | None) -> bool:
    """Stop the card that would follow a template; False when it already went (or was cancelled)."""
    cancelled = db.session.execute(
        update(Handoff)
        .where(Handoff.id == template.id, Handoff.card_on_reply.is_(True), Handoff.follow_up_id.is_(None))
        .values(card_on_reply=False, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if cancelled:
        audit.record(
            "handoff.follow_up_cancelled",
            "handoff",
            template.id,
            actor=agent,
            summary=f"cancelled the automatic card of {template.specialist_name} "
            f"for ticket {template.ticket.external_ref}",
        )
    db.session.commit()
    return bool(cancelled)


def send_cards_after_replies() -> int:
    """Send the card for reopened chats whose customer has now answered (worker job).

    Each follow-up is handled in its own transaction: one that fails is logged and left for
    the next pass, and never stops the others."""
    waiting = db.session.scalars(
        select(Handoff.id)
        .where(
            Handoff.kind == "template",
            Handoff.card_on_reply.is_(True),
            Handoff.follow_up_id.is_(None),
            Handoff.status.in_(("accepted", "sent", "delivered", "read")),
        )
        .order_by(Handoff.id)
    ).all()
    db.session.commit()
    sent = 0
    for template_id in waiting:
        try:
            sent += _send_follow_up(template_id)
        except Exception:  # noqa: BLE001 - isolate each item; the next pass tries it again
            db.session.rollback()
            current_app.logger.exception("follow-up card of template handoff %s failed", template_id)
    return sent


def _send_follow_up(template_id: int) -> int:
    template = db.session.get(Handoff, template_id)
    if template is None or not template.card_on_reply or template.follow_up_id is not None:
        return 0
    state = window.session_window(template.customer_phone, lookup=False)
    # 1MSG gives message times in whole seconds: allow for the truncation.
    if not state.is_open or state.last_inbound_at < template.created_at - timedelta(seconds=1):
        db.session.commit()
        return 0
    try:
        outcome = send_card(
            template.ticket,
            template.specialist,
            template.agent,
            "",
            follow_up_of=template,
            intro_text=settings.get("intro_text"),
            actor_label="automatic, after the customer answered",
        )
    except CustomerCapReached as exc:
        current_app.logger.info("follow-up of template handoff %s waits: %s", template_id, exc)
        return 0
    return 1 if outcome.created else 0  # else the agent (or another worker) sent it just now


def find_by_key(key: str) -> Handoff | None:
    return db.session.scalar(select(Handoff).where(Handoff.idempotency_key == key))


def claim_attempt(claim: Claim, rules: Callable[[], send_rules.Unavailable | None] | None = None) -> SendOutcome:
    """Commit the attempt (and its audit entry) before any call to 1MSG; the unique key stops a second.

    The customer's number (and a specialist with a capacity) is locked meanwhile, so the rules see
    every earlier send. `rules` raises to refuse the send, or returns why the specialist is unavailable."""
    fp = claim.fingerprint
    try:
        send_rules.lock_customer(claim.ticket.customer_phone)
        send_rules.lock_specialist(claim.specialist)
        existing = find_by_key(claim.key)
        if existing is not None:
            commit_keeping_values()
            return SendOutcome(_replayed(existing, fp), False)
        unavailable = rules() if rules is not None else None
        handoff = _insert(claim, fp, unavailable.reason if unavailable else None)
        if claim.follow_up_of is not None:
            db.session.execute(
                update(Handoff)
                .where(Handoff.id == claim.follow_up_of.id)
                .values(follow_up_id=handoff.id, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        _audit_claim(handoff, claim, unavailable)
        # The attempt, ticket and specialist stay loaded as written and read: the answer from 1MSG
        # is recorded on them without reading them again.
        commit_keeping_values()
    except IntegrityError:
        db.session.rollback()
        existing = find_by_key(claim.key)
        if existing is None:
            raise
        return SendOutcome(_replayed(existing, fp), False)
    except Exception:
        db.session.rollback()
        raise
    return SendOutcome(handoff, True)


def _audit_claim(handoff: Handoff, claim: Claim, unavailable: send_rules.Unavailable | None) -> None:
    """The attempt's audit entry, saying so when the specialist could not answer."""
    ticket, specialist, summary = claim.ticket, claim.specialist, claim.audit_summary
    if unavailable is not None:
        summary += (
            f" although {specialist.display_name} was {send_rules.UNAVAILABLE_WORDS[unavailable.reason]} "
            f"({unavailable.text}; {unavailable.load_text})"
        )
    audit.record(
        claim.audit_action,
        "handoff",
        handoff.id,
        actor=claim.agent,
        label=claim.actor_label,
        summary=summary,
        after={
            "ticket": ticket.external_ref,
            "specialist_id": specialist.id,
            "customer_phone": ticket.customer_phone,
            "kind": handoff.kind,
            **(unavailable.audit() if unavailable else {}),
        },
    )


def _replayed(existing: Handoff, fp: str) -> Handoff:
    if existing.request_fingerprint != fp:
        raise HandoffConflict("This idempotency key was already used for a different handoff.")
    return existing


def _insert(claim: Claim, fp: str, unavailable_reason: str | None) -> Handoff:
    handoff = Handoff(
        kind=claim.kind,
        ticket_id=claim.ticket.id,
        specialist_id=claim.specialist.id,
        agent_id=claim.agent.id if claim.agent else None,
        idempotency_key=claim.key,
        request_fingerprint=fp,
        retry_of_id=claim.retry_of.id if claim.retry_of else None,
        customer_phone=claim.ticket.customer_phone,
        card_snapshot=claim.card or card_payload(claim.specialist),
        intro_text=claim.intro_text or None,
        template_name=claim.template_name,
        card_on_reply=claim.card_on_reply,
        unavailable_reason=unavailable_reason,
        status="sending",
        status_rank=0,
        ready_at=claim.ticket.ready_at,
    )
    db.session.add(handoff)
    db.session.flush()
    return handoff


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
    intro_error: onemsg_errors.OneMsgError | None = None


def call_onemsg(phone: str, intro_text: str | None, card: dict) -> OneMsgAnswer:
    """The card, then (only once 1MSG accepted it) the introduction. HTTP only: no database work.

    The order is what keeps a customer from getting an introduction without its card: a card
    that is refused, queued or unanswered stops here."""
    api, answer = client(), OneMsgAnswer()
    try:
        answer.message_id = api.send_contact(phone, card).id
    except onemsg_errors.OneMsgError as exc:
        answer.error = exc
        return answer
    if intro_text:
        try:
            answer.intro_id = api.send_message(phone, intro_text).id
        except onemsg_errors.OneMsgError as exc:
            answer.intro_error = exc  # the card is out; a missing introduction is only noted
    return answer


def _record_answer(handoff: Handoff, answer: OneMsgAnswer) -> None:
    handoff.intro_message_id = answer.intro_id
    error, noun = answer.error, handoff.kind
    if answer.message_id:
        _accept(handoff, answer.message_id)
    elif isinstance(error, onemsg_errors.Rejected) and error.job_id:
        _mark_unsettled(handoff, "queued", queued_sentence(error.job_id, noun))
    elif isinstance(error, onemsg_errors.UnknownOutcome):
        timeout = current_app.config["ONEMSG_READ_TIMEOUT"]
        _mark_unsettled(handoff, "unknown", unknown_sentence(error, timeout, noun))
    else:
        code, sentence = failure_sentence(error, noun)
        _fail(handoff, code, sentence, meta_code=getattr(error, "meta_code", None))
    if answer.intro_error is not None:
        current_app.logger.warning(
            "handoff %s: card accepted, introduction not sent (%s)", handoff.id, answer.intro_error.code
        )
    if answer.intro_id:
        db.session.flush()
        status.apply_pending(answer.intro_id)  # the introduction's early statuses become known


def _accept(handoff: Handoff, message_id: str) -> None:
    handoff.message_id = message_id
    handoff.settle("accepted")
    db.session.flush()
    events.record_handoff_event(handoff.id, "accepted")
    if status.apply_pending(message_id):
        db.session.refresh(handoff)  # statuses that beat 1MSG's answer moved the row past "accepted"


def _mark_unsettled(handoff: Handoff, state: str, sentence: str) -> None:
    """No message id yet: reconciliation settles it; sending again could duplicate it."""
    current_app.logger.warning("handoff %s: %s", handoff.id, state)
    handoff.settle(state)
    handoff.failure_code = "unknown_outcome" if state == "unknown" else "queued"
    handoff.failure_reason = sentence
    db.session.flush()
    events.record_handoff_event(handoff.id, "unknown")


def _fail(handoff: Handoff, code: str, message: str, *, meta_code=None) -> None:
    handoff.settle("failed")
    handoff.failure_code, handoff.failure_reason, handoff.failure_meta_code = code, message, meta_code
    db.session.flush()
    events.record_handoff_event(handoff.id, "failed")


@dataclass(frozen=True)
class FailureView:
    """A failure (or an unsettled send) as the timeline shows it: one sentence, the buttons."""

    title: str
    explanation: str  # the one sentence: the real cause, then what to do
    raw: str | None  # 1MSG's own words, when the sentence is ours and not theirs
    action: str
    action_label: str
    retry_helps: bool
    retry_after_seconds: int | None
    retry_from: datetime | None  # Retry is offered from this time (the advice's wait)
    retried: Handoff | None  # the attempt that already retried this one

    @property
    def retry_now(self) -> bool:
        return self.retry_from is not None and self.retried is None and self.retry_from <= utcnow()

    @property
    def retry_later(self) -> bool:
        return self.retry_from is not None and self.retried is None and self.retry_from > utcnow()


def triage_for(handoff: Handoff) -> FailureView | None:
    """What a failure (or an unsettled send) means and what the agent can do about it."""
    if handoff.status not in ("failed", "unknown", "queued") and not handoff.failed_at:
        return None
    triage = explain_failure(handoff.failure_code, handoff.failure_reason, handoff.failure_meta_code)
    # Our send path writes one sentence of its own; a delivery failure carries 1MSG's words.
    ours = handoff.failure_code not in (None, "delivery_failed")
    sentence = handoff.failure_reason if ours and handoff.failure_reason else triage.explanation
    raw = None if ours else triage.raw
    offers_retry = handoff.status == "failed" and triage.action in ("retry", "wait") and triage.retry_helps
    retry_from = None
    if offers_retry:
        retry_from = (handoff.failed_at or utcnow()) + timedelta(seconds=triage.retry_after_seconds or 0)
    return FailureView(
        triage.title,
        sentence,
        raw,
        triage.action,
        triage.action_label,
        triage.retry_helps,
        triage.retry_after_seconds,
        retry_from,
        retried_by(handoff) if offers_retry else None,
    )


def attempts_for(ticket: Ticket) -> list[Handoff]:
    """Every handoff of a ticket, newest first."""
    return db.session.scalars(select(Handoff).where(Handoff.ticket_id == ticket.id).order_by(Handoff.id.desc())).all()
