"""Stored webhook bodies applied off the request path, in bulk.

A webhook POST only stores its body. Who applies it:
- on PostgreSQL, one applier process (`flask handoffs applier`, `listen` below), woken by a
  NOTIFY that a small thread of each web process sends after the bodies it stored (`Notifier`),
  so the web processes only store and their threads never wait for the GIL behind an apply;
- on SQLite (no NOTIFY), or with WEBHOOK_APPLIER=thread, a thread in each web process, woken
  by each body that process stores (`Applier`).
Either takes every pending body in batches: parse each, one multi-row insert-or-ignore of the
status events, one row write per handoff moved (services.status), one of the inbound messages,
the bodies marked done, one commit. Bodies left behind by a process that died, or stored while
the applier process was down, are taken by the next batch of any applier, and by the worker
(`flask handoffs worker`, every pass) as the backstop.
"""

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field, replace

import psycopg
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from models import WebhookEvent, db, utcnow
from onemsg.webhooks import InboundMessage, ParsedWebhook, StatusUpdate, WebhookFormatError, parse_payload
from services import customers, status
from services.app_state import app_state
from services.database import DriverConnections, reading_only
from services.webhook_input import load_clean

log = logging.getLogger(__name__)

BATCH_BODIES = 200
# A pass starts at most this often per process: bodies stored meanwhile share the next pass
# (a pass costs ~10 statements whatever its size), at the price of up to this much apply lag.
# Longer on SQLite, where each pass holds the one write lock that every webhook POST needs.
# PostgreSQL: 0.1 s, not 0.05: with one event per POST, half the passes is ~0.05 of the ratio to
# the bare insert (docs/PERFORMANCE.md), for an apply lag p95 still ~150-210 ms.
COALESCE_SECONDS = {"sqlite": 0.2}
COALESCE_DEFAULT = 0.1
IDLE_SECONDS = 30.0  # an idle thread ends; the next webhook starts another
NOTIFY_CHANNEL = "webhook_events"
# The applier process also looks this often without a NOTIFY: one it missed (while it was
# reconnecting) costs at most this much lag; the worker's pass is the backstop behind it.
POLL_SECONDS = 2.0
# A web process sends at most one NOTIFY this often; each wakes every applier process, and a
# pass starts at most every COALESCE_DEFAULT anyway, so more often only costs CPU.
NOTIFY_PAUSE = 0.025
EVENT_ARRAYS = ("ack", "hooks", "messages")
ID_LENGTH = status.ID_LENGTH
MAX_PHONE_DIGITS = 15  # E.164: a longer "phone" cannot be a customer's (nor fit the column)


@dataclass
class BodyEvents:
    """What one stored body holds that we can apply, and what we could not read."""

    statuses: list[StatusUpdate] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        if not self.errors:
            return None
        shown = "; ".join(self.errors[:5])
        return shown + (f"; and {len(self.errors) - 5} more" if len(self.errors) > 5 else "")


def read_events(text: str) -> BodyEvents:
    """Every event of the body we can read; one bad event never costs the others."""
    found = BodyEvents()
    try:
        payload = load_clean(text)
        _take(found, parse_payload(payload))
    except WebhookFormatError as whole:
        if not isinstance(payload, dict):
            found.errors.append(whole.reason)
        else:
            _read_one_by_one(payload, found, whole)
    except Exception as exc:  # noqa: BLE001 - a parser bug must mark the body, not lose the batch
        found.errors.append(f"body could not be read: {type(exc).__name__}: {exc}"[:500])
    return found


def _read_one_by_one(payload: dict, found: BodyEvents, whole: WebhookFormatError) -> None:
    """The body as a whole did not parse: parse each event alone and keep the good ones."""
    pieces = [
        (f"{key}[{index}]", f"{key}[0]", {key: [item]})
        for key in EVENT_ARRAYS
        for index, item in enumerate(_array(payload, key))
    ]
    for e_index, entry in enumerate(_array(payload, "entry")):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for c_index, change in enumerate(changes if isinstance(changes, list) else [None]):
            pieces.append(
                (f"entry[{e_index}].changes[{c_index}]", "entry[0].changes[0]", {"entry": [{"changes": [change]}]})
            )
    if not pieces:
        found.errors.append(whole.reason)
        return
    for where, parsed_as, piece in pieces:
        try:
            _take(found, parse_payload(piece))
        except WebhookFormatError as exc:
            # The parser names the path in the one-event piece: give the path in the body instead.
            reason = exc.reason
            found.errors.append(
                where + reason[len(parsed_as) :] if reason.startswith(parsed_as) else f"{where}: {reason}"
            )
        except Exception as exc:  # noqa: BLE001 - same rule, per event
            found.errors.append(f"{where}: {type(exc).__name__}: {exc}"[:500])


