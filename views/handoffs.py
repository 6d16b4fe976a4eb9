"""Sending a card and following its status live."""
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user

from extensions import htmx, limiter
from forms.tickets import ReopenForm, RetryForm, SendCardForm
from models import Handoff, Specialist, Ticket, db
from services import handoffs
from views.access import read_only, requires_role

bp = Blueprint("handoffs", __name__)


def _send_limit() -> str:
    return current_app.config["SEND_LIMIT"]


def _sender_key() -> str:
    # Per agent, whatever worker or address the request comes through.
    who = current_user.id if current_user.is_authenticated else get_remote_address()
    return f"send:{who}"


# Cards, templates and retries all count towards one per-agent limit: each is a message sent.
limit_sends = limiter.shared_limit(_send_limit, scope="sends", key_func=_sender_key)


def _ticket_and_specialist(ticket_id: int, form):
    """The ticket, and the specialist the valid form picked (None, with a message, otherwise)."""
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    specialist = db.session.get(Specialist, form.specialist_id.data or 0)
    if not form.validate_on_submit() or specialist is None:
        flash("Pick a specialist from the list and try again.", "error")
        return ticket, None
    return ticket, specialist


@bp.route("/tickets/<int:ticket_id>/handoffs", methods=["POST"])
@limit_sends
@requires_role("agent")
def send(ticket_id: int):
    """Send the chosen specialist's card to the ticket's customer, once per form key."""
    form = SendCardForm()
    ticket, specialist = _ticket_and_specialist(ticket_id, form)
    if specialist is None:
        return redirect(url_for("tickets.show", ticket_id=ticket_id))
    already = handoffs.find_by_key(form.idempotency_key.data)
    if already is not None:  # a double click or a resubmit of the same form
        _flash_outcome(handoffs.SendOutcome(already, created=False))
        return redirect(url_for("tickets.show", ticket_id=ticket_id, _anchor=f"handoff-{already.id}"))
    earlier = handoffs.recent_duplicate(ticket, specialist, form.idempotency_key.data)
    if earlier is not None and form.confirm_resend.data != "yes":
        return render_template("handoffs/confirm_resend.html", ticket=ticket, specialist=specialist,
                               earlier=earlier, form=form), 409
    intro = form.intro_text.data.strip() if form.include_intro.data == "yes" else None
    try:
        outcome = handoffs.send_card(ticket, specialist, current_user._get_current_object(),
                                     form.idempotency_key.data, intro_text=intro)
    except handoffs.HandoffConflict as exc:
        flash(str(exc), "error")
        return redirect(url_for("tickets.show", ticket_id=ticket_id))
    _flash_outcome(outcome)
    return redirect(url_for("tickets.show", ticket_id=ticket_id, _anchor=f"handoff-{outcome.handoff.id}"))


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@limit_sends
@requires_role("agent")
def reopen(ticket_id: int):
    """Window closed: send the chosen template so the customer can answer and reopen the chat."""
    form = ReopenForm()
    ticket, specialist = _ticket_and_specialist(ticket_id, form)
    if specialist is None:
        return redirect(url_for("tickets.show", ticket_id=ticket_id))
    try:
        outcome = handoffs.send_template(ticket, specialist, current_user._get_current_object(),
                                         form.idempotency_key.data, card_on_reply=form.card_on_reply.data)
    except handoffs.HandoffConflict as exc:
        flash(str(exc), "error")
    else:
        _flash_outcome(outcome, what="Template")
    return redirect(url_for("tickets.show", ticket_id=ticket_id))


@bp.route("/handoffs/<int:handoff_id>/retry", methods=["POST"])
@limit_sends
@requires_role("agent")
def retry(handoff_id: int):
    """Try a failed handoff again as a new, linked attempt."""
    failed = _load(handoff_id)
    form = RetryForm()
    if not form.validate_on_submit():
        flash("The retry form expired: reload the page and try again.", "error")
        return redirect(url_for("tickets.show", ticket_id=failed.ticket_id))
    try:
        outcome = handoffs.retry(failed, current_user._get_current_object(), form.idempotency_key.data)
    except handoffs.HandoffConflict as exc:
        flash(str(exc), "error")
    else:
        _flash_outcome(outcome, what="Retry")
    return redirect(url_for("tickets.show", ticket_id=failed.ticket_id))


def _flash_outcome(outcome: handoffs.SendOutcome, what: str = "Card") -> None:
    handoff = outcome.handoff
    if not outcome.created:
        flash(f"{what} was already sent from this form; nothing was sent twice.", "info")
    elif handoff.status == "failed":
        flash(f"Not sent: {handoff.failure_reason}", "error")
    elif handoff.status == "unknown":
        flash(handoff.failure_reason, "warning")
    else:
        flash(f"{what} accepted by 1MSG (message id {handoff.message_id}).", "success")


def _load(handoff_id: int) -> Handoff:
    return db.session.get(Handoff, handoff_id) or abort(404)


@bp.route("/handoffs/<int:handoff_id>")
@requires_role("agent")
def show(handoff_id: int):
    """One handoff with its timeline."""
    handoff = _load(handoff_id)
    return render_template("handoffs/show.html", handoff=handoff, triage=handoffs.triage_for(handoff))


@bp.route("/handoffs/<int:handoff_id>/status")
@limiter.exempt
@read_only
@requires_role("agent")
def status(handoff_id: int):
    """The live timeline fragment (polled while not final); the full page without htmx."""
    handoff = _load(handoff_id)
    if not htmx:
        return show(handoff_id)
    etag = f"{handoff.id}-{handoff.status}-{handoff.updated_at.timestamp() if handoff.updated_at else 0}"
    if request.if_none_match.contains(etag):
        return _fragment_response("", etag, 304)  # nothing changed: skip rendering
    body = render_template("partials/handoff_status.html", handoff=handoff, triage=handoffs.triage_for(handoff))
    return _fragment_response(body, etag)


def _fragment_response(body: str, etag: str, status_code: int = 200):
    response = make_response(body, status_code)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache, private"
    return response
