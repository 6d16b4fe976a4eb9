"""Crash run: kill -9 the process applying a webhook, and gunicorn's workers in the middle of a send.

    .venv/bin/python -m reliability.crash --db sqlite
    .venv/bin/python -m reliability.crash --db postgresql   # creates and drops database rel_crash

The app runs as scripts/run starts it: gunicorn, and `flask handoffs applier` beside it.

1. Webhook: the database is held locked and a webhook is posted; 1MSG (played by this script)
   then delivers it again, twice. On PostgreSQL (status_events locked) the web process stores
   the body and answers, and the applier process, woken by its NOTIFY, claims the body and
   waits inside its transaction: that process is killed and started again, a kill -9 between
   store and apply. On SQLite, where a thread of each web process applies and one lock serves
   every writer, the store itself waits, the workers are killed and the POST gets no 2xx.
   Checks: what was committed before the crash is still there, every stored body is applied
   after the restart, the event is kept once and applied once.
2. Send: 1MSG records the card but answers slowly (emulator fault 0004); the workers are killed
   while waiting, i.e. after 1MSG accepted and before our commit. Checks: the row is left
   "sending", the same form resubmitted sends nothing, `flask handoffs reconcile` leaves it
   alone while it may still be in flight, then settles it from 1MSG's history: one sendContact.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import tempfile
import threading
import time
import uuid
from datetime import timedelta

import requests

from reliability.harness import (
    AGENT_PASSWORD,
    APPLIER_APP_NAME,
    CHANNEL_ID,
    DEFAULT_PG_URL,
    ApplierProcess,
    Database,
    Emulator,
    Gunicorn,
    Report,
    RunSecrets,
    app_environment,
    applier_process_applies,
    csrf_token,
    flask_command,
    harness_app,
    logged_in_session,
    secrets_in_logs,
)
from reliability.load import wait_until_applied

SLOW_SECONDS = 6.0


@contextlib.contextmanager
def database_held(database: Database):
    """Block every writer: SQLite's write lock, or PostgreSQL's lock on status_events."""
    if database.kind == "sqlite":
        conn = sqlite3.connect(database.url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        conn = psycopg.connect(database.url)
        conn.execute("LOCK TABLE status_events IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()


def applier_waiting(database: Database, timeout: float = 10) -> int:
    """PostgreSQL: wait until the applier process's session waits for the lock on status_events
    (it has claimed the body, inside its transaction); returns how many of its sessions wait."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(database.url, autocommit=True) as conn:
        while True:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = %s AND wait_event_type = 'Lock' AND query ILIKE %s",
                (APPLIER_APP_NAME, "%status_events%"),
            ).fetchone()[0]
            if waiting or time.monotonic() > deadline:
                return waiting
            time.sleep(0.05)


def seed(app) -> dict:
    from models import Handoff, Specialist, Ticket, User, db
    from services.passwords import hash_password

    with app.app_context():
        agent = User(
            email="crash-agent@example.com",
            name="Crash Agent",
            role="agent",
            password_hash=hash_password(AGENT_PASSWORD),
        )
        specialist = Specialist(
            display_name="Crash Specialist",
            first_name="Crash",
            last_name="Specialist",
            phone="+12025550198",
            tags="crash",
        )
        hooked = Ticket(
            external_ref="CRASH-HOOK",
            subject="Crash",
            customer_name="Hook",
            customer_phone="+14155554001",
            status="ready",
        )
        slow = Ticket(
            external_ref="CRASH-SEND",
            subject="Crash",
            customer_name="Slow",
            customer_phone="+14155550004",
            status="ready",
        )
        db.session.add_all([agent, specialist, hooked, slow])
        db.session.flush()
        handoff = Handoff(
            ticket_id=hooked.id,
            specialist_id=specialist.id,
            idempotency_key="crash-hook",
            customer_phone=hooked.customer_phone,
            card_snapshot={"name": {"formatted_name": "Crash"}},
            message_id="wamid.CRASH1",
            status="accepted",
            status_rank=2,
        )
        db.session.add(handoff)
        db.session.commit()
        return {
            "email": agent.email,
            "specialist_id": specialist.id,
            "slow_ticket": slow.id,
            "slow_phone": slow.customer_phone,
            "handoff": handoff.id,
        }


def ack(status: str) -> dict:
    return {"instanceId": CHANNEL_ID, "ack": [{"id": "wamid.CRASH1", "status": status}]}


