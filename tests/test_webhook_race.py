"""Acks racing the send's commit: a stand-in 1MSG posts each ack 0-30 ms after answering.

The ack often reaches our webhook while the send's transaction (which records the message
id) is still open, so neither side sees the other's uncommitted row. Whatever the order of
the two commits, every handoff must end at its last status, with no worker sweeping up.
"""

import itertools
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask, request
from sqlalchemy import func, select

from models import Handoff, Specialist, StatusEvent, Ticket, WebhookEvent, db, utcnow
from onemsg.emulator import serve_in_thread
from services import handoffs, status
from tests.conftest import LiveServer, wait_until

HANDOFFS = 200
# SQLite has one write lock for every writer: with 8 senders and their acks all waiting on it,
# a loaded machine (load average 15+ on two cores) starved some past the 10 s busy timeout.
SENDERS = {"postgresql": 8, "sqlite": 4}
MAX_ACK_DELAY = 0.030
CHANNEL, TOKEN = "371267301", "race-token-0c1d"
ENDINGS = {
    "read": [("sent", None), ("delivered", None), ("read", None)],
    "failed": [("sent", None), ("failed", "Message undeliverable")],
}


class FastOneMsg:
    """Answers every send at once with a new message id, then posts its acks 0-30 ms later."""

    def __init__(self, acks: list[tuple[str, str | None]], seed: int):
        self.acks, self.webhook_url, self.random = acks, None, random.Random(seed)
        self.posted, self.failures = [], []
        self._ids, self._lock = itertools.count(1), threading.Lock()
        self.server, self.base_url = serve_in_thread(self._app())

    def _app(self) -> Flask:
        app = Flask("fast_onemsg")

        @app.post(f"/{CHANNEL}/<method>")
        def send(method: str):
            message_id = f"wamid.RACE{uuid.uuid4().hex}{next(self._ids)}"
            phone = (request.get_json(silent=True) or {}).get("phone", "")
            response = app.response_class(
                f'{{"sent": true, "id": "{message_id}", "message": "ok"}}', mimetype="application/json"
            )
            # The acks leave once the answer has been written, as a fast channel's do.
            response.call_on_close(lambda: self._schedule(message_id, phone))
            return response

        return app

    def _schedule(self, message_id: str, phone: str) -> None:
        with self._lock:
            delays = [self.random.uniform(0, MAX_ACK_DELAY) for _ in self.acks]
        for (ack, error), delay in zip(self.acks, delays):
            item = {"id": message_id, "status": ack, "chatId": f"{phone}@c.us"}
            if error:
                item["error"] = error
            threading.Timer(delay, self._post, args=({"instanceId": CHANNEL, "ack": [item]},)).start()

    def _post(self, body: dict) -> None:
        try:
            answer = requests.post(self.webhook_url, json=body, timeout=10)
            self.posted.append(answer.status_code)
        except requests.RequestException as exc:
            self.failures.append(repr(exc))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _customers(count: int) -> tuple[list[int], int]:
    specialist = Specialist(
        display_name="Race Specialist", first_name="Race", last_name="Specialist", phone="+12025550199", tags="billing"
    )
    tickets = [
        Ticket(
            external_ref=f"RACE-{n}",
            subject="Race",
            customer_name=f"Customer {n}",
            customer_phone=f"+1415777{n:04d}",
            status="ready",
        )
        for n in range(count)
    ]
    db.session.add_all([specialist, *tickets])
    db.session.commit()
    ids = [(ticket.id, ticket.customer_phone) for ticket in tickets]
    for ticket_id, phone in ids:  # each customer has just written: the window is open
        status.record_inbound(f"in-race-{ticket_id}", phone, utcnow())
    specialist_id = specialist.id
    db.session.commit()  # and end the read: on SQLite it holds the write lock the senders need
    return [ticket_id for ticket_id, _ in ids], specialist_id


def _send(app, ticket_id: int, specialist_id: int) -> None:
    with app.app_context():
        ticket, specialist = db.session.get(Ticket, ticket_id), db.session.get(Specialist, specialist_id)
        handoffs.send_card(ticket, specialist, None, f"race-{ticket_id}")
        db.session.remove()


