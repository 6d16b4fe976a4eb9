"""Settling handoffs whose status did not arrive: ask 1MSG, outside the webhook path."""

from dataclasses import dataclass, field
from datetime import UTC, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from models import Handoff, db, utcnow
from onemsg.errors import OneMsgError
from onemsg.webhooks import WebhookFormatError, parse_payload
from services import events
from services import status as status_service
from services.onemsg_gateway import client

# Our outgoing card as 1MSG's chat history shows it.
CARD_MESSAGE_TYPES = ("contacts", "contact", "vcard")
NOT_SENT_REASON = "1MSG has no record of this card, so it was not sent; you can send it again."


@dataclass
class ReconcileReport:
    checked: int = 0
    settled: int = 0
    stuck: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"checked {self.checked}, settled {self.settled}, newly stuck {self.stuck}"
        return text + (f", errors: {'; '.join(self.errors)}" if self.errors else "")


def due_for_check(limit: int = 50) -> list[Handoff]:
    """Handoffs with no news for a while, at most one check per interval each."""
    config = current_app.config
    now = utcnow()
    quiet = now - timedelta(seconds=config["RECONCILE_AFTER_SECONDS"])
    # A row still "sending" after the client's longest wait means the process died mid-send.
    abandoned = now - timedelta(seconds=config["ONEMSG_CONNECT_TIMEOUT"] + config["ONEMSG_READ_TIMEOUT"] + 30)
    not_checked_lately = or_(Handoff.last_checked_at.is_(None), Handoff.last_checked_at < quiet)
    statement = (
        select(Handoff)
        .where(
            not_checked_lately,
            or_(
                and_(Handoff.status.in_(("accepted", "sent")), Handoff.accepted_at < quiet),
                and_(
                    Handoff.status == "delivered",
                    Handoff.delivered_at < quiet,
                    Handoff.read_at.is_(None),
                    Handoff.accepted_at > now - timedelta(hours=24),
                ),
                Handoff.status.in_(("unknown", "queued")),
                and_(Handoff.status == "sending", Handoff.created_at < abandoned),
            ),
        )
        .order_by(Handoff.id)
        .limit(limit)
    )
    return db.session.scalars(statement).all()


def reconcile(limit: int = 50) -> ReconcileReport:
    """One pass: check what is due, then flag what is stuck. Safe to run from cron."""
    report = ReconcileReport()
    for handoff in due_for_check(limit):
        report.checked += 1
        try:
            if settle(handoff):
                report.settled += 1
        except OneMsgError as exc:
            report.errors.append(f"handoff {handoff.id}: {exc.code}")
        handoff.last_checked_at = utcnow()
        db.session.commit()
    report.stuck = mark_stuck()
    db.session.commit()
    return report


def settle(handoff: Handoff) -> bool:
    """Ask 1MSG what became of this handoff; True when something changed."""
    before = handoff.status
    if handoff.message_id:
        if not _apply_hook_info(handoff.message_id):
            _without_hook_info(handoff)
    else:
        _find_unknown_card(handoff)
    db.session.flush()
    db.session.refresh(handoff)
    return handoff.status != before


def _apply_hook_info(message_id: str) -> bool:
    """Apply what hookInfo knows; False when the channel has no hookInfo (newer 1MSG: 404)."""
    try:
        hooks = client().hook_info(message_id)
    except OneMsgError as exc:
        if exc.status_code == 404:
            return False
        raise
    try:
        parsed = parse_payload({"hooks": [h for h in hooks if isinstance(h, dict)]})
    except WebhookFormatError as exc:
        current_app.logger.warning("hookInfo for %s was not understood: %s", message_id, exc)
        return True
    # Existing unapplied rows of this message are applied too, not skipped as duplicates.
    status_service.record_statuses(parsed.statuses)
    return True


def _without_hook_info(handoff: Handoff) -> None:
    """No hookInfo: GET messages?msgId= shows whether 1MSG holds the message, but no status.

    So a handoff still without news is marked "status not confirmed", and the agent is told
    what to do, instead of waiting for the stuck flag.
    """
    found = client().message(handoff.message_id)
    if handoff.status in ("accepted", "sent") and handoff.unconfirmed_at is None:
        handoff.unconfirmed_at = handoff.updated_at = utcnow()
        current_app.logger.info(
            "handoff %s: status not confirmed (no hookInfo; 1MSG %s the message)",
            handoff.id,
            "lists" if found else "does not list",
        )


def _find_unknown_card(handoff: Handoff) -> None:
    """An unknown outcome has no message id: look for our card in 1MSG's chat history."""
    history = client().messages(handoff.customer_phone.lstrip("+") + "@c.us", last=True, limit=50)
    since = handoff.created_at.replace(tzinfo=UTC).timestamp() - 5
    taken = set(
        db.session.scalars(
            select(Handoff.message_id).where(
                Handoff.message_id.is_not(None), Handoff.customer_phone == handoff.customer_phone
            )
        )
    )
    for message in history:
        if (
            message.get("type") in CARD_MESSAGE_TYPES
            and message.get("fromMe") in (True, 1, "1")
            and int(message.get("time") or 0) >= since
            and message.get("id") not in taken
        ):
            _settle_as_accepted(handoff, message["id"])
            return
    # A queued job may still go out: give it as long as a stuck card before calling it not sent.
    minutes = current_app.config["STUCK_AFTER_MINUTES"] if handoff.status == "queued" else 2
    if handoff.status == "sending" or handoff.created_at < utcnow() - timedelta(minutes=minutes):
        _settle_as_not_sent(handoff)


def _settle_as_accepted(handoff: Handoff, message_id: str) -> None:
    handoff.message_id = message_id
    handoff.settle("accepted")
    handoff.failure_code = handoff.failure_reason = None
    db.session.flush()
    events.record_handoff_event(handoff.id, "accepted")
    status_service.apply_pending(message_id)
    _apply_hook_info(message_id)  # without hookInfo, the next pass marks it "not confirmed"


def _settle_as_not_sent(handoff: Handoff) -> None:
    handoff.settle("failed")
    handoff.failure_code, handoff.failure_reason = "not_sent", NOT_SENT_REASON
    events.record_handoff_event(handoff.id, "failed")


def mark_stuck() -> int:
    """Flag handoffs accepted long ago but still not delivered, for the leads' view."""
    limit = utcnow() - timedelta(minutes=current_app.config["STUCK_AFTER_MINUTES"])
    stuck = (
        db.session.execute(
            update(Handoff)
            .where(
                Handoff.status.in_(("accepted", "sent")),
                Handoff.accepted_at < limit,
                Handoff.stuck_at.is_(None),
            )
            .values(stuck_at=utcnow(), updated_at=utcnow())
            .returning(Handoff.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    for handoff_id in stuck:
        events.record_handoff_event(handoff_id, "stuck")
    return len(stuck)
