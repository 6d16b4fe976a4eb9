"""Reconciliation settles silent and unknown handoffs by asking 1MSG, never by resending."""

import uuid
from datetime import timedelta

from models import db, utcnow
from services import handoffs, reconcile, status
from tests.helpers import wait_until


def sends(emulator):
    return [r for r in emulator.requests() if r["path"].endswith("/sendContact")]


def ready(emulator, make_ticket, suffix):
    ticket = make_ticket(customer_phone=f"+1415555{suffix}")
    emulator.open_window(ticket.customer_phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", ticket.customer_phone, utcnow())
    db.session.commit()
    return ticket


def age(handoff, **delta):
    """Pretend the handoff happened earlier."""
    for column in ("created_at", "accepted_at"):
        if getattr(handoff, column):
            setattr(handoff, column, getattr(handoff, column) - timedelta(**delta))
    db.session.commit()


def test_silent_handoff_is_settled_by_hook_info(make_app, emulator, make_ticket, make_specialist):
    from tests.conftest import emulator_settings

    app = make_app(**emulator_settings(emulator), RECONCILE_AFTER_SECONDS=30)
    with app.app_context():
        ticket = ready(emulator, make_ticket, "3101")
        handoff = handoffs.send_card(ticket, make_specialist(), None, uuid.uuid4().hex).handoff
        assert handoff.status == "accepted"  # no webhook registered: no status arrives
        assert reconcile.reconcile().checked == 0, "too early to ask"
        message_id = handoff.message_id
        assert wait_until(lambda: emulator.latest_status(message_id) == "read"), "1MSG's own side reads 'read'"
        age(handoff, seconds=60)
        report = reconcile.reconcile()
        assert report.checked == 1 and report.settled == 1
        db.session.refresh(handoff)
        assert handoff.status == "read"
        assert len(sends(emulator)) == 1
        assert reconcile.reconcile().checked == 0, "at most one check per interval"


def test_unknown_outcome_is_settled_without_resending(app, emulator, make_ticket, make_specialist):
    ticket = ready(emulator, make_ticket, "0004")  # 1MSG answers after our read timeout
    handoff = handoffs.send_card(ticket, make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "unknown" and handoff.message_id is None
    report = reconcile.reconcile()
    db.session.refresh(handoff)
    assert report.settled == 1
    assert handoff.status != "unknown" and handoff.message_id.startswith("wamid.")
    assert len(sends(emulator)) == 1, "settled by looking, not by sending again"


def test_unknown_outcome_with_nothing_sent_becomes_a_failure_after_a_while(app, emulator, make_ticket, make_specialist):
    ticket = ready(emulator, make_ticket, "0003")  # 500: nothing was sent
    handoff = handoffs.send_card(ticket, make_specialist(), None, uuid.uuid4().hex).handoff
    assert handoff.status == "unknown"
    reconcile.reconcile()
    db.session.refresh(handoff)
    assert handoff.status == "unknown", "too soon to conclude"
    handoff.last_checked_at = None
    age(handoff, minutes=5)
    reconcile.reconcile()
    db.session.refresh(handoff)
    assert handoff.status == "failed" and handoff.failure_code == "not_sent"
    assert "send it again" in handoff.failure_reason


def test_send_abandoned_by_a_crash_is_settled(app, emulator, make_ticket, make_specialist):
    """A worker died between 1MSG's answer and our commit: the row is still "sending"."""
    ticket = ready(emulator, make_ticket, "3102")
    specialist = make_specialist()
    claim = handoffs.Claim(ticket, specialist, None, "crash-key-1", "handoff.send", "crash test")
    claimed = handoffs.claim_attempt(claim).handoff
    answer = handoffs.call_onemsg(ticket.customer_phone, None, claimed.card_snapshot)
    assert answer.message_id  # 1MSG took it; our process "dies" before recording it
    age(claimed, minutes=1)
    reconcile.reconcile()
    db.session.refresh(claimed)
    assert claimed.message_id == answer.message_id and claimed.status != "sending"
    assert len(sends(emulator)) == 1


def test_stuck_handoffs_are_flagged(app, make_handoff):
    old = utcnow() - timedelta(minutes=30)
    handoff = make_handoff(
        message_id="wamid.STUCK",
        status="sent",
        status_rank=3,
        accepted_at=old,
        created_at=old,
        last_checked_at=utcnow(),
    )
    assert reconcile.mark_stuck() == 1
    db.session.commit()
    db.session.refresh(handoff)
    assert handoff.stuck_at is not None
    assert reconcile.mark_stuck() == 0


def test_reconcile_command(runner, app):
    result = runner.invoke(args=["handoffs", "reconcile"])
    assert result.exit_code == 0 and "checked 0" in result.output
