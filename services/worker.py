"""The background worker: reconciliation, handoff events out to the helpdesk, and housekeeping."""

import signal
import time

from flask import current_app

from models import db
from services import applier, outbox, presence
from services.handoffs import send_cards_after_replies
from services.reconcile import reconcile


def run_worker(*, interval: float, once: bool = False) -> None:
    """Loop until SIGTERM/SIGINT; each pass is short and commits its own work."""
    stopping = {"flag": False}

    def stop(*_):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backstop = applier.Backstop()  # kept across passes: its sweep of older events moves on each pass
    while not stopping["flag"]:
        run_pass(backstop)
        if once:
            return
        _sleep(interval, stopping)


def run_pass(backstop: applier.Backstop | None = None) -> None:
    apply_webhooks(backstop or applier.Backstop())
    try:
        report = reconcile()
        if report.checked or report.stuck or report.errors:
            current_app.logger.info("reconcile: %s", report)
        if sent := send_cards_after_replies():
            current_app.logger.info("sent %d card(s) after the customer answered a template", sent)
    except Exception:  # a bad pass must not kill the worker; the next one tries again
        db.session.rollback()
        current_app.logger.exception("worker pass failed")
    finally:
        db.session.remove()
    deliver_events()
    forget_stale_viewers()


def apply_webhooks(backstop: applier.Backstop) -> None:
    """The backstop for the web processes' appliers: bodies and status events nobody applied."""
    try:
        bodies, swept = backstop.run()
        if bodies or swept:
            current_app.logger.info("webhooks: %d stored bodies and %d status events applied", bodies, swept)
    except Exception:  # same rule: log, and let the next pass try again
        db.session.rollback()
        current_app.logger.exception("applying stored webhooks failed")
    finally:
        db.session.remove()


def deliver_events() -> None:
    """Send queued handoff events to the helpdesk (apart, so a reconcile error never holds them)."""
    try:
        report = outbox.deliver_due()
        if report:
            current_app.logger.info("helpdesk events: %s", report)
    except Exception:  # same rule: log, and let the next pass try again
        db.session.rollback()
        current_app.logger.exception("helpdesk event delivery failed")
    finally:
        db.session.remove()


def forget_stale_viewers() -> None:
    """Delete presence rows nobody's page has moved on for long (else the table only grows)."""
    try:
        presence.forget_stale()
        db.session.commit()
    except Exception:  # same rule: log, and let the next pass try again
        db.session.rollback()
        current_app.logger.exception("forgetting stale ticket viewers failed")
    finally:
        db.session.remove()


def _sleep(seconds: float, stopping: dict) -> None:
    end = time.monotonic() + seconds
    while not stopping["flag"] and time.monotonic() < end:
        time.sleep(0.2)