def in_background(call) -> tuple[threading.Thread, dict]:
    """Run a request in a thread; its outcome (status code or error name) lands in the dict."""
    outcome: dict = {}

    def target():
        try:
            outcome["answer"] = call().status_code
        except requests.RequestException as exc:
            outcome["answer"] = type(exc).__name__

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def webhook_crash(
    server: Gunicorn, applier: ApplierProcess, database: Database, app, webhook_url: str, report: Report
) -> None:
    from sqlalchemy import func, select

    from models import Handoff, StatusEvent, WebhookEvent, db

    by_process = applier_process_applies(database, applier.env)
    before = requests.post(webhook_url, json=ack("sent"), timeout=10).status_code
    with app.app_context():
        wait_until_applied(app)  # "sent" is applied before the database is held
    with database_held(database):
        thread, outcome = in_background(lambda: requests.post(webhook_url, json=ack("delivered"), timeout=30))
        if by_process:
            waiting = applier_waiting(database)
            killed = f"the applier process [{applier.kill()}]"
        else:
            waiting = None
            time.sleep(1.5)  # the request is inside a worker, waiting for the write lock
            killed = f"the workers {server.kill_workers()}"
        thread.join(10)
    if by_process:
        applier.start()  # as its supervisor would; the killed one's claim ends with its transaction
    server.wait_ready()
    retries = [requests.post(webhook_url, json=ack("delivered"), timeout=10).status_code for _ in range(2)]
    with app.app_context():
        pending = wait_until_applied(app)  # the restarted applier takes what was stored
        handoff = db.session.scalar(select(Handoff).where(Handoff.message_id == "wamid.CRASH1"))
        kept = db.session.execute(
            select(StatusEvent.status, func.count())
            .where(StatusEvent.message_id == "wamid.CRASH1")
            .group_by(StatusEvent.status)
        ).all()
        stored = db.session.scalar(select(func.count()).select_from(WebhookEvent))
        final, delivered_at = handoff.status, handoff.delivered_at
        db.session.rollback()
    report.figure(
        "webhook crash",
        f"killed {killed} mid-webhook (answer seen by 1MSG: {outcome.get('answer')}); "
        f"redelivered twice -> {retries}; status events {dict(kept)}; raw bodies stored {stored}",
    )
    if by_process:
        # PostgreSQL: the body was stored and answered; the applier process's insert into
        # status_events waited, and the process died there: a kill -9 between store and apply.
        report.check(waiting >= 1, f"the killed applier process was inside its transaction ({waiting} session waiting)")
        report.check(
            before == 200 and outcome.get("answer") == 200,
            "the webhook in flight was stored and answered before the kill",
        )
        expected, which = 4, "before + the killed one + 2 redeliveries"
    else:  # SQLite: one lock for every writer, so the store itself waited and died with the worker
        report.check(
            before == 200 and isinstance(outcome.get("answer"), str), "the webhook in flight died without a 2xx"
        )
        expected, which = 3, "before + 2 redeliveries"
    report.check(retries == [200, 200], "1MSG's redeliveries after the restart are accepted")
    report.check(pending == 0, f"every stored body applied after the restart (pending: {pending})")
    report.check(dict(kept) == {"sent": 1, "delivered": 1}, "nothing lost, nothing applied twice (one row per event)")
    report.check(final == "delivered" and delivered_at is not None, f"the handoff ends delivered ({final})")
    report.check(stored == expected, f"no half-written row, nothing lost ({stored} bodies: {which})")


def open_window(emulator: Emulator, app, phone: str) -> None:
    """The customer writes; 1MSG posts it to our webhook; wait until it is stored."""
    from sqlalchemy import select

    from models import InboundMessage, db

    emulator.open_window(phone)
    with app.app_context():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = db.session.scalar(select(InboundMessage.id).where(InboundMessage.customer_phone == phone))
            db.session.rollback()
            if found:
                return
            time.sleep(0.1)
    raise RuntimeError("the customer's message never reached the app")


