"""kill -9 between store and apply: the stored body is applied by the worker, nothing is lost.

A real server process stores the body and answers 200; its applier is then stopped inside its
transaction (PostgreSQL: status_events locked, so the applier's insert waits) and the process is
killed. The applier's transaction dies with it; the body is still pending, and one pass of
`flask handoffs worker --once` (a real process) applies it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import select

from models import Handoff, WebhookEvent, db
from tests.helpers import wait_until
from tests.test_send_limit import SERVE

ROOT = Path(__file__).resolve().parent.parent
SECRET = "dev-webhook-secret-0123456789abcdef0123"


def _applier_waiting(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%%status_events%%'"
            ).fetchone()[0]
            > 0
        )


def test_a_body_stored_by_a_killed_process_is_applied_by_the_worker(database_url, make_app, make_handoff):
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "not checked on SQLite: stopping the applier after the store needs a lock that the "
            "request's own insert does not take (SQLite has one lock for every writer)"
        )
    make_app()  # the tables this test fills are emptied after it
    make_handoff(message_id="wamid.CRASH")
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, json.dumps({"SQLALCHEMY_DATABASE_URI": database_url})],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        with psycopg.connect(plain_url) as lock:
            lock.execute("LOCK TABLE status_events IN ACCESS EXCLUSIVE MODE")
            answer = requests.post(
                f"{base_url}/webhooks/1msg/{SECRET}",
                timeout=10,
                json={"ack": [{"id": "wamid.CRASH", "status": "delivered"}]},
            )
            assert answer.status_code == 200, "the body is stored and answered while status_events is locked"
            reached = wait_until(lambda: _applier_waiting(plain_url), timeout=10)
            assert reached, "the applier never reached status_events"
            server.kill()  # SIGKILL, inside the applier's transaction
            server.wait()
            lock.rollback()
        stored = db.session.get(WebhookEvent, answer.json()["stored_as"])
        assert stored is not None and stored.applied_at is None, "the killed applier's work is rolled back"
        assert db.session.scalar(select(Handoff.status).where(Handoff.message_id == "wamid.CRASH")) == "accepted"
        db.session.commit()

        env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development", "ONEMSG_API_URL": ""}
        worker = subprocess.run(
            [str(Path(sys.executable).parent / "flask"), "--app", "app", "handoffs", "worker", "--once"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert worker.returncode == 0, worker.stderr[-2000:]
        db.session.expire_all()
        assert db.session.scalar(select(Handoff.status).where(Handoff.message_id == "wamid.CRASH")) == "delivered"
        assert db.session.get(WebhookEvent, stored.id).applied_at is not None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