def _array(payload: dict, key: str) -> list:
    value = payload.get(key)
    return value if isinstance(value, list) else []


def _take(found: BodyEvents, parsed: ParsedWebhook) -> None:
    """Keep the events, with ids and phones cut to what their columns can hold."""
    found.statuses += [
        replace(s, bsuid=_fits(s.bsuid, ID_LENGTH), recipient=_fits(s.recipient, MAX_PHONE_DIGITS))
        for s in parsed.statuses
    ]
    found.messages += [
        replace(
            m,
            message_id=m.message_id[:ID_LENGTH],
            bsuid=_fits(m.bsuid, ID_LENGTH),
            chat_phone=_fits(m.chat_phone, MAX_PHONE_DIGITS),
        )
        for m in parsed.messages
    ]


def _fits(value: str | None, length: int) -> str | None:
    """The value if its column holds it; else None (an id that long is none of our customers')."""
    return value if value is None or len(value) <= length else None


def apply_stored(limit: int = BATCH_BODIES, *, skip_locked: bool = True) -> tuple[int, bool]:
    """One batch of pending bodies, applied and committed; returns how many bodies it took, and
    whether the batch failed as a whole (some of its bodies may be pending still: look again soon)."""
    query = (
        select(WebhookEvent.id, WebhookEvent.body)
        .where(WebhookEvent.applied_at.is_(None))
        .order_by(WebhookEvent.id)
        .limit(limit)
    )
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Read and parse without the write lock (it is the one lock every writer queues for);
        # what another process applied meanwhile is left out once we hold the lock.
        with reading_only():
            claimed = db.session.execute(query).all()
            db.session.commit()
    else:  # two appliers take different bodies, and the claim lasts until the commit
        claimed = db.session.execute(query.with_for_update(skip_locked=skip_locked)).all()
    if not claimed:
        db.session.commit()
        return 0, False
    failed = False
    try:
        unknown = _apply_bodies(claimed, recheck=sqlite)
        db.session.commit()
    except SQLAlchemyError:  # e.g. a deadlock with another applier: PostgreSQL rolled us back
        db.session.rollback()
        log.exception("a batch of %d webhook bodies failed; applying them one by one", len(claimed))
        unknown, failed = _apply_one_by_one(claimed), True
    _apply_late_handoffs(unknown)
    return len(claimed), failed


def _apply_bodies(claimed, *, recheck: bool = False) -> set[str]:
    """Take the bodies apart, then apply them; returns the message ids no handoff carries (yet)."""
    readings = [(body_id, read_events(text)) for body_id, text in claimed]  # no database work
    if recheck:
        readings = _still_pending(readings)
    batch, status_rows, marks = _gather(readings)
    applied = status.store_and_apply(status_rows)
    customers.learn_links(batch, status.record_inbound)
    status.store_inbound(_inbound_rows(batch.messages))
    _mark_done(marks)
    return {row["message_id"] for row in status_rows} - applied


def _still_pending(readings: list) -> list:
    """SQLite: leave out the bodies another process's applier applied since we read them.

    Its first statement takes the write lock, so none is applied by anyone else from then on;
    without it the two web processes' appliers would each apply most bodies."""
    pending = set()
    for chunk in status._chunks([body_id for body_id, _ in readings]):
        pending.update(
            db.session.scalars(
                select(WebhookEvent.id).where(status.among(WebhookEvent.id, chunk), WebhookEvent.applied_at.is_(None))
            )
        )
    return [(body_id, found) for body_id, found in readings if body_id in pending]


def _gather(readings: list) -> tuple[ParsedWebhook, list[dict], dict]:
    """Every event of the batch, the status rows to insert and each body's outcome; no database work."""
    received = utcnow()
    batch, status_rows, marks = ParsedWebhook(instance_id=None), [], {}
    for body_id, found in readings:
        batch.statuses += found.statuses
        batch.messages += found.messages
        status_rows += [status.status_row(update_, received, body_id) for update_ in found.statuses]
        marks[body_id] = (len(found.statuses), len(found.messages), found.error)
    return batch, status_rows, marks


