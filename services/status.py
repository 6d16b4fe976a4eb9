"""Applying 1MSG status events to handoffs, in bulk: stored as received, never backwards.

Every status event is first kept in `status_events` (applied = false); `apply_unapplied` then
moves the handoffs those events belong to: each handoff read and locked, its new state worked
out from all its events at once, and written with one row write (one UPDATE for the batch).
Who calls it last wins nothing and loses nothing: the applier after storing a batch, the send
after committing its message id, reconciliation and the worker's sweep all run the same
idempotent work, so an event is applied whichever of them commits last.
"""

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    DateTime,
    Double,
    Integer,
    String,
    Text,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from models import STATUS_RANK, Handoff, InboundMessage, StatusEvent, Ticket, db, utcnow
from models.handoff import STATUS_TIME_COLUMN, handoff_durations
from onemsg.webhooks import StatusUpdate
from services import events, window
from services.database import commit_keeping_values
from services.durations import seconds_between

# Rank order, so the helpdesk hears of a handoff's steps in the order they happened.
KINDS_IN_ORDER = ("sent", "failed", "delivered", "read")
# The statuses 1MSG reports and the column each sets once (Handoff.settle uses the same columns).
TIMESTAMP_COLUMN = {kind: STATUS_TIME_COLUMN[kind] for kind in KINDS_IN_ORDER}
ID_LENGTH = 128  # message ids longer than this are no message of ours (our columns hold 128)
INT4 = 2**31 - 1
CHUNK = 500  # rows per statement: under SQLite's and PostgreSQL's bound-parameter limits
SWEEP_SPAN = 50_000  # status_events ids looked at per call of sweep_older
# What applying an event needs of it, and the handoff columns applying events may change.
EVENT_COLUMNS = (StatusEvent.id, StatusEvent.message_id, StatusEvent.status, StatusEvent.occurred_at,
                 StatusEvent.received_at, StatusEvent.error, StatusEvent.error_code)  # fmt: skip
HANDOFF_STATE = ("status", "status_rank", "sent_at", "delivered_at", "read_at", "failed_at", "failure_code",
                 "failure_reason", "failure_meta_code", "accepted_to_delivered_s", "accepted_to_read_s")  # fmt: skip


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _chunks(items: list, size: int = CHUNK):
    """SQLite: slices of `size` (its bound-parameter limit). PostgreSQL: all at once, as
    `among` sends a list as one array parameter, so a batch is one statement whatever its size."""
    items = list(items)
    if _postgresql():
        if items:
            yield items
        return
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(column, values: list):
    """`column IN values`; on PostgreSQL `column IN (SELECT unnest(:array))`: one parameter, one
    cached statement. Not `= ANY(:array)`: once psycopg prepares the statement (its fifth run),
    PostgreSQL may keep a generic plan that scans the whole table testing each row against the
    array (seconds per batch on 80,000 handoffs); unnest is a set it joins through the index."""
    if _postgresql():
        return column.in_(select(func.unnest(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))))
    return column.in_(values)


def _insert(model):
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model)


def status_row(status: StatusUpdate, received: datetime, webhook_event_id: int | None = None) -> dict:
    """The status_events row for one event, clamped to what the columns hold."""
    code = status.error_code if status.error_code is not None and -INT4 <= status.error_code <= INT4 else None
    return dict(
        message_id=status.message_id[:ID_LENGTH],
        status=status.status,
        occurred_at=status.occurred_at,
        received_at=received,
        error=status.error,
        error_code=code,
        webhook_event_id=webhook_event_id,
        applied=False,
    )


STATUS_COLUMNS = {
    "message_id": String,
    "status": String,
    "occurred_at": DateTime,
    "received_at": DateTime,
    "error": Text,
    "error_code": Integer,
    "webhook_event_id": Integer,
    "applied": Boolean,
}


