"""The applier keeps going: a failed clean-up, events of any age, and one event the database refuses."""

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from models import Handoff, StatusEvent, WebhookEvent, db, utcnow
from onemsg.webhooks import StatusUpdate
from services import applier, status
from tests.helpers import wait_until

SECRET = "dev-webhook-secret-0123456789abcdef0123"
URL = f"/webhooks/1msg/{SECRET}"


@pytest.fixture
def handoff(make_handoff, make_ticket):
    """The card 1MSG accepted as wamid.AAA, for a customer whose number the samples use."""
    return make_handoff(ticket=make_ticket(customer_phone="+14155552671"), message_id="wamid.AAA")


def ack(*items):
    return {"instanceId": "371267300", "ack": [{"id": message_id, "status": kind} for message_id, kind in items]}


def status_of(handoff_id: int) -> str:
    db.session.commit()  # a new transaction sees the applier's commit
    found = db.session.scalar(select(Handoff.status).where(Handoff.id == handoff_id))
    db.session.commit()  # and ends at once: on SQLite it holds the write lock the applier needs
    return found


def test_the_applier_thread_survives_a_pass_whose_clean_up_fails(app, client, handoff, monkeypatch):
    """A pass fails, and so do its rollback and the session's removal (a dead connection): the
    thread goes on (or is started again), and the next body is applied without any worker."""
    failures = {"drain": 1, "rollback": 1, "remove": 1}
    real = {"drain": applier.drain, "rollback": db.session.rollback, "remove": db.session.remove}

    def failing(name):
        def run(*args, **kwargs):
            if failures[name] and applier.threading.current_thread().name == "webhook-applier":
                failures[name] -= 1
                raise RuntimeError(f"{name} failed (test)")
            return real[name](*args, **kwargs)

        return run

    for name in failures:
        monkeypatch.setattr(applier if name == "drain" else db.session, name, failing(name))
    assert client.post(URL, json=ack(("wamid.AAA", "sent"))).status_code == 200
    assert wait_until(lambda: not any(failures.values()), timeout=15), "the failing pass never ran"
    assert client.post(URL, json=ack(("wamid.AAA", "read"))).status_code == 200
    applied_read = wait_until(lambda: status_of(handoff.id) == "read", timeout=10)
    assert applied_read, "no applier applied the bodies after the failure"
    assert db.session.scalar(select(WebhookEvent.id).where(WebhookEvent.applied_at.is_(None))) is None


def test_an_unapplied_event_older_than_an_hour_is_still_applied(app, handoff):
    """After a long outage the worker's backstop still applies events whose handoff is known."""
    received = utcnow() - timedelta(hours=30)
    status.store_statuses(
        [status.status_row(StatusUpdate(message_id="wamid.AAA", status="delivered", occurred_at=None), received)]
    )
    db.session.commit()
    assert db.session.scalar(select(StatusEvent.applied)) is False
    bodies, swept = applier.backstop()
    assert swept == 1
    assert status_of(handoff.id) == "delivered"
    assert db.session.scalar(select(StatusEvent.applied)) is True


def test_the_older_sweep_moves_on_range_by_range(app, handoff, monkeypatch):
    """Each worker pass looks at the next range of ids, and starts over after the last."""
    monkeypatch.setattr(status, "SWEEP_SPAN", 2)
    old = utcnow() - timedelta(hours=5)
    rows = [
        status.status_row(StatusUpdate(message_id=f"wamid.OTHER{n}", status="sent", occurred_at=None), old)
        for n in range(4)
    ]
    rows.append(status.status_row(StatusUpdate(message_id="wamid.AAA", status="read", occurred_at=None), old))
    for row in rows:  # one by one: the event of ours gets the last id
        status.store_statuses([row])
    db.session.commit()
    first = min(db.session.scalars(select(StatusEvent.id)))
    backstop = applier.Backstop(older_from=first - 1)
    seen = []
    for _ in range(3):
        seen.append((backstop.run()[1], backstop.older_from))
    assert seen == [(0, first + 1), (0, first + 3), (1, 0)], "3 ranges of 2 ids: the event of ours is in the last"
    assert status_of(handoff.id) == "read"


