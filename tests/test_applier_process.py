"""The applier process (`flask handoffs applier`) on PostgreSQL: the web process only stores, the
store's NOTIFY wakes the applier, and while no applier runs the worker's pass applies."""

import threading

import pytest
from sqlalchemy import select, text

from models import Handoff, WebhookEvent, db
from services import applier, worker
from services.app_state import app_state
from tests.helpers import wait_until

SECRET = "dev-webhook-secret-0123456789abcdef0123"


@pytest.fixture
def process_app(make_app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite the web processes apply (tests/test_applier.py)")
    return make_app(WEBHOOK_APPLIER="process")


@pytest.fixture
def handoff(app, make_handoff):
    """A handoff 1MSG accepted, waiting for its acks."""
    return make_handoff(message_id="wamid.APPLIERPROCESS")


@pytest.fixture
def running_applier(process_app):
    """`applier.listen` as `flask handoffs applier` runs it, in a thread; it only looks when woken
    (a poll of a minute: within a test's wait, only a NOTIFY can wake it)."""
    stop = threading.Event()
    thread = threading.Thread(target=applier.listen, args=(process_app,), kwargs=dict(poll=60.0, stopping=stop.is_set))
    thread.start()
    yield thread
    stop.set()
    thread.join(70)


def post_ack(app, status: str) -> int:
    answer = app.test_client().post(
        f"/webhooks/1msg/{SECRET}", json={"ack": [{"id": "wamid.APPLIERPROCESS", "status": status}]}
    )
    assert answer.status_code == 200
    return answer.get_json()["stored_as"]


def status_of(handoff) -> str:
    return db.session.scalar(select(Handoff.status).where(Handoff.id == handoff.id))


def applied(body_id: int) -> bool:
    return db.session.scalar(select(WebhookEvent.applied_at).where(WebhookEvent.id == body_id)) is not None


def test_the_notified_applier_applies_and_the_web_process_only_stores(process_app, handoff, running_applier):
    first = post_ack(process_app, "sent")
    assert wait_until(lambda: applied(first), timeout=10)  # applied at its start, or woken
    second = post_ack(process_app, "delivered")
    assert wait_until(lambda: applied(second), timeout=10)  # only the NOTIFY can wake it this soon
    assert status_of(handoff) == "delivered"
    assert app_state(process_app).webhook_applier is None  # no applier thread in the web process


def test_the_applier_reconnects_when_its_connection_is_cut(process_app, handoff, running_applier):
    assert wait_until(lambda: _listener_pids(), timeout=10)
    db.session.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
                       {"pids": _listener_pids()})  # fmt: skip
    db.session.commit()
    body = post_ack(process_app, "read")
    assert wait_until(lambda: applied(body), timeout=15)  # on its new connection's first look
    assert status_of(handoff) == "read"


def _listener_pids() -> list[int]:
    pids = db.session.scalars(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query = 'LISTEN webhook_events' AND pid <> pg_backend_pid()"
        )
    ).all()
    db.session.commit()
    return pids


def test_with_no_applier_running_the_body_waits_and_the_worker_applies_it(process_app, handoff):
    body = post_ack(process_app, "read")
    assert not applied(body)  # stored and answered; no thread of the web process applies it
    with process_app.app_context():
        worker.apply_webhooks(applier.Backstop())
    assert applied(body)
    assert status_of(handoff) == "read"


def test_where_the_web_processes_apply_the_applier_process_only_waits(make_app):
    app = make_app(WEBHOOK_APPLIER="thread")  # as on SQLite
    stop = threading.Event()
    thread = threading.Thread(target=applier.listen, args=(app,), kwargs=dict(stopping=stop.is_set))
    thread.start()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