def _inbound_rows(messages: list[InboundMessage]) -> list[dict]:
    """Customers' messages that open a window: not our own echoes, not groups, not unknown @lid users."""
    rows = []
    for message in messages:
        phone = None if message.from_me else customers.customer_phone(message)
        if phone and len(phone) <= MAX_PHONE_DIGITS + 1:
            rows.append(
                status.inbound_row(
                    message.message_id,
                    phone,
                    message.sent_at,
                    body=message.caption or message.body,
                    sender_name=message.sender_name,
                )
            )
    return rows


def _apply_one_by_one(claimed) -> set[str]:
    """After a failed batch: each body alone; one the database refuses is taken event by event."""
    unknown = set()
    for body_id, text in claimed:
        try:
            unknown |= _apply_bodies([(body_id, text)])
            db.session.commit()
        except OperationalError:
            db.session.rollback()  # locked, connection lost: transient, the body stays pending
            log.exception("webhook body %s could not be applied now; it stays pending", body_id)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("webhook body %s could not be applied whole; applying it event by event", body_id)
            unknown |= _apply_event_by_event(body_id, text)
    return unknown


def _apply_event_by_event(body_id: int, text: str) -> set[str]:
    """Each event of one body in a savepoint of its own: what the database takes is applied, what
    it refuses is named in the body's parse_error. Transient errors leave the whole body pending."""
    found, received = read_events(text), utcnow()
    try:
        rows = [status.status_row(update_, received, body_id) for update_ in found.statuses]
        status.lock_handoffs_first({row["message_id"] for row in rows})
        stored = [
            row
            for row in rows
            if _refused(
                lambda row=row: status.store_statuses([row]),
                found,
                f"status {row['status']} of {row['message_id'][:60]}",
            )
            is None
        ]
        ids = {row["message_id"] for row in stored}
        applied = set()
        if _refused(lambda: applied.update(status.apply_unapplied(ids)), found, "applying its statuses") is not None:
            applied = set()
        _refused(
            lambda: customers.learn_links(
                ParsedWebhook(instance_id=None, statuses=found.statuses, messages=found.messages), status.record_inbound
            ),
            found,
            "customer links",
        )
        messages = 0
        for message in found.messages:
            if (
                _refused(
                    lambda message=message: status.store_inbound(_inbound_rows([message])),
                    found,
                    f"message {message.message_id[:60]}",
                )
                is None
            ):
                messages += 1
        _mark_done({body_id: (len(stored), messages, found.error)})
        db.session.commit()
        return ids - applied
    except OperationalError:
        db.session.rollback()
        log.exception("webhook body %s could not be applied now; it stays pending", body_id)
        return set()


def _refused(work, found: BodyEvents, what: str) -> str | None:
    """Run one piece of a body's work in a savepoint; a refusal (not a transient error) is recorded."""
    try:
        with db.session.begin_nested():
            work()
        return None
    except OperationalError:
        raise
    except SQLAlchemyError as exc:
        reason = f"{what} could not be applied: {type(exc.orig or exc).__name__}: {str(exc.orig or exc)[:200]}"
        found.errors.append(reason)
        log.warning("webhook: %s", reason)
        return reason


def _mark_done(marks: dict) -> None:
    """One UPDATE per distinct outcome (usually one for the whole batch)."""
    groups: dict[tuple, list[int]] = {}
    for body_id, outcome in marks.items():
        groups.setdefault(outcome, []).append(body_id)
    now = utcnow()
    for (statuses, messages, error), ids in groups.items():
        for chunk in status._chunks(ids):
            db.session.execute(
                update(WebhookEvent)
                .where(status.among(WebhookEvent.id, chunk))
                .values(
                    applied_at=now,
                    status_count=statuses,
                    message_count=messages,
                    parse_error=error,
                )
                .execution_options(synchronize_session=False)
            )


def _apply_late_handoffs(message_ids: set[str]) -> None:
    """Look again after our commit: a send that committed meanwhile did not see our events."""
    if message_ids:
        status.apply_unapplied(message_ids)
        db.session.commit()