# PostgreSQL: the rows as one JSON array, read by jsonb_to_recordset: one statement and one
# parameter for any number of rows. (A multi-row VALUES of 10,000 events cost more to build than
# to run; one array per column, unnested, spent about twice as long as this in psycopg dumping
# the arrays element by element.) Built once from the constant column table above.
def _recordset(columns: dict) -> str:
    """`jsonb_to_recordset(:rows) AS u(column type, ...)` for these columns."""
    kinds = ", ".join(f"{column} {kind().compile(dialect=postgresql.dialect())}" for column, kind in columns.items())
    return f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS u({kinds})"


def _json_rows(rows: list[dict], columns) -> str:
    """The rows as the JSON array `_recordset` reads (times as ISO 8601, which PostgreSQL parses)."""
    return json.dumps(
        [{column: row[column] for column in columns} for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
        default=lambda value: value.isoformat(),
    )


_UNNEST_STATUSES = text(
    f"INSERT INTO status_events ({', '.join(STATUS_COLUMNS)}) SELECT {', '.join(STATUS_COLUMNS)} "  # nosec B608
    f"FROM {_recordset(STATUS_COLUMNS)} ON CONFLICT DO NOTHING"
)
_UNNEST_STATUSES_RETURNING = text(
    _UNNEST_STATUSES.text + " RETURNING " + ", ".join(column.key for column in EVENT_COLUMNS) + ", applied"
)


def store_statuses(rows: list[dict], *, returning: bool = False) -> list:
    """Insert-or-ignore every row in one statement: a repeated event adds nothing. With
    `returning` (PostgreSQL only), the rows it did insert, as EVENT_COLUMNS plus `applied`."""
    # In key order: two bodies holding the same events in another order would otherwise each
    # wait on the other's uncommitted duplicate (a deadlock on PostgreSQL).
    by_key = {(row["message_id"], row["status"]): row for row in rows}
    unique = [by_key[key] for key in sorted(by_key)]
    if not unique:
        return []
    if _postgresql():
        values = {"rows": _json_rows(unique, STATUS_COLUMNS)}
        if returning:
            return db.session.execute(_UNNEST_STATUSES_RETURNING, values).all()
        db.session.execute(_UNNEST_STATUSES, values)
    else:  # executemany of one prepared INSERT: sqlite3 loops over the rows in C
        db.session.execute(sqlite.insert(StatusEvent).on_conflict_do_nothing(), unique)
    return []


def store_and_apply(rows: list[dict]) -> set[str]:
    """Store these status rows and apply every unapplied event of their messages that belong to a
    handoff (earlier ones too); returns those message ids.

    PostgreSQL: the handoffs are locked first, so the rows of their messages go in already marked
    applied (one INSERT ... RETURNING what it inserted), and only events stored before, still
    unapplied, need a SELECT and an UPDATE of their own: for a batch of 10,000 new events, one
    statement instead of three (the insert, a SELECT of the unapplied, an UPDATE of each row).
    The locks come first, then the inserts in key order, as in every other path that applies."""
    if not rows:
        return set()
    if not _postgresql():
        store_statuses(rows)
        return apply_unapplied({row["message_id"] for row in rows})
    handoffs = _lock_handoffs({row["message_id"] for row in rows})
    owned = ({h.message_id for h in handoffs} | {h.intro_message_id for h in handoffs}) - {None}
    stored = store_statuses([{**row, "applied": row["message_id"] in owned} for row in rows], returning=True)
    earlier = db.session.execute(
        select(*EVENT_COLUMNS).where(StatusEvent.applied.is_(False), among(StatusEvent.message_id, sorted(owned)))
    ).all()
    fresh = [row for row in stored if row.applied]
    _apply_locked(handoffs, fresh + earlier, mark_applied=[row.id for row in earlier])
    return {row.message_id for row in fresh + earlier}


def record_statuses(updates: Iterable[StatusUpdate], *, webhook_event_id: int | None = None) -> set[str]:
    """Keep each event once, then apply every unapplied one of these messages (earlier ones too)."""
    received = utcnow()
    rows = [status_row(update_, received, webhook_event_id) for update_ in updates]
    if not rows:
        return set()
    return store_and_apply(rows)


def record_status(status: StatusUpdate, *, webhook_event_id: int | None = None) -> bool:
    """One event (reconciliation, tests): kept once; True when its message is one of ours."""
    return bool(record_statuses([status], webhook_event_id=webhook_event_id))


def _belongs_to_a_handoff():
    return or_(
        exists().where(Handoff.message_id == StatusEvent.message_id),
        exists().where(Handoff.intro_message_id == StatusEvent.message_id),
    )


def apply_unapplied(message_ids: Iterable[str]) -> set[str]:
    """Apply the unapplied events of these messages that belong to a handoff; returns those ids."""
    pending = []
    for chunk in _chunks(sorted(set(message_ids))):
        pending += db.session.execute(
            select(*EVENT_COLUMNS).where(
                StatusEvent.applied.is_(False), among(StatusEvent.message_id, chunk), _belongs_to_a_handoff()
            )
        ).all()
    _apply_rows(pending)
    return {row.message_id for row in pending}


def sweep_unapplied(within: timedelta = timedelta(hours=1), limit: int = 5000) -> int:
    """The worker's backstop, every pass: unapplied events of the last hour whose handoff is known by now."""
    rows = db.session.execute(
        select(*EVENT_COLUMNS)
        .where(
            StatusEvent.applied.is_(False),
            StatusEvent.received_at > utcnow() - within,
            _belongs_to_a_handoff(),
        )
        .order_by(StatusEvent.id)
        .limit(limit)
    ).all()
    _apply_rows(rows)
    return len(rows)


def sweep_older(after_id: int = 0, span: int | None = None) -> tuple[int, int]:
    """The same for events of any age (a long outage), one range of ids per call, so a pass stays short.

    Most unapplied events are never applied (acks of the number's other chats), so looking at all
    of them every pass would cost more as they pile up; a range per pass covers them all in turn.
    Returns (events applied, the id the next range starts after: 0 once the last range was done).
    """
    span = span or SWEEP_SPAN
    rows = db.session.execute(
        select(*EVENT_COLUMNS)
        .where(
            StatusEvent.id > after_id,
            StatusEvent.id <= after_id + span,
            StatusEvent.applied.is_(False),
            _belongs_to_a_handoff(),
        )
        .order_by(StatusEvent.id)
    ).all()
    _apply_rows(rows)
    more = db.session.scalar(select(StatusEvent.id).where(StatusEvent.id > after_id + span).limit(1))
    return len(rows), (after_id + span if more is not None else 0)


def _apply_rows(rows: list) -> None:
    """Apply these unapplied events (EVENT_COLUMNS rows) to their handoffs, and mark them applied."""
    if rows:
        _apply_locked(_lock_handoffs({row.message_id for row in rows}), rows, mark_applied=[row.id for row in rows])


def _apply_locked(handoffs: list, rows: list, *, mark_applied: list[int]) -> None:
    """One row write per handoff moved, whatever kinds of status it got; the events `mark_applied`
    marked applied; one ticket UPDATE.

    The handoffs were read (locked, on PostgreSQL) first, the kinds are applied to each in rank
    order under the same rules as one UPDATE per kind would (`_step`), and every handoff that
    changed is written once: three acks of one card in a batch are one new row version, not three."""
    by_message: dict[str, dict[str, object]] = {}
    for row in rows:
        by_message.setdefault(row.message_id, {})[row.status] = row
    moved_tickets, news, changed = set(), [], []
    for handoff in handoffs:
        state, kinds = dict(handoff._mapping), by_message.get(handoff.message_id, {})
        moved = [kind for kind in KINDS_IN_ORDER if kind in kinds and _step(state, kind, kinds[kind])]
        for kind in moved:
            news.append((handoff.id, kind))
            if handoff.kind == "card" and kind in ("delivered", "read"):
                moved_tickets.add(handoff.ticket_id)
        if moved:
            _refresh_durations(state)
        if any(state[column] != getattr(handoff, column) for column in HANDOFF_STATE):
            changed.append(state)
    _write_handoffs(changed)
    for chunk in _chunks(mark_applied):
        db.session.execute(
            update(StatusEvent)
            .where(among(StatusEvent.id, chunk))
            .values(applied=True)
            .execution_options(synchronize_session=False)
        )
    _mark_tickets_handed_off(moved_tickets)
    for handoff_id, kind in news:
        events.record_handoff_event(handoff_id, kind)


def _step(state: dict, kind: str, event) -> bool:
    """Apply one status event to a handoff's state in memory, as `_new_values` does in SQL: only
    if it is news (`_is_news`), its time set once, the status raised only upwards, a failure
    keeping its first reason. Returns whether it was news."""
    rank, column = STATUS_RANK[kind], TIMESTAMP_COLUMN[kind]
    if state[column] is not None and state["status_rank"] >= rank:
        return False
    if state[column] is None:
        state[column] = event.occurred_at or event.received_at
    if state["status_rank"] < rank:
        state["status"], state["status_rank"] = kind, rank
    if kind == "failed":
        if state["failure_code"] is None:
            state["failure_code"] = "delivery_failed"
        if state["failure_reason"] is None:
            state["failure_reason"] = event.error if event.error is not None else "1MSG reported the message as failed"
        if state["failure_meta_code"] is None:
            state["failure_meta_code"] = event.error_code
    return True


def _refresh_durations(state: dict) -> None:
    """The delivery and read durations from the state's timestamps (acceptance is the send's)."""
    found = handoff_durations(state["ready_at"], state["accepted_at"], state["delivered_at"], state["read_at"])
    state.update(
        accepted_to_delivered_s=found["accepted_to_delivered_s"], accepted_to_read_s=found["accepted_to_read_s"]
    )


def lock_handoffs_first(message_ids: set[str]) -> None:
    """For a path that stores events before applying them: take the handoffs' locks first, as
    every other path does, or it would hold an event's insert while waiting for a handoff that
    an applier holds while waiting for that insert (PostgreSQL's "deadlock detected")."""
    if message_ids and _postgresql():
        _lock_handoffs(message_ids)


def _lock_handoffs(message_ids: set[str]) -> list:
    """The handoffs these events belong to (by message id or intro message id), with their status
    columns, in id order; locked on PostgreSQL.

    Locked in one global order, two appliers moving the same handoffs wait for each other instead
    of in a cycle (PostgreSQL's "deadlock detected"); the rows then stay as read until our commit,
    so what `_apply_locked` computes from them is what it writes. (SQLite has one writer at a time,
    and holds its write lock from BEGIN IMMEDIATE on; FOR UPDATE is left out there.)
    """
    columns = [
        Handoff.id,
        Handoff.message_id,
        Handoff.intro_message_id,
        Handoff.ticket_id,
        Handoff.kind,
        Handoff.ready_at,
        Handoff.accepted_at,
    ] + [  # fmt: skip
        getattr(Handoff, column) for column in HANDOFF_STATE
    ]
    found = {}
    for chunk in _chunks(sorted(message_ids)):
        query = (
            select(*columns)
            .where(
                # A union of two index lookups (an OR of the two would be one scan testing both)
                Handoff.id.in_(
                    union(
                        select(Handoff.id).where(among(Handoff.message_id, chunk)),
                        select(Handoff.id).where(among(Handoff.intro_message_id, chunk)),
                    )
                )
            )
            .order_by(Handoff.id)
        )
        # One statement on PostgreSQL: FOR UPDATE locks the rows as they leave the sort, so in id order.
        found.update((row.id, row) for row in db.session.execute(query.with_for_update() if _postgresql() else query))
    return [found[handoff_id] for handoff_id in sorted(found)]  # once each (SQLite's chunks may meet twice)


HANDOFF_WRITE = {
    "id": Integer,
    "status": String,
    "status_rank": Integer,
    "sent_at": DateTime,
    "delivered_at": DateTime,
    "read_at": DateTime,
    "failed_at": DateTime,
    "failure_code": String,
    "failure_reason": Text,
    "failure_meta_code": Integer,
    "accepted_to_delivered_s": Double,
    "accepted_to_read_s": Double,
}
# PostgreSQL: every handoff's new state as one JSON array (see _recordset), joined by id: one
# statement for any number of handoffs. Built once from the constant column table above.
_UNNEST_HANDOFFS = text(
    "UPDATE handoffs SET "  # nosec B608
    + ", ".join(f"{column} = u.{column}" for column in HANDOFF_WRITE if column != "id")
    + f", updated_at = :updated_at FROM {_recordset(HANDOFF_WRITE)} WHERE handoffs.id = u.id"
)


def _write_handoffs(states: list[dict]) -> None:
    """Each changed handoff written once, with the values `_apply_rows` computed."""
    if not states:
        return
    now = utcnow()
    if _postgresql():
        db.session.execute(_UNNEST_HANDOFFS, {"rows": _json_rows(states, HANDOFF_WRITE), "updated_at": now})
        return
    statement = (
        update(Handoff.__table__)
        .where(Handoff.__table__.c.id == bindparam("handoff_id"))
        .values(
            {column: bindparam(f"new_{column}") for column in HANDOFF_WRITE if column != "id"} | {"updated_at": now}
        )
    )
    rows = [{f"new_{column}": state[column] for column in HANDOFF_WRITE if column != "id"} | {"handoff_id": state["id"]}
            for state in states]  # fmt: skip
    db.session.execute(statement, rows)  # executemany: one prepared UPDATE, looped over in C


def _is_news(kind: str):
    """Only a row where this status is news is touched: a duplicate changes nothing."""
    column = getattr(Handoff, TIMESTAMP_COLUMN[kind])
    return or_(column.is_(None), Handoff.status_rank < STATUS_RANK[kind])


def _new_values(kind: str, at, error, error_code) -> dict:
    """Set the status's time once, raise the status only upwards; a failure keeps its first reason."""
    rank = STATUS_RANK[kind]
    column = getattr(Handoff, TIMESTAMP_COLUMN[kind])
    values = {
        column.key: func.coalesce(column, at),
        "status": case((Handoff.status_rank < rank, kind), else_=Handoff.status),
        "status_rank": case((Handoff.status_rank < rank, rank), else_=Handoff.status_rank),
        "updated_at": utcnow(),
    }
    values.update(_new_durations(kind, at))
    if kind == "failed":
        values.update(
            failure_code=func.coalesce(Handoff.failure_code, "delivery_failed"),
            failure_reason=func.coalesce(Handoff.failure_reason, error, "1MSG reported the message as failed"),
            failure_meta_code=func.coalesce(Handoff.failure_meta_code, error_code),
        )
    return values


def _new_durations(kind: str, at) -> dict:
    """The stored durations a delivered or read event changes, from the row's times as they will be
    (the UPDATE's SET sees the old row: a time already set is kept, as `_new_values` keeps it)."""
    if kind not in ("delivered", "read"):
        return {}
    delivered = func.coalesce(Handoff.delivered_at, at) if kind == "delivered" else Handoff.delivered_at
    read = func.coalesce(Handoff.read_at, at) if kind == "read" else Handoff.read_at
    values = {"accepted_to_delivered_s": seconds_between(Handoff.accepted_at, func.coalesce(delivered, read))}
    if kind == "read":
        values["accepted_to_read_s"] = seconds_between(Handoff.accepted_at, read)
    return values


def apply_status(
    message_id: str, status: str, at: datetime, error: str | None = None, error_code: int | None = None
) -> bool:
    """One status straight onto its handoff, under the same rules (no status_events row)."""
    changed = db.session.execute(
        update(Handoff)
        .where(Handoff.message_id == message_id, _is_news(status))
        .values(**_new_values(status, at, error, error_code))
        .returning(Handoff.id, Handoff.ticket_id, Handoff.kind)
        .execution_options(synchronize_session=False)
    ).all()
    _mark_tickets_handed_off(
        {ticket_id for _, ticket_id, kind in changed if kind == "card" and status in ("delivered", "read")}
    )
    for handoff_id, _, _ in changed:
        events.record_handoff_event(handoff_id, status)
    return bool(changed)


def _mark_tickets_handed_off(ticket_ids: set[int]) -> None:
    """A delivered (or read) card moves its ticket to "handed off", once."""
    if ticket_ids and _postgresql():
        # Locked in id order first, as the handoffs are: two appliers moving the same tickets
        # in the orders their UPDATEs happen to scan them would deadlock.
        db.session.execute(
            select(Ticket.id)
            .where(among(Ticket.id, sorted(ticket_ids)), Ticket.status.in_(("open", "ready")))
            .order_by(Ticket.id)
            .with_for_update()
        ).all()
    for chunk in _chunks(sorted(ticket_ids)):
        db.session.execute(
            update(Ticket)
            .where(among(Ticket.id, chunk), Ticket.status.in_(("open", "ready")))
            .values(status="handed_off", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def apply_pending(message_id: str) -> int:
    """Apply events that arrived before we knew the message id (a webhook beat the send)."""
    return len(apply_unapplied([message_id]))


def apply_after_commit(handoff: Handoff) -> bool:
    """Run by the send after its commit: events a webhook committed meanwhile are applied now.

    Before that commit no other transaction could see the message id, and the webhook's may
    have committed after the send last looked: one of the two always sees the other's work.
    """
    ids = [message_id for message_id in (handoff.message_id, handoff.intro_message_id) if message_id]
    if not ids or not _unapplied_may_exist(ids):
        return False
    applied = bool(apply_unapplied(ids))
    commit_keeping_values()
    if applied:
        db.session.refresh(handoff)
    return applied


def _unapplied_may_exist(message_ids: list[str]) -> bool:
    """Whether a webhook's events for these messages may have committed unapplied around our commit.

    SQLite: no. Writers take its one write lock in turn (BEGIN IMMEDIATE), so the send's own
    transaction, which set the message id and applied the events stored before it, ran wholly
    before or after the applier's, and one that ran after sees the message id. PostgreSQL: one
    statement on its own (autocommit: no BEGIN, no ROLLBACK) looks; the transaction that applies
    them follows only when it finds some, which a webhook has to race the send's commit for."""
    engine = db.session.get_bind()
    if engine.dialect.name == "sqlite":
        return False
    query = (
        select(StatusEvent.id)
        .where(StatusEvent.applied.is_(False), StatusEvent.message_id.in_(message_ids), _belongs_to_a_handoff())
        .limit(1)
    )
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        return connection.execute(query).first() is not None


def record_inbound(message_id: str, phone: str, sent_at: datetime, *, body=None, sender_name=None) -> bool:
    """Store a customer's message (it opens their window); duplicates change nothing."""
    return bool(store_inbound([inbound_row(message_id, phone, sent_at, body=body, sender_name=sender_name)]))


def inbound_row(message_id: str, phone: str, sent_at: datetime, *, body=None, sender_name=None) -> dict:
    return dict(
        onemsg_id=message_id[:ID_LENGTH],
        customer_phone=phone,
        sent_at=sent_at,
        received_at=utcnow(),
        body=(body or "")[:2000] or None,
        sender_name=(sender_name or "")[:120] or None,
    )


def store_inbound(rows: list[dict]) -> int:
    """One multi-row insert-or-ignore; the windows of the phones that wrote are looked up afresh."""
    inserted = []
    by_id = {row["onemsg_id"]: row for row in rows}
    unique = [by_id[key] for key in sorted(by_id)]  # key order, as store_statuses (no deadlock)
    for chunk in _chunks(unique):
        inserted += (
            db.session.execute(
                _insert(InboundMessage).values(chunk).on_conflict_do_nothing().returning(InboundMessage.customer_phone)
            )
            .scalars()
            .all()
        )
    for phone in set(inserted):
        window.forget_lookup(phone)
    return len(inserted)
