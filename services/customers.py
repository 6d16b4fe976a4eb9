"""Who wrote to us: a phone (`@c.us`), a user known only by a BSUID (`@lid`), or a group (`@g.us`).

An `@lid` user's id is never read as a phone number. When an ack or a message carries both a
BSUID and a phone, the link is kept (CustomerLink); the user's messages then open the window
of that phone, including a message that came before the link was known. Group chats are not
customers: their bodies are stored with the webhook, and they open no window.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import CustomerLink, db, utcnow
from onemsg.webhooks import InboundMessage, ParsedWebhook

RecordInbound = Callable[..., bool]


def learn_links(parsed: ParsedWebhook, record_inbound: RecordInbound) -> None:
    """Keep every (BSUID, phone) pair the body carries; a waiting message then opens the window."""
    pairs = [(s.bsuid, s.recipient) for s in parsed.statuses if s.bsuid and s.recipient]
    pairs += [(m.bsuid, m.chat_phone) for m in parsed.messages if m.bsuid and m.chat_phone]
    for _bsuid, phone, message_id, sent_at in link_all({bsuid: "+" + digits for bsuid, digits in pairs}):
        record_inbound(message_id, phone, sent_at)


LINKS_PER_STATEMENT = 500  # 3 parameters a row: under SQLite's and PostgreSQL's limits


def link_all(phones: dict[str, str]) -> list[tuple[str, str, str, datetime]]:
    """Link each BSUID to its phone; returns (bsuid, phone, waiting message id, time) for each
    user whose message was waiting for the link.

    One multi-row statement for a whole batch (acks carry a bsuid on every item, so a batch holds
    hundreds): insert the links, or fill in the phone of a BSUID that had none; a link already
    known is left as it is and returns nothing. In BSUID order, so two appliers lock rows in
    the same order.
    """
    waiting = []
    rows = [dict(bsuid=bsuid, customer_phone=phone, updated_at=utcnow()) for bsuid, phone in sorted(phones.items())]
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), LINKS_PER_STATEMENT):
        statement = module.insert(CustomerLink).values(rows[start : start + LINKS_PER_STATEMENT])
        statement = statement.on_conflict_do_update(
            index_elements=[CustomerLink.bsuid],
            set_={"customer_phone": statement.excluded.customer_phone, "updated_at": utcnow()},
            where=CustomerLink.customer_phone.is_(None),
        ).returning(
            CustomerLink.bsuid, CustomerLink.customer_phone, CustomerLink.last_message_id, CustomerLink.last_message_at
        )
        waiting += [
            (row.bsuid, row.customer_phone, row.last_message_id, row.last_message_at)
            for row in db.session.execute(statement)
            if row.last_message_id and row.last_message_at
        ]
    return waiting


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
    remembered = db.session.execute(
        update(CustomerLink)
        .where(
            CustomerLink.id == row.id,
            CustomerLink.customer_phone.is_(None),
            (CustomerLink.last_message_at.is_(None)) | (CustomerLink.last_message_at < sent_at),
        )
        .values(last_message_id=message.message_id, last_message_at=sent_at, updated_at=utcnow())
        .returning(CustomerLink.id)
    ).first()
    if remembered is not None:
        return None
    return db.session.scalar(
        select(CustomerLink.customer_phone).where(CustomerLink.id == row.id).execution_options(populate_existing=True)
    )


def phone_for(bsuid: str) -> str | None:
    """The phone linked to a BSUID, if known."""
    return db.session.scalar(select(CustomerLink.customer_phone).where(CustomerLink.bsuid == bsuid))


def _naive(moment: datetime) -> datetime:
    """Stored times are naive UTC."""
    return moment.replace(tzinfo=None)


def _insert_ignoring_duplicates(bsuid: str) -> None:
    """Make sure the BSUID has its row, whoever inserts it first."""
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(module.insert(CustomerLink).values(bsuid=bsuid, updated_at=utcnow()).on_conflict_do_nothing())