def drain(*, skip_locked: bool = True) -> tuple[int, bool]:
    """Batches until one comes back short (nothing was pending behind it); returns the bodies
    taken, and whether a batch failed (bodies a transient error left pending need another pass).

    No last, empty batch to make sure: a body stored after our read wakes the applier again."""
    total = 0
    while True:
        taken, failed = apply_stored(skip_locked=skip_locked)
        total += taken
        if failed or taken < BATCH_BODIES:
            return total, failed


@dataclass
class Backstop:
    """The worker's pass: bodies no web process took (it died), then status events still unapplied.

    It never fights a live applier: PostgreSQL skips the bodies another transaction holds, and
    on SQLite the write lock lets one in at a time, the second finding the bodies done. It
    remembers where its sweep of older events stopped, so each pass looks at the next range."""

    older_from: int = 0

    def run(self) -> tuple[int, int]:
        bodies, _ = drain()  # what a failure left pending is taken by the next pass
        swept = status.sweep_unapplied()
        # Each sweep locks its handoffs in id order; committing between them keeps the two
        # sets of locks from being held at once, out of order against a live applier.
        db.session.commit()
        older, self.older_from = status.sweep_older(self.older_from)
        db.session.commit()
        return bodies, swept + older


def backstop() -> tuple[int, int]:
    """One backstop pass whose sweep of older events starts from the first id."""
    return Backstop().run()


class Applier:
    """One thread per process, woken by each stored body; it ends when idle for a while."""

    def __init__(self, app):
        self.app = app
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._passing = threading.Lock()  # held while a pass runs
        self._last_pass = 0.0
        dialect = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+", 1)[0]
        self._coalesce = COALESCE_SECONDS.get(dialect, COALESCE_DEFAULT)

    def wake(self) -> None:
        with self._lock:
            self._wake.set()
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                # none yet, it died, or we were forked (the parent's thread does not exist here)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="webhook-applier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                if not self._wake.wait(IDLE_SECONDS):
                    with self._lock:
                        if not self._wake.is_set():
                            self._thread = None  # under the lock: a wake from now on starts another
                            return
                time.sleep(max(0.0, self._last_pass + self._coalesce - time.monotonic()))
                self._last_pass = time.monotonic()
                # The wake is cleared only under the pass lock: whoever holds that lock and sees no
                # wake knows that no pass runs and none is due (wait_idle relies on it).
                with self._passing:
                    self._wake.clear()  # bodies stored from now on wake the next pass
                    try:
                        self._pass()
                    except Exception:  # noqa: BLE001 - even the clean-up failed: keep the thread, try again
                        log.exception("webhook applier pass failed; retrying")
                        time.sleep(1.0)
                        self._wake.set()
        finally:
            with self._lock:  # whatever ended the thread, the next wake starts another
                if self._thread is threading.current_thread():
                    self._thread = None

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no pass is running and none is due, a woken one waiting out its coalescing
        pause included (tests empty the tables after this)."""
        deadline = time.monotonic() + timeout
        while self._passing.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                if not self._wake.is_set():
                    return
            finally:
                self._passing.release()
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def _pass(self) -> None:
        """One drain of the stored bodies; called with the pass lock held."""
        with self.app.app_context():
            try:
                if drain()[1]:
                    self._wake.set()  # a batch failed (a deadlock, a lock timeout): look again soon
            except Exception:  # noqa: BLE001 - the bodies are stored: try again shortly
                log.exception("webhook applier pass failed; retrying")
                _quietly(db.session.rollback)
                time.sleep(1.0)
                self._wake.set()
            finally:
                _quietly(db.session.remove)


def _quietly(clean_up) -> None:
    """A rollback or remove that fails (a dead connection) must not end the applier thread."""
    try:
        clean_up()
    except Exception:  # noqa: BLE001 - logged; the session is rebuilt on the next use
        log.exception("webhook applier: %s failed", getattr(clean_up, "__name__", "clean-up"))


def wait_idle(app) -> None:
    """Wait for this process's applier of `app` to finish what it is doing, if it has one."""
    applier = app_state(app).webhook_applier
    if applier is not None:
        applier.wait_idle()


