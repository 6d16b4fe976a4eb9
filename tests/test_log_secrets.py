"""The 1MSG token and the webhook secret never reach the logs, across a whole flow."""

import io
import logging
import secrets
import uuid
from datetime import timedelta

import pytest

from models import Handoff, InboundMessage, db
from onemsg.emulator import create_emulator, serve_in_thread
from services import reconcile
from tests.conftest import LiveServer
from tests.emulator_fixtures import CHANNEL_ID, EmulatorHandle
from tests.helpers import wait_until


@pytest.fixture
def all_logs():
    """Every record of every logger at DEBUG, through a handler installed before the app exists
    (as gunicorn's and basicConfig's are in production)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.slow
@pytest.mark.parametrize("token_in", ["header", "query"])
def test_a_full_flow_logs_neither_the_token_nor_the_webhook_secret(
    all_logs, make_app, make_ticket, make_specialist, make_user, token_in
):
    token, hook_secret = f"tok-{secrets.token_hex(16)}", f"hook-{secrets.token_hex(20)}"
    server_1msg, url_1msg = serve_in_thread(create_emulator(CHANNEL_ID, token, ack_delay=0.05))
    emulator = EmulatorHandle(url_1msg, CHANNEL_ID, token)
    app = make_app(
        ONEMSG_API_URL=url_1msg,
        ONEMSG_CHANNEL_ID=CHANNEL_ID,
        ONEMSG_TOKEN=token,
        ONEMSG_WEBHOOK_SECRET=hook_secret,
        ONEMSG_READ_TIMEOUT=1.0,
        ONEMSG_TOKEN_IN=token_in,
    )
    live = None
    try:
        with app.app_context():
            live = LiveServer(app)
            emulator.connect(live.webhook_url(app))
            run_flow(app, live, emulator, make_ticket, make_specialist, make_user)
            sends = [r for r in emulator.requests() if r["path"].endswith("/sendContact")]
            assert sends and {r["auth"] for r in sends} == {token_in}
    finally:
        if live is not None:
            live.stop()
        server_1msg.shutdown()
        server_1msg.server_close()
    text = all_logs.getvalue()
    assert "/webhooks/1msg/[redacted]" in text, "the webhook requests were logged (with the secret hidden)"
    assert "sendContact" in text and "hookInfo" in text, "the 1MSG calls were logged"
    assert token not in text
    assert hook_secret not in text


def run_flow(app, live, emulator, make_ticket, make_specialist, make_user):
    """Log in, the customer writes, send a card, statuses arrive, a wrong secret, reconcile."""
    ticket, specialist, agent = make_ticket(customer_phone="+14155552690"), make_specialist(), make_user()
    ticket_id, specialist_id = ticket.id, specialist.id
    session = live.session_for(agent)
    emulator.open_window("14155552690")  # 1MSG posts the customer's message to our webhook
    assert wait_until(lambda: db.session.scalar(db.select(InboundMessage.id))), "the message was applied"
    form = {"specialist_id": specialist_id, "idempotency_key": uuid.uuid4().hex, "include_intro": "no"}
    assert session.post(f"{live.url}/tickets/{ticket_id}/handoffs", data=form, timeout=20).status_code == 200
    assert wait_until(lambda: db.session.scalar(db.select(Handoff.status)) == "read", timeout=10)
    session.post(f"{live.url}/webhooks/1msg/{app.config['ONEMSG_WEBHOOK_SECRET'][::-1]}", json={}, timeout=5)
    handoff = db.session.scalar(db.select(Handoff))  # pretend its statuses never came: reconcile asks 1MSG
    handoff.accepted_at -= timedelta(minutes=5)
    handoff.status, handoff.status_rank, handoff.delivered_at, handoff.read_at = "accepted", 2, None, None
    handoff_id = handoff.id
    db.session.commit()
    assert reconcile.reconcile().checked == 1
    db.session.commit()
    assert session.get(f"{live.url}/handoffs/{handoff_id}", timeout=5).status_code == 200
