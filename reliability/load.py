"""Load run: a burst of status webhooks (duplicated, shuffled, concurrent) while agents poll,
then concurrent identical sends, on a real gunicorn.

    .venv/bin/python -m reliability.load --db sqlite
    .venv/bin/python -m reliability.load --db postgresql   # creates and drops database rel_load

The app runs as scripts/run starts it: gunicorn, and `flask handoffs applier` beside it (on
PostgreSQL it applies the stored webhook bodies; on SQLite the web processes do, and it waits).

Checks: every webhook answered 200 and stored; no event lost or applied twice; every final
status right; no "database is locked", no 5xx and no traceback in the server and applier logs;
N identical sends reach 1MSG once; the 1MSG token and webhook secret appear in no log. Exit
code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from reliability.harness import (
    AGENT_PASSWORD,
    CHANNEL_ID,
    DEFAULT_PG_URL,
    ApplierProcess,
    Database,
    Emulator,
    Gunicorn,
    Report,
    RunSecrets,
    app_environment,
    csrf_token,
    flask_command,
    harness_app,
    logged_in_session,
    percentile,
    secrets_in_logs,
)

PROGRESS = ("sent", "delivered", "read")


def plan_events(message_ids: list[str], unique: int, rng: random.Random) -> tuple[list, dict]:
    """Status events per message (a prefix of sent→delivered→read, some failing), and the
    status each handoff must end at. Returns (events, expected final status by message id)."""
    from models import STATUS_RANK

    events, expected = [], {}
    for message_id in message_ids:
        if len(events) >= unique:
            break
        reached = PROGRESS[: rng.randint(1, 3)]
        chosen = list(reached) + (["failed"] if rng.random() < 0.1 else [])
        chosen = chosen[: max(1, unique - len(events))]
        events += [(message_id, status) for status in chosen]
        expected[message_id] = max(["accepted", *chosen], key=STATUS_RANK.__getitem__)
    return events, expected


def seed(app, handoff_count: int, agent_count: int) -> dict:
    """Users, a specialist, tickets and accepted handoffs waiting for their statuses."""
    from models import Handoff, Specialist, Ticket, User, db
    from services.passwords import hash_password

    with app.app_context():
        password_hash = hash_password(AGENT_PASSWORD)  # one hash for every agent: seeding stays quick
        agents = [
            User(email=f"load-agent{n}@example.com", name=f"Agent {n}", role="agent", password_hash=password_hash)
            for n in range(agent_count)
        ]
        specialist = Specialist(
            display_name="Load Specialist", first_name="Load", last_name="Specialist", phone="+12025550199", tags="load"
        )
        tickets = [
            Ticket(
                external_ref=f"LOAD-{n}",
                subject="Load",
                customer_name=f"Customer {n}",
                customer_phone=f"+1415555{3000 + n:04d}",
                status="ready",
            )
            for n in range(20)
        ]
        db.session.add_all([*agents, specialist, *tickets])
        db.session.flush()
        # tickets[0] is kept free of handoffs for the concurrent sends.
        handoffs = [
            Handoff(
                ticket_id=tickets[1 + n % 19].id,
                specialist_id=specialist.id,
                idempotency_key=f"load-{n}",
                customer_phone=tickets[1 + n % 19].customer_phone,
                card_snapshot={"name": {"formatted_name": "Load Specialist"}},
                message_id=f"wamid.LOAD{n:06d}",
                status="accepted",
                status_rank=2,
            )
            for n in range(handoff_count)
        ]
        db.session.add_all(handoffs)
        db.session.commit()
        return {
            "agents": [a.email for a in agents],
            "specialist_id": specialist.id,
            "ticket_id": tickets[0].id,
            "ticket_phone": tickets[0].customer_phone,
            "handoffs": {h.message_id: h.id for h in handoffs},
        }


def post_webhooks(url: str, bodies: list[dict], senders: int) -> tuple[list[int], list[float]]:
    """POST every body once from `senders` concurrent connections; (status codes, latencies)."""
    codes, latencies, lock = [], [], threading.Lock()
    chunks = [bodies[i::senders] for i in range(senders)]

    def sender(chunk):
        session = requests.Session()
        for body in chunk:
            started = time.monotonic()
            try:
                code = session.post(url, json=body, timeout=30).status_code
            except requests.RequestException:
                code = 0
            with lock:
                codes.append(code)
                latencies.append(time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(sender, chunks))
    return codes, latencies


class Pollers:
    """Agents watching live status fragments, as htmx does, until told to stop."""

    def __init__(self, base_url: str, sessions: list[requests.Session], handoff_ids: list[int]):
        self.base_url, self.sessions, self.handoff_ids = base_url, sessions, handoff_ids
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors: list = []  # status codes other than 200, or the error's name
        self.retried: list[str] = []
        self.threads = [
            threading.Thread(target=self._poll, args=(s, random.Random(i)), daemon=True) for i, s in enumerate(sessions)
        ]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _poll(self, session: requests.Session, rng: random.Random) -> None:
        while not self.stop.is_set():
            url = f"{self.base_url}/handoffs/{rng.choice(self.handoff_ids)}/status"
            started = time.monotonic()
            code = self._get(session, url)
            self.latencies.append(time.monotonic() - started)
            if code != 200:
                self.errors.append(code)
            self.stop.wait(0.05)

    def _get(self, session: requests.Session, url: str):
        """One poll; a keep-alive connection closed by the server under us is retried once,
        as browsers do for a GET (counted in `retried`)."""
        for attempt in (1, 2):
            try:
                return session.get(url, timeout=30, headers={"HX-Request": "true"}).status_code
            except requests.ConnectionError as exc:
                if attempt == 2:
                    return type(exc).__name__
                self.retried.append(type(exc).__name__)
            except requests.RequestException as exc:
                return type(exc).__name__


def webhook_burst(args, server: Gunicorn, run: RunSecrets, data: dict, sessions, report: Report) -> dict:
    """The burst: unique events plus duplicates, shuffled, from concurrent senders, while agents poll."""
    rng = random.Random(args.seed)
    unique = round(args.webhooks * (1 - args.duplicates))
    events, expected = plan_events(list(data["handoffs"]), unique, rng)
    posted = events + [rng.choice(events) for _ in range(args.webhooks - len(events))]
    rng.shuffle(posted)
    bodies = [{"instanceId": CHANNEL_ID, "ack": [{"id": mid, "status": status}]} for mid, status in posted]
    url = f"{server.url}/webhooks/1msg/{run.webhook_secret}"
    started = time.monotonic()
    with Pollers(server.url, sessions, list(data["handoffs"].values())) as pollers:
        codes, latencies = post_webhooks(url, bodies, args.senders)
    elapsed = time.monotonic() - started
    report.figure(
        "webhooks posted",
        f"{len(bodies)} ({len(events)} distinct events, "
        f"{len(bodies) - len(events)} duplicates) from {args.senders} senders",
    )
    report.figure(
        "webhook burst",
        f"{elapsed:.1f} s, {len(bodies) / elapsed:.0f}/s; latency p50 "
        f"{percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms",
    )
    report.figure(
        "status polls",
        f"{len(pollers.latencies)} by {len(sessions)} agents; p50 "
        f"{percentile(pollers.latencies, 0.5) * 1000:.0f} ms, p95 "
        f"{percentile(pollers.latencies, 0.95) * 1000:.0f} ms, errors {len(pollers.errors)} "
        f"{dict(Counter(pollers.errors))}, connection resets retried {len(pollers.retried)}",
    )
    report.check(codes.count(200) == len(bodies), f"every webhook answered 200 ({codes.count(200)}/{len(bodies)})")
    report.check(not pollers.errors, f"every poll answered 200 (non-200: {len(pollers.errors)})")
    return {"events": events, "expected": expected, "posted": len(bodies)}


APPLY_WAIT_SECONDS = 30


def wait_until_applied(app) -> int:
    """Wait for the appliers to take every stored body; returns how many are still pending."""
    from sqlalchemy import func, select

    from models import WebhookEvent, db

    deadline = time.monotonic() + APPLY_WAIT_SECONDS
    while True:
        pending = db.session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.applied_at.is_(None))
        )
        db.session.rollback()
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.1)


def verify_burst(app, burst: dict, report: Report) -> None:
    """Nothing lost, nothing applied twice, every final status right — read from the database."""
    from sqlalchemy import func, select

    from models import Handoff, StatusEvent, WebhookEvent, db

    with app.app_context():
        # The receiver answers once the body is stored; the applier follows within moments.
        pending = wait_until_applied(app)
        stored = db.session.scalar(select(func.count()).select_from(WebhookEvent))
        kept = set(db.session.execute(select(StatusEvent.message_id, StatusEvent.status)).all())
        unapplied = db.session.scalar(
            select(func.count()).select_from(StatusEvent).where(StatusEvent.applied.is_(False))
        )
        finals = dict(db.session.execute(select(Handoff.message_id, Handoff.status)).all())
        db.session.rollback()
    distinct = set(burst["events"])
    lost = distinct - kept
    wrong = {mid: (finals.get(mid), want) for mid, want in burst["expected"].items() if finals.get(mid) != want}
    report.figure("events lost", len(lost))
    report.figure("final statuses wrong", f"{len(wrong)} of {len(burst['expected'])} handoffs")
    report.check(stored == burst["posted"], f"every POST stored before it was applied ({stored}/{burst['posted']})")
    report.check(pending == 0, f"every stored body applied within {APPLY_WAIT_SECONDS} s (still pending: {pending})")
    report.check(
        not lost and len(kept) == len(distinct), f"each distinct event kept exactly once ({len(kept)}/{len(distinct)})"
    )
    report.check(unapplied == 0, f"every event applied to its handoff (unapplied: {unapplied})")
    report.check(not wrong, f"every final status right (wrong: {dict(list(wrong.items())[:5])})")


def concurrent_sends(args, server: Gunicorn, emulator: Emulator, app, data: dict, report: Report) -> None:
    """N identical submits of one send form at once: one sendContact, one handoff."""
    from sqlalchemy import func, select

    from models import Handoff, InboundMessage, db

    emulator.open_window(data["ticket_phone"])  # 1MSG posts the customer's message to our webhook
    with app.app_context():
        deadline = time.monotonic() + 20
        while not db.session.scalar(select(func.count()).select_from(InboundMessage)) and time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.1)
        db.session.rollback()
    sessions = [logged_in_session(server.url, data["agents"][0]) for _ in range(min(args.sends, 5))]
    page_url = f"{server.url}/tickets/{data['ticket_id']}"
    tokens = [csrf_token(s.get(page_url, timeout=30).text) for s in sessions]
    form = {
        "specialist_id": data["specialist_id"],
        "idempotency_key": f"load-form-{uuid.uuid4().hex}",
        "include_intro": "no",
    }
    barrier = threading.Barrier(args.sends)

    def submit(i):
        barrier.wait()
        response = sessions[i % len(sessions)].post(
            f"{page_url}/handoffs",
            data={**form, "csrf_token": tokens[i % len(sessions)]},
            allow_redirects=False,
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=args.sends) as pool:
        codes = list(pool.map(submit, range(args.sends)))
    with app.app_context():
        # Stored in the agent's namespace: "user:<id>:<key>".
        rows = db.session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.idempotency_key.like(f"%:{form['idempotency_key']}"))
        )
        db.session.rollback()
    calls = emulator.sends()
    report.figure(
        "identical sends",
        f"{args.sends} at once -> {calls} sendContact, {rows} handoff row(s), answers {sorted(set(codes))}",
    )
    report.check(calls == 1 and rows == 1, f"{args.sends} identical sends reach 1MSG once ({calls})")
    report.check(all(code == 302 for code in codes), "every identical submit answered (302)")


def check_logs(server: Gunicorn, applier: ApplierProcess, run: RunSecrets, report: Report) -> None:
    """The server's and the applier's logs, read once both have stopped."""
    server_logs, applier_logs = server.logs(), applier.logs()
    logs = server_logs + "\n" + applier_logs
    locked = logs.count("database is locked")
    errors = sum(1 for line in server.access_log.read_text().splitlines() if '" 5' in line)
    leaked = secrets_in_logs(logs, run)
    report.figure(
        "server log",
        f"{len(server_logs.splitlines())} lines; 'database is locked': {locked}; 5xx: {errors}; "
        f"tracebacks: {server_logs.count('Traceback')}",
    )
    report.figure(
        "applier log",
        f"{len(applier_logs.splitlines())} lines; tracebacks: {applier_logs.count('Traceback')}; "
        f"exit code on SIGTERM: {applier.exit_codes}",
    )
    report.check(locked == 0, "no 'database is locked' in the server or applier log")
    report.check(errors == 0 and "Traceback" not in logs, "no 5xx and no traceback in the server and applier logs")
    report.check(applier.exit_codes == [0], f"the applier stopped cleanly on SIGTERM (exit {applier.exit_codes})")
    logged_hooks = server_logs.count("/webhooks/1msg/")
    report.check(logged_hooks > 0, f"the access log records the webhook requests ({logged_hooks} lines) ...")
    report.check(
        not leaked, f"... and no secret appears in the access, error or applier log (found: {leaked or 'none'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-database", default="rel_load")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (no database name)")
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--sends", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", help="also write the figures and checks to this file")
    args = parser.parse_args(argv)
    report = run(args)
    report.print()
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"figures": report.figures, "passed": report.passed, "failed": report.failures}, out, indent=2)
    return 1 if report.failures else 0


def run(args) -> Report:
    report = Report(f"load run on {args.db}: {args.workers} gunicorn workers x {args.threads} threads")
    database, run_secrets = Database(args.db, name=args.pg_database, pg_url=args.pg_url).create(), RunSecrets()
    emulator = Emulator(run_secrets.token)
    server = applier = None
    try:
        env = app_environment(database, emulator.url, run_secrets)
        flask_command(env, "db", "upgrade")
        app = harness_app(database, run_secrets)
        data = seed(app, handoff_count=max(10, args.webhooks // 2), agent_count=args.pollers)
        log_dir = tempfile.mkdtemp(prefix="rel_logs_")
        applier = ApplierProcess(env, log_dir=log_dir)
        server = Gunicorn(env, workers=args.workers, threads=args.threads, log_dir=log_dir)
        emulator.register_webhook(f"{server.url}/webhooks/1msg/{run_secrets.webhook_secret}")
        sessions = [logged_in_session(server.url, email) for email in data["agents"]]
        burst = webhook_burst(args, server, run_secrets, data, sessions, report)
        verify_burst(app, burst, report)
        concurrent_sends(args, server, emulator, app, data, report)
        server.stop()  # flush the logs before reading them
        applier.stop()
        check_logs(server, applier, run_secrets, report)
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
