"""When 1MSG keeps failing we stop calling it for a while, fail fast, and say so on the page."""

import threading
import time
import uuid

import pytest

from models import Handoff, db, utcnow
from onemsg.errors import InvalidRecipient, Rejected, UnknownOutcome, UpstreamUnavailable, WindowClosed
from services import handoffs, onemsg_gateway, status
from services.onemsg_gateway import Breaker, CircuitOpen
from services.triage import explain_failure
from tests.conftest import AuthActions, emulator_settings
from tests.helpers import wait_until


def sends(emulator):
    return [r for r in emulator.requests() if r["path"].endswith("/sendContact")]


def failing(error):
    def call():
        raise error

    return call


def ready_ticket(emulator, make_ticket, suffix):
    ticket = make_ticket(customer_phone=f"+1415555{suffix}")
    emulator.open_window(ticket.customer_phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", ticket.customer_phone, utcnow())
    db.session.commit()
    return ticket


def send(ticket, specialist):
    return handoffs.send_card(ticket, specialist, None, uuid.uuid4().hex).handoff


def test_transport_failures_open_the_breaker_and_it_fails_fast():
    breaker, calls = Breaker(fail_max=3, reset_seconds=30), []
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            breaker.guarded(failing(UpstreamUnavailable("down")))
    with pytest.raises(CircuitOpen) as raised:
        breaker.guarded(lambda: calls.append(1))
    assert calls == [], "no call goes out while the breaker is open"
    assert 28 <= raised.value.retry_after <= 30
    assert str(raised.value) == (
        f"1MSG has been failing; sending is paused for {raised.value.retry_after} s to let it recover."
    )


@pytest.mark.parametrize("answer", [WindowClosed("closed"), InvalidRecipient("bad"), Rejected("no")])
def test_refusals_do_not_count_and_reset_the_count(answer):
    breaker = Breaker(fail_max=2, reset_seconds=30)
    for _ in range(5):
        with pytest.raises(UnknownOutcome):
            breaker.guarded(failing(UnknownOutcome("no answer")))
        with pytest.raises(type(answer)):
            breaker.guarded(failing(answer))  # 1MSG answered: it is up
    assert breaker.paused_for() == 0


def test_a_trial_call_after_the_pause_closes_or_reopens_it():
    breaker = Breaker(fail_max=1, reset_seconds=0.2)
    with pytest.raises(UpstreamUnavailable):
        breaker.guarded(failing(UpstreamUnavailable("down")))
    assert breaker.paused_for() > 0
    assert wait_until(lambda: breaker.paused_for() == 0, timeout=2)
    with pytest.raises(UpstreamUnavailable):
        breaker.guarded(failing(UpstreamUnavailable("still down")))  # the trial fails: open again
    assert breaker.paused_for() > 0
    assert wait_until(lambda: breaker.paused_for() == 0, timeout=2)
    assert breaker.guarded(lambda: "ok") == "ok"
    assert breaker.paused_for() == 0 and breaker.guarded(lambda: "again") == "again"


def test_a_slow_call_does_not_block_other_calls_of_the_process():
    """pybreaker's own call() holds one lock for the whole call; ours must not."""
    breaker, release = Breaker(fail_max=5, reset_seconds=30), threading.Event()
    slow = threading.Thread(target=breaker.guarded, args=(release.wait, 5))
    slow.start()
    try:
        started = time.monotonic()
        assert breaker.guarded(lambda: "fast") == "fast"
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        slow.join()


def test_sends_are_paused_recorded_and_explained_while_1msg_fails(
    make_app, emulator, make_ticket, make_specialist, make_user
):
    app = make_app(**emulator_settings(emulator), ONEMSG_BREAKER_FAIL_MAX=2, ONEMSG_BREAKER_RESET_SECONDS=30)
    with app.app_context():
        specialist = make_specialist()
        broken = ready_ticket(emulator, make_ticket, "0003")  # 1MSG answers every send with a 500
        assert [send(broken, specialist).status for _ in range(2)] == ["unknown", "unknown"]
        paused = send(ready_ticket(emulator, make_ticket, "2601"), specialist)
        assert len(sends(emulator)) == 2, "the third send never reached 1MSG"
        assert (paused.status, paused.failure_code) == ("failed", "circuit_open")
        assert paused.failure_reason.startswith("Sending is paused because 1MSG failed several times")
        assert explain_failure(paused.failure_code, paused.failure_reason, None).action == "wait"
        client = app.test_client()
        AuthActions(client, make_user).login("agent")
        badge = client.get("/channel/status", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "paused (1MSG failing)" in badge and "badge-paused" in badge
        page = client.get(f"/handoffs/{paused.id}").get_data(as_text=True)
        assert "Sending is paused because 1MSG failed" in page


def test_an_introduction_refused_by_the_breaker_is_reported_as_the_pause(
    make_app, emulator, make_ticket, make_specialist
):
    app = make_app(**emulator_settings(emulator), ONEMSG_BREAKER_FAIL_MAX=1)
    with app.app_context():
        specialist = make_specialist()
        send(ready_ticket(emulator, make_ticket, "0003"), specialist)
        ticket = ready_ticket(emulator, make_ticket, "2602")
        handoff = handoffs.send_card(ticket, specialist, None, uuid.uuid4().hex, intro_text="Hello").handoff
        assert handoff.failure_code == "circuit_open"
        assert not [r for r in emulator.requests() if r["path"].endswith("/sendMessage")]


def test_after_the_pause_sends_go_out_again(make_app, emulator, make_ticket, make_specialist):
    app = make_app(**emulator_settings(emulator), ONEMSG_BREAKER_FAIL_MAX=1, ONEMSG_BREAKER_RESET_SECONDS=0.3)
    with app.app_context():
        specialist = make_specialist()
        send(ready_ticket(emulator, make_ticket, "0012"), specialist)  # 503 + Retry-After: unavailable
        assert onemsg_gateway.channel_status() == onemsg_gateway.PAUSED_STATUS
        assert wait_until(lambda: onemsg_gateway.breaker().paused_for() == 0, timeout=2)
        healthy = send(ready_ticket(emulator, make_ticket, "2603"), specialist)
        assert healthy.status == "accepted"
        assert onemsg_gateway.channel_status() == "connected"
        assert db.session.get(Handoff, healthy.id).message_id


def test_each_worker_process_app_has_its_own_breaker(make_app, emulator):
    first, second = (make_app(**emulator_settings(emulator)) for _ in range(2))
    with first.app_context():
        one = onemsg_gateway.breaker()
        assert onemsg_gateway.breaker() is one
    with second.app_context():
        assert onemsg_gateway.breaker() is not one


def test_with_redis_every_worker_pauses_together(make_app, emulator, redis_url):
    """One worker's failures open the breaker for the others: none keeps hammering a failing 1MSG."""
    import redis

    key = f"test:1msg-breaker:{uuid.uuid4().hex}"
    settings = dict(
        emulator_settings(emulator),
        REDIS_URL=redis_url,
        ONEMSG_BREAKER_REDIS_KEY=key,
        ONEMSG_BREAKER_FAIL_MAX=3,
        ONEMSG_BREAKER_RESET_SECONDS=30,
    )
    first, second = make_app(**settings), make_app(**settings)
    try:
        with first.app_context():
            for _ in range(3):
                with pytest.raises(UpstreamUnavailable):
                    onemsg_gateway.breaker().guarded(failing(UpstreamUnavailable("down")))
        with second.app_context():
            calls = []
            with pytest.raises(CircuitOpen):
                onemsg_gateway.breaker().guarded(lambda: calls.append(1))
            assert calls == [], "the other worker sends nothing while 1MSG is failing"
            assert onemsg_gateway.channel_status() == onemsg_gateway.PAUSED_STATUS
        assert redis.Redis.from_url(redis_url).get(f"{key}:pybreaker:state") == b"open", "the state lives in Redis"
    finally:
        store = redis.Redis.from_url(redis_url)
        store.delete(*store.keys(f"{key}*") or ["-"])


def test_without_redis_each_worker_counts_alone(make_app, emulator):
    settings = dict(emulator_settings(emulator), ONEMSG_BREAKER_FAIL_MAX=3)
    first, second = make_app(**settings), make_app(**settings)
    with first.app_context():
        for _ in range(3):
            with pytest.raises(UpstreamUnavailable):
                onemsg_gateway.breaker().guarded(failing(UpstreamUnavailable("down")))
        assert onemsg_gateway.breaker().paused_for() > 0
    with second.app_context():
        assert onemsg_gateway.breaker().paused_for() == 0
