"""Rules every send path obeys (form, API, retry, template follow-up), checked while the
customer's number is locked, so two requests at once cannot both slip past them."""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select, text

from models import Handoff, Ticket, User, db, utcnow

# Anything not failed may still reach the customer; a failure after 1MSG took it did reach them.
MAY_HAVE_REACHED = or_(Handoff.status != "failed", Handoff.message_id.is_not(None))


class SecondCardNeedsConfirmation(Exception):
    """Another specialist's card for this ticket was already sent or is pending."""

    def __init__(self, earlier: Handoff, specialist_name: str):
        self.earlier = earlier
        self.specialist_name = specialist_name
        super().__init__(f"{describe(earlier)}: confirm that the customer should also get {specialist_name}'s card.")


class CustomerCapReached(Exception):
    """This customer already got the most cards allowed in the cap's period."""

    def __init__(self, cap: int, minutes: int, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            f"This customer already got {cap} cards in the last {minutes} minutes, "
            f"so nothing was sent; try again in {max(1, round(retry_after / 60))} "
            "min or ask a lead to override the limit."
        )


class SpecialistUnavailableNeedsConfirmation(Exception):
    """The specialist is off, on leave or at their day's capacity: the sender must say "send anyway"."""

    def __init__(self, specialist_name: str, reason: str, text: str, load_text: str):
        self.reason, self.text, self.load_text = reason, text, load_text
        super().__init__(
            f"{specialist_name} is {UNAVAILABLE_WORDS[reason]} ({text}; {load_text}): "
            "confirm that the customer should get this card anyway."
        )


UNAVAILABLE_WORDS = {"off_hours": "off work now", "on_leave": "on leave", "over_capacity": "at today's capacity"}


def check_available(specialist, confirmed: str | None, *, ask: bool = True) -> "Unavailable | None":
    """Why this specialist cannot answer now (to record), refusing unless `confirmed` names that reason.

    `ask=False` (a card following a template, whose sender confirmed then) only records it."""
    # Imported here to break a cycle: services.specialist_board imports MAY_HAVE_REACHED from this module.
    from services import specialist_board

    now = specialist_board.one(specialist)
    reason = now.unavailable_reason
    if reason is None:
        return None
    if ask and confirmed != reason:
        raise SpecialistUnavailableNeedsConfirmation(
            specialist.display_name, reason, now.availability.text, now.load_text
        )
    return Unavailable(reason, now.availability.text, now.load_text)


@dataclass(frozen=True)
class Unavailable:
    """What the handoff and its audit entry record about a specialist who could not answer."""

    reason: str  # off_hours, on_leave or over_capacity
    text: str
    load_text: str

    def audit(self) -> dict:
        return {"unavailable_reason": self.reason, "availability": self.text, "load": self.load_text}


def lock_customer(phone: str) -> None:
    """Serialise sends to one number until the transaction ends (SQLite: BEGIN IMMEDIATE does)."""
    _advisory_lock(f"customer:{phone}")


def lock_specialist(specialist) -> None:
    """Serialise the cards of a specialist with a daily capacity, so that two customers' sends
    cannot both read "one place left" (taken after the customer's lock, always in that order)."""
    if specialist.daily_capacity is not None:
        _advisory_lock(f"specialist:{specialist.id}")


def _advisory_lock(key: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def describe(earlier: Handoff) -> str:
    """The card already sent or pending, named, for the confirmation."""
    name = earlier.specialist_name or earlier.specialist.display_name
    at = earlier.created_at.strftime("%H:%M")
    if earlier.kind == "template":
        return f"{name}'s card goes automatically when the customer answers the template sent at {at} UTC"
    return f"{name}'s card was already sent to this customer at {at} UTC (status: {earlier.status})"


def other_card(ticket: Ticket, specialist_id: int, *, before_id: int | None = None) -> Handoff | None:
    """The newest card of another specialist sent (or pending as a follow-up) for this ticket."""
    pending_follow_up = (
        (Handoff.kind == "template")
        & Handoff.card_on_reply.is_(True)
        & Handoff.follow_up_id.is_(None)
        & (Handoff.status != "failed")
    )
    statement = select(Handoff).where(
        Handoff.ticket_id == ticket.id,
        Handoff.specialist_id != specialist_id,
        or_((Handoff.kind == "card") & MAY_HAVE_REACHED, pending_follow_up),
    )
    if before_id is not None:
        statement = statement.where(Handoff.id < before_id)
    return db.session.scalar(statement.order_by(Handoff.id.desc()).limit(1))


def check_second_card(ticket: Ticket, specialist, confirmed_over: int | None, *, before_id: int | None = None) -> None:
    """Refuse a second specialist's card unless the confirmation names the card already there."""
    earlier = other_card(ticket, specialist.id, before_id=before_id)
    if earlier is not None and earlier.id != confirmed_over:
        raise SecondCardNeedsConfirmation(earlier, specialist.display_name)


def check_customer_cap(phone: str, agent: User | None, override: bool) -> None:
    """At most CUSTOMER_CARD_CAP cards to one number per CUSTOMER_CARD_CAP_MINUTES, unless a lead overrides."""
    if override and agent is not None and agent.role in ("lead", "admin"):
        return
    config = current_app.config
    cap, minutes = config["CUSTOMER_CARD_CAP"], config["CUSTOMER_CARD_CAP_MINUTES"]
    since = utcnow() - timedelta(minutes=minutes)
    count, oldest = db.session.execute(
        select(func.count(), func.min(Handoff.created_at)).where(
            Handoff.customer_phone == phone, Handoff.kind == "card", Handoff.created_at >= since, MAY_HAVE_REACHED
        )
    ).one()
    if count >= cap:
        retry_after = int((oldest - since).total_seconds()) + 1
        raise CustomerCapReached(cap, minutes, retry_after)