def send_crash(server: Gunicorn, emulator: Emulator, app, env: dict, data: dict, report: Report) -> None:
    open_window(emulator, app, data["slow_phone"])
    session = logged_in_session(server.url, data["email"])
    page = f"{server.url}/tickets/{data['slow_ticket']}"
    form = {
        "specialist_id": data["specialist_id"],
        "idempotency_key": f"crash-{uuid.uuid4().hex}",
        "include_intro": "no",
        "csrf_token": csrf_token(session.get(page, timeout=30).text),
    }
    thread, outcome = in_background(
        lambda: session.post(f"{page}/handoffs", data=form, allow_redirects=False, timeout=60)
    )
    deadline = time.monotonic() + 20
    while emulator.sends() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # 1MSG has recorded the card and is taking its time to answer
    killed = server.kill_workers()
    thread.join(15)
    server.wait_ready()
    left = handoff_state(app, form["idempotency_key"])
    resubmit = session.post(f"{page}/handoffs", data=form, allow_redirects=False, timeout=30).status_code
    early = flask_command(env, "handoffs", "reconcile").strip()
    still = handoff_state(app, form["idempotency_key"])
    backdate(app, form["idempotency_key"])  # as if the client's longest wait had passed
    settled_report = flask_command(env, "handoffs", "reconcile").strip()
    settled = handoff_state(app, form["idempotency_key"])
    calls = emulator.sends()
    report.figure(
        "send crash",
        f"killed workers {killed} while 1MSG was answering (agent saw: {outcome.get('answer')}); "
        f"row after restart: {left[0]}; resubmit -> {resubmit}; reconcile too early: '{early}', "
        f"row {still[0]}; after the wait: '{settled_report}', row {settled[0]} {settled[1]}; "
        f"sendContact calls {calls}",
    )
    report.check(left[0] == "sending" and left[1] is None, "after the crash the send is left 'sending', not guessed")
    report.check(resubmit == 302, "the same form resubmitted is answered without sending again")
    report.check(still[0] == "sending", "reconcile leaves a send alone while it may still be in flight")
    report.check(
        settled[0] in ("accepted", "sent", "delivered", "read") and (settled[1] or "").startswith("wamid."),
        "reconcile settles it from 1MSG's history with the real message id",
    )
    report.check(calls == 1, f"the card went to 1MSG exactly once ({calls} sendContact)")


def check_applier_log(applier: ApplierProcess, run: RunSecrets, report: Report) -> None:
    """Every start's output of the applier process, read once it has stopped (a kill -9 writes nothing)."""
    logs = applier.logs()
    leaked = secrets_in_logs(logs, run)
    report.figure(
        "applier log",
        f"{len(logs.splitlines())} lines; tracebacks: {logs.count('Traceback')}; exit codes: {applier.exit_codes}",
    )
    report.check("Traceback" not in logs, "no traceback in the applier's log")
    report.check(applier.exit_codes[-1:] == [0], "the applier process running at the end stopped cleanly on SIGTERM")
    report.check(not leaked, f"no secret in the applier's log (found: {leaked or 'none'})")


def handoff_state(app, key: str) -> tuple[str | None, str | None]:
    from sqlalchemy import select

    from models import Handoff, db

    with app.app_context():
        # A form's key is stored in its user's namespace ("user:<id>:<key>").
        row = db.session.execute(
            select(Handoff.status, Handoff.message_id).where(Handoff.idempotency_key.like(f"%:{key}"))
        ).first()
        db.session.rollback()
    return tuple(row) if row else (None, None)


def backdate(app, key: str) -> None:
    from sqlalchemy import select

    from models import Handoff, db

    with app.app_context():
        handoff = db.session.scalar(select(Handoff).where(Handoff.idempotency_key.like(f"%:{key}")))
        handoff.created_at -= timedelta(minutes=2)
        db.session.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-database", default="rel_crash")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (no database name)")
    args = parser.parse_args(argv)
    report = run(args)
    report.print()
    return 1 if report.failures else 0


def run(args) -> Report:
    report = Report(f"crash run on {args.db}")
    database, run_secrets = Database(args.db, name=args.pg_database, pg_url=args.pg_url).create(), RunSecrets()
    emulator = Emulator(run_secrets.token, slow_seconds=SLOW_SECONDS)
    server = applier = None
    try:
        env = app_environment(database, emulator.url, run_secrets)
        flask_command(env, "db", "upgrade")
        app = harness_app(database, run_secrets)
        data = seed(app)
        log_dir = tempfile.mkdtemp(prefix="rel_crash_logs_")
        applier = ApplierProcess(env, log_dir=log_dir)
        server = Gunicorn(env, workers=2, threads=4, log_dir=log_dir)
        webhook_url = f"{server.url}/webhooks/1msg/{run_secrets.webhook_secret}"
        emulator.register_webhook(webhook_url)
        webhook_crash(server, applier, database, app, webhook_url, report)
        send_crash(server, emulator, app, env, data, report)
        applier.stop()
        check_applier_log(applier, run_secrets, report)
        with app.app_context():
            from models import db

            db.engine.dispose()
    finally:
        if server is not None:
            server.stop()
        if applier is not None:
            applier.stop()
        emulator.stop()
        database.drop()
    return report


if __name__ == "__main__":
    raise SystemExit(main())