def listening(app) -> bool:
    """Whether stored bodies are applied by the applier process (woken by NOTIFY) rather than by
    a thread of the web process that stored them: on PostgreSQL, unless WEBHOOK_APPLIER=thread."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    return uri.startswith("postgresql") and app.config.get("WEBHOOK_APPLIER", "process") == "process"


class Notifier(Applier):
    """With the applier process: one thread per web process that sends it a NOTIFY after bodies
    were stored, at most every NOTIFY_PAUSE seconds (the bodies stored meanwhile share one).

    Not in the store's own statement: a transaction that notifies takes a database-wide lock at
    its commit and keeps it through the commit's flush to disk, so every POST's commit would wait
    for the one before (no group commit; 0.19 of the bare insert in a trial, against 0.32 with
    the thread applier). A NOTIFY alone writes nothing to disk: its commit is brief."""

    def __init__(self, app):
        super().__init__(app)
        self._coalesce = NOTIFY_PAUSE
        self._connections = None

    def _pass(self) -> None:
        try:
            if self._connections is None:
                with self.app.app_context():
                    self._connections = DriverConnections.of(db.engine)
            self._connections.execute(NOTIFY)  # a dropped connection is replaced at once
        except Exception:  # noqa: BLE001 - the applier process also looks every POLL_SECONDS
            log.exception("webhook applier could not be notified; retrying")
            time.sleep(1.0)
            self._wake.set()


NOTIFY = f"NOTIFY {NOTIFY_CHANNEL}"


def wake(app) -> None:
    """Tell this process's applier that a body is waiting (starts it if needed); with the applier
    process, tell it through this process's notifier."""
    state = app_state(app)
    if listening(app):
        if state.webhook_notifier is None:
            state.webhook_notifier = Notifier(app)
        state.webhook_notifier.wake()
        return
    if state.webhook_applier is None:
        state.webhook_applier = Applier(app)
    state.webhook_applier.wake()


def listen(app, *, coalesce: float = COALESCE_DEFAULT, poll: float = POLL_SECONDS, stopping=None) -> None:
    """The applier process (`flask handoffs applier`): LISTEN for stored bodies, apply them in bulk.

    A pass starts at most every `coalesce` seconds, so the bodies stored meanwhile share it, and
    at least every `poll` seconds. Runs until `stopping()` is true (SIGTERM or SIGINT when not
    given). On SQLite (no NOTIFY) the web processes apply, and this only waits to be stopped."""
    if stopping is None:
        stopping = _stop_on_signals()
    if not listening(app):
        log.info("webhook applier: the web processes apply stored bodies here (SQLite or WEBHOOK_APPLIER=thread)")
        while not stopping():
            time.sleep(0.5)
        return
    connection, last_pass, again = None, 0.0, True
    while not stopping():
        try:
            if connection is None:
                connection = _listening_connection(app)
                again = True  # what was stored while we were not listening
            if again or _wait_for_notify(connection, poll, stopping):
                time.sleep(max(0.0, last_pass + coalesce - time.monotonic()))
                _flush_notifies(connection)  # the coming pass takes these bodies too
            last_pass = time.monotonic()
            again = not _listener_pass(app)  # a batch failed: look again shortly, without a NOTIFY
        except Exception:  # noqa: BLE001 - the connection dropped, the database restarts: reconnect
            log.exception("webhook applier: listening failed; reconnecting")
            _quietly(connection.close if connection is not None else (lambda: None))
            connection = None
            time.sleep(1.0)
    if connection is not None:
        _quietly(connection.close)


def _stop_on_signals():
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop.is_set


def _listening_connection(app):
    """A connection of its own, outside the pool and in autocommit, that LISTENs."""

    with app.app_context():
        url = db.engine.url.set(drivername="postgresql")
    connection = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
    return connection


def _wait_for_notify(connection, timeout: float, stopping) -> bool:
    """True when a body was stored (a NOTIFY came) within `timeout` seconds; False on a timeout
    or when asked to stop (looked at twice a second)."""
    deadline = time.monotonic() + timeout
    while not stopping():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if any(True for _ in connection.notifies(timeout=min(left, 0.5), stop_after=1)):
            return True
    return False


def _flush_notifies(connection) -> None:
    """Read the NOTIFYs already here: their bodies were committed before they were sent, so the
    pass about to start sees them; only those stored after it wake the next one."""
    for _ in connection.notifies(timeout=0):
        pass


def _listener_pass(app) -> bool:
    """One drain; False when a batch failed (some bodies may still be pending)."""
    with app.app_context():
        try:
            return not drain()[1]
        except Exception:  # noqa: BLE001 - the bodies stay stored: the next pass takes them
            log.exception("webhook applier pass failed; retrying")
            _quietly(db.session.rollback)
            return False
        finally:
            _quietly(db.session.remove)