@pytest.fixture
def refusing_database(app):
    """A trigger refuses one message id: a database error the applier cannot foresee (not transient)."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_for_test() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.message_id = 'wamid.REFUSED' THEN RAISE EXCEPTION 'refused by the test'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_for_test BEFORE INSERT ON status_events FOR EACH ROW "
                    "EXECUTE FUNCTION refuse_for_test()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_for_test BEFORE INSERT ON status_events "
                    "WHEN NEW.message_id = 'wamid.REFUSED' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
    yield
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_for_test" + (" ON status_events" if dialect == "postgresql" else "")))
        if dialect == "postgresql":
            conn.execute(text("DROP FUNCTION refuse_for_test()"))


def test_an_event_the_database_refuses_costs_only_itself(app, client, handoff, refusing_database):
    """The batch fails, then the body alone fails: its other events are still applied, the refusal
    is written on the body's row, and the body is not retried forever."""
    response = client.post(
        URL, json=ack(("wamid.REFUSED", "sent"), ("wamid.AAA", "delivered"), ("wamid.OTHER", "read"))
    )
    assert response.status_code == 200
    db.session.commit()
    applier.drain(skip_locked=False)
    assert status_of(handoff.id) == "delivered"
    stored = db.session.get(WebhookEvent, response.get_json()["stored_as"])
    assert stored.applied_at is not None
    assert stored.status_count == 2
    assert "wamid.REFUSED" in stored.parse_error and "refused by the test" in stored.parse_error
    kept = set(db.session.scalars(select(StatusEvent.message_id)))
    assert kept == {"wamid.AAA", "wamid.OTHER"}


def test_a_body_applied_event_by_event_locks_its_handoffs_before_inserting(app, client, handoff, refusing_database):
    """PostgreSQL: the event-by-event path takes the handoff's lock before it inserts any event, as
    every other path does. Inserting first, it held the event's insert while waiting for the
    handoff, and an applier holding the handoff while inserting the same event deadlocked with it."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and their order are PostgreSQL's (SQLite has one writer at a time)")
    holder = db.engine.connect()
    holding = holder.begin()

    class TakeTheHandoffFirst(logging.Handler):
        def emit(self, record):  # the batch has failed; the body is about to go event by event
            if "event by event" in record.getMessage() and not holding_lock:
                holder.execute(text("SELECT id FROM handoffs WHERE id = :id FOR UPDATE"), {"id": handoff.id})
                holding_lock.append(True)

    holding_lock, taker = [], TakeTheHandoffFirst()
    logging.getLogger("services.applier").addHandler(taker)
    response = client.post(URL, json=ack(("wamid.REFUSED", "sent"), ("wamid.AAA", "delivered")))
    assert response.status_code == 200
    db.session.commit()
    runner = threading.Thread(target=lambda: app.app_context().push() or applier.drain(skip_locked=False))
    try:
        runner.start()
        assert wait_until(lambda: holding_lock and waiting_on_a_lock(holder) >= 1, 10)
        # The applier waits for our lock. Had it inserted its event first, this insert of the same
        # event would wait for the applier's transaction: a cycle, with our lock.
        holder.execute(text("SET LOCAL lock_timeout = '2s'"))
        holder.execute(
            text(
                "INSERT INTO status_events (message_id, status, received_at, applied) "
                "VALUES ('wamid.AAA', 'delivered', now(), false) ON CONFLICT DO NOTHING"
            )
        )
        holding.rollback()
        runner.join(15)
        assert not runner.is_alive()
    finally:
        logging.getLogger("services.applier").removeHandler(taker)
        if holding.is_active:
            holding.rollback()
        holder.close()
        runner.join(15)
    assert status_of(handoff.id) == "delivered"


def waiting_on_a_lock(holder) -> int:
    """Other sessions of this database now waiting for a lock."""
    return holder.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    ).scalar()
