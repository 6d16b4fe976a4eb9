"""Admins watch handoff events going out to the helpdesk, and replay those that failed."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from models import OutboxEvent, db
from services import outbox
from services.database import unit_of_work
from views.access import requires_role

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")


@bp.route("/")
@requires_role("admin")
def index():
    """Counts by state, and every event not delivered yet with its last error."""
    return render_template(
        "outbox/index.html",
        counts=outbox.counts(),
        events=outbox.undelivered(),
        webhook_url_set=bool(current_app.config.get("HELPDESK_WEBHOOK_URL")),
    )


@bp.route("/<int:event_id>/replay", methods=["POST"])
@requires_role("admin")
def replay(event_id: int):
    """Try an undelivered event again at the worker's next pass, with a fresh retry period."""
    event = db.session.get(OutboxEvent, event_id) or abort(404)
    with unit_of_work():
        replayed = outbox.replay(event, actor=current_user._get_current_object())
    if replayed:
        flash(
            f"Event {event.id} ({event.event_type} of handoff {event.handoff_id}) will be sent again "
            "at the worker's next pass.",
            "success",
        )
    else:
        flash(f"Event {event.id} was already delivered.", "info")
    return redirect(url_for("outbox.index"))