@pytest.mark.parametrize("ending", ["read", "failed"])
def test_every_handoff_ends_at_its_last_ack_whatever_the_commit_order(make_app, ending):
    onemsg = FastOneMsg(ENDINGS[ending], seed=15)
    app = make_app(
        ONEMSG_API_URL=onemsg.base_url,
        ONEMSG_CHANNEL_ID=CHANNEL,
        ONEMSG_TOKEN=TOKEN,
        ONEMSG_READ_TIMEOUT=5.0,
        ONEMSG_CONNECT_TIMEOUT=2.0,
    )
    server = LiveServer(app)
    onemsg.webhook_url = server.webhook_url(app)
    try:
        with app.app_context():
            ticket_ids, specialist_id = _customers(HANDOFFS)
            with ThreadPoolExecutor(max_workers=SENDERS[db.engine.dialect.name]) as pool:
                list(pool.map(lambda ticket_id: _send(app, ticket_id, specialist_id), ticket_ids))
            acks = HANDOFFS * len(ENDINGS[ending])
            assert wait_until(lambda: len(onemsg.posted) + len(onemsg.failures) >= acks, timeout=60)
            assert onemsg.failures == [] and set(onemsg.posted) == {200}
            # No worker runs: the send and the applier alone must have applied every ack.
            settled = wait_until(
                lambda: _count(Handoff.status == ending) == HANDOFFS and _nothing_pending(), timeout=30
            )
            states = db.session.execute(select(Handoff.status, func.count()).group_by(Handoff.status)).all()
            assert settled, f"not every handoff ended {ending!r}, or events wait: {states}"
            assert _count(Handoff.message_id.is_(None)) == 0
            assert db.session.scalar(select(func.count()).select_from(StatusEvent)) == acks
            if ending == "failed":
                assert _count(Handoff.failure_reason == "Message undeliverable") == HANDOFFS
            else:
                assert _count(Handoff.delivered_at.is_not(None) & Handoff.sent_at.is_not(None)) == HANDOFFS
                assert (
                    db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == "handed_off"))
                    == HANDOFFS
                )
    finally:
        server.stop()
        onemsg.close()


def _nothing_pending() -> bool:
    unapplied = select(func.count()).select_from(StatusEvent).where(StatusEvent.applied.is_(False))
    waiting = select(func.count()).select_from(WebhookEvent).where(WebhookEvent.applied_at.is_(None))
    return db.session.scalar(unapplied) == 0 and db.session.scalar(waiting) == 0


def _count(condition) -> int:
    return db.session.scalar(select(func.count()).select_from(Handoff).where(condition))


class EarlyOneMsg(FastOneMsg):
    """Posts every ack of a message, and waits for our 200s, before it answers the send: the
    statuses are stored (and, unknown yet, left unapplied) while the send waits for 1MSG."""

    def _app(self) -> Flask:
        app = Flask("early_onemsg")

        @app.post(f"/{CHANNEL}/<method>")
        def send(method: str):
            message_id = f"wamid.EARLY{uuid.uuid4().hex}"
            phone = (request.get_json(silent=True) or {}).get("phone", "")
            for ack, _error in self.acks:
                self._post(
                    {"instanceId": CHANNEL, "ack": [{"id": message_id, "status": ack, "chatId": f"{phone}@c.us"}]}
                )
            with self.our_app.app_context():  # stored and read by our applier, waiting for the id
                assert wait_until(lambda: _events_of(message_id) == len(self.acks), timeout=10)
                db.session.remove()
            return {"sent": True, "id": message_id, "message": "ok"}

        return app


def test_the_send_answers_with_the_statuses_that_arrived_before_1msg_answered(make_app):
    """What the send hands back (to the page, the API's answer) is the row as it ends, not the
    "accepted" it wrote before applying the statuses that beat the answer."""
    onemsg = EarlyOneMsg(ENDINGS["read"], seed=16)
    app = onemsg.our_app = make_app(ONEMSG_API_URL=onemsg.base_url, ONEMSG_CHANNEL_ID=CHANNEL, ONEMSG_TOKEN=TOKEN)
    server = LiveServer(app)
    onemsg.webhook_url = server.webhook_url(app)
    try:
        with app.app_context():
            (ticket_id,), specialist_id = _customers(1)
            ticket, specialist = db.session.get(Ticket, ticket_id), db.session.get(Specialist, specialist_id)
            outcome = handoffs.send_card(ticket, specialist, None, "early-acks")
            assert onemsg.posted == [200, 200, 200]
            assert (outcome.handoff.status, outcome.handoff.read_at is not None) == ("read", True)
            db.session.expire_all()
            assert db.session.get(Handoff, outcome.handoff.id).status == "read"
    finally:
        server.stop()
        onemsg.close()


def _events_of(message_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(StatusEvent).where(StatusEvent.message_id == message_id))
