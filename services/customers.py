"""Who wrote to us: a phone (`@c.us`), a user known only by a BSUID (`@lid`), or a group (`@g.us`).

An `@lid` user's id is never read as a phone number. When an ack or a message carries both a
BSUID and a phone, the link is kept (CustomerLink); the user's messages then open the window
of that phone, including a message that came before the link was known. Group chats are not
customers: their bodies are stored with the webhook, and they open no window.
"""
from datetime import datetime
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import CustomerLink, db, utcnow
from onemsg.webhooks import InboundMessage, ParsedWebhook

RecordInbound = Callable[..., bool]


def learn_links(parsed: ParsedWebhook, record_inbound: RecordInbound) -> None:
    """Keep every (BSUID, phone) pair the body carries; a waiting message then opens the window."""
    pairs = [(s.bsuid, s.recipient) for s in parsed.statuses if s.bsuid and s.recipient]
    pairs += [(m.bsuid, m.chat_phone) for m in parsed.messages if m.bsuid and m.chat_phone]
    for bsuid, digits in dict(pairs).items():
        waiting = link(bsuid, "+" + digits)
        if waiting is not None:
            message_id, sent_at = waiting
            record_inbound(message_id, "+" + digits, sent_at)


def link(bsuid: str, phone: str) -> tuple[str, datetime] | None:
    """Link a BSUID to a phone; returns the user's waiting (message id, time), if any.

    One statement (acks carry a bsuid on every item): insert the link, or fill in the phone
    of a BSUID that had none; a link already known is left as it is and returns nothing.
    """
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(CustomerLink).values(bsuid=bsuid, customer_phone=phone, updated_at=utcnow())
    statement = statement.on_conflict_do_update(
        index_elements=[CustomerLink.bsuid],
        set_={"customer_phone": statement.excluded.customer_phone, "updated_at": utcnow()},
        where=CustomerLink.customer_phone.is_(None),
    ).returning(CustomerLink.last_message_id, CustomerLink.last_message_at)
    row = db.session.execute(statement).first()
    if row is None or not row.last_message_id or row.last_message_at is None:
        return None
    return row.last_message_id, row.last_message_at


def customer_phone(message: InboundMessage) -> str | None:
    """The E.164 phone whose window this customer message opens, or None (group, unknown @lid)."""
    if message.chat_kind == "phone":
        return "+" + message.chat_phone if message.chat_phone else None
    if message.chat_kind != "lid" or not message.bsuid:
        return None
    _insert_ignoring_duplicates(message.bsuid)
    row = db.session.scalar(select(CustomerLink).where(CustomerLink.bsuid == message.bsuid))
    if row.customer_phone:
        return row.customer_phone
    # No phone yet: remember the latest message, so the window opens when the link is learnt.
    # "Still no phone" is checked again in the UPDATE itself: a link committed since our read
    # (or one that waits on our row lock) must not miss this message.
    sent_at = _naive(message.sent_at)
    remembered = db.session.execute(update(CustomerLink).where(
        CustomerLink.id == row.id, CustomerLink.customer_phone.is_(None),
        (CustomerLink.last_message_at.is_(None)) | (CustomerLink.last_message_at < sent_at))
        .values(last_message_id=message.message_id, last_message_at=sent_at, updated_at=utcnow())
        .returning(CustomerLink.id)).first()
    if remembered is not None:
        return None
    return db.session.scalar(select(CustomerLink.customer_phone).where(CustomerLink.id == row.id)
                             .execution_options(populate_existing=True))


def phone_for(bsuid: str) -> str | None:
    """The phone linked to a BSUID, if known."""
    return db.session.scalar(select(CustomerLink.customer_phone).where(CustomerLink.bsuid == bsuid))


def _naive(moment: datetime) -> datetime:
    """Stored times are naive UTC."""
    return moment.replace(tzinfo=None)


def _insert_ignoring_duplicates(bsuid: str) -> None:
    """Make sure the BSUID has its row, whoever inserts it first."""
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(module.insert(CustomerLink).values(bsuid=bsuid, updated_at=utcnow())
                       .on_conflict_do_nothing())
