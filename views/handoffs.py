"""Sending a card and following its status live."""
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user

from extensions import htmx, limiter
from forms.tickets import CancelFollowUpForm, ReopenForm, RetryForm, SendCardForm
from models import Handoff, Specialist, Ticket, db
from services import handoffs, send_rules
from views.access import read_only, requires_role

bp = Blueprint("handoffs", __name__)
NO_SPECIALIST = "Pick a specialist first: nobody was chosen, so nothing was sent."


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
        flash(NO_SPECIALIST, "error")
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
    agent = current_user._get_current_object()
    key = handoffs.user_key(agent, form.idempotency_key.data)
    already = handoffs.find_by_key(key)
    if already is not None:  # a double click or a resubmit of the same form
        _flash_outcome(handoffs.SendOutcome(already, created=False))
        return redirect(url_for("tickets.show", ticket_id=ticket_id, _anchor=f"handoff-{already.id}"))
    earlier = handoffs.recent_duplicate(ticket, specialist, key)
    if earlier is not None and form.confirm_resend.data != "yes":
        return render_template("handoffs/confirm_resend.html", ticket=ticket, specialist=specialist,
                               earlier=earlier, form=form), 409
    intro = form.intro_text.data.strip() if form.include_intro.data == "yes" else None
    confirmed_unavailable = form.confirm_unavailable.data or None

    def send_it():
        if form.cancel_pending.data == "yes":
            # Asked first: an agent who then says "no" still has the pending card.
            send_rules.check_available(specialist, confirmed_unavailable)
            _cancel_named_follow_up(ticket, form.confirm_after.data, agent)
        return handoffs.send_card(ticket, specialist, agent, key, intro_text=intro,
                                  confirmed_over=form.confirm_after.data, cap_override=form.override_cap.data,
                                  confirmed_unavailable=confirmed_unavailable)

    return _sending(ticket, specialist, form, send_it, url_for("handoffs.send", ticket_id=ticket_id))


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@limit_sends
@requires_role("agent")
def reopen(ticket_id: int):
    """Window closed: send the chosen template so the customer can answer and reopen the chat."""
    form = ReopenForm()
    ticket, specialist = _ticket_and_specialist(ticket_id, form)
    if specialist is None:
        return redirect(url_for("tickets.show", ticket_id=ticket_id))
    agent = current_user._get_current_object()
    key = handoffs.user_key(agent, form.idempotency_key.data)
    return _sending(ticket, specialist, form, lambda: handoffs.send_template(
        ticket, specialist, agent, key, card_on_reply=form.card_on_reply.data,
        confirmed_over=form.confirm_after.data, confirmed_unavailable=form.confirm_unavailable.data or None),
        url_for("handoffs.reopen", ticket_id=ticket_id),
        what="Template")


@bp.route("/handoffs/<int:handoff_id>/retry", methods=["POST"])
@limit_sends
@requires_role("agent")
def retry(handoff_id: int):
    """Try a failed handoff again as a new, linked attempt (once: its key is the failed attempt's)."""
    failed = _load(handoff_id)
    form = RetryForm()
    if not form.validate_on_submit():
        flash("The retry form expired: reload the page and try again.", "error")
        return redirect(url_for("tickets.show", ticket_id=failed.ticket_id))
    agent = current_user._get_current_object()
    return _sending(failed.ticket, failed.specialist, form, lambda: handoffs.retry(
        failed, agent, confirmed_over=form.confirm_after.data,
        confirmed_unavailable=form.confirm_unavailable.data or None),
        url_for("handoffs.retry", handoff_id=handoff_id), what="Retry")


def _sending(ticket, specialist, form, send_it, action_url: str, what: str = "Card"):
    """Run a send; answer with the flash and the ticket page, or the confirmation it needs."""
    try:
        outcome = send_it()
    except handoffs.SecondCardNeedsConfirmation as exc:
        return render_template("handoffs/confirm_second.html", ticket=ticket, specialist=specialist,
                               earlier=exc.earlier, question=str(exc), form=form,
                               action_url=action_url), 409
    except handoffs.SpecialistUnavailableNeedsConfirmation as exc:
        return render_template("handoffs/confirm_unavailable.html", ticket=ticket, specialist=specialist,
                               refusal=exc, form=form, action_url=action_url), 409
    except (handoffs.HandoffConflict, handoffs.CustomerCapReached) as exc:
        flash(str(exc), "error")
        return redirect(url_for("tickets.show", ticket_id=ticket.id))
    _flash_outcome(outcome, what=what)
    return redirect(url_for("tickets.show", ticket_id=ticket.id, _anchor=f"handoff-{outcome.handoff.id}"))


def _cancel_named_follow_up(ticket: Ticket, template_id: int | None, agent) -> None:
    """The agent chose "send this card instead": the pending one they were shown is cancelled."""
    template = db.session.get(Handoff, template_id or 0)
    if template is not None and template.ticket_id == ticket.id and template.kind == "template":
        handoffs.cancel_follow_up(template, agent)


@bp.route("/handoffs/<int:handoff_id>/cancel-follow-up", methods=["POST"])
@requires_role("agent")
def cancel_follow_up(handoff_id: int):
    """Stop the card that would go by itself when the customer answers the template."""
    template = _load(handoff_id)
    if not CancelFollowUpForm().validate_on_submit():
        flash("The form expired: reload the page and try again.", "error")
    elif handoffs.cancel_follow_up(template, current_user._get_current_object()):
        flash(f"{template.specialist_name}'s card will not go when the customer answers.", "success")
    else:
        flash(f"{template.specialist_name}'s card had already gone (or was already cancelled).", "info")
    return redirect(url_for("tickets.show", ticket_id=template.ticket_id, _anchor="handoffs"))


@bp.route("/tickets/<int:ticket_id>/handoffs")
@limiter.exempt
@read_only
@requires_role("agent")
def ticket_list(ticket_id: int):
    """The ticket's handoff list, polled: 204 (nothing to swap) until a handoff comes or goes."""
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    if not htmx:
        return redirect(url_for("tickets.show", ticket_id=ticket_id, _anchor="handoffs"))
    version = handoffs.list_version(ticket)
    if request.args.get("v") == version:
        return "", 204
    attempts = handoffs.attempts_for(ticket)
    return render_template("partials/handoff_list.html", ticket=ticket, attempts=attempts, version=version,
                           triages={h.id: handoffs.triage_for(h) for h in attempts},
                           pending=handoffs.pending_follow_up(ticket), cancel_form=CancelFollowUpForm())


def _flash_outcome(outcome: handoffs.SendOutcome, what: str = "Card") -> None:
    """One sentence: what happened to this send."""
    handoff = outcome.handoff
    if not outcome.created:
        if handoff.idempotency_key.startswith("follow-up-"):
            flash(f"{handoff.specialist_name}'s card already went when the customer answered; "
                  "nothing was sent twice.", "info")
        else:
            flash(f"{what} was already sent from this form; nothing was sent twice.", "info")
    elif handoff.status == "failed":
        flash(handoff.failure_reason, "error")
    elif handoff.status in ("unknown", "queued"):
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
    triage = handoffs.triage_for(handoff)
    # The Retry button appears when its wait is over, and goes once someone retried: both count as news.
    offer = f"{triage.retry_now}-{triage.retried.id if triage.retried else ''}" if triage else ""
    etag = f"{handoff.id}-{handoff.status}-{handoff.updated_at.timestamp() if handoff.updated_at else 0}-{offer}"
    if request.if_none_match.contains(etag):
        return _fragment_response("", etag, 304)  # nothing changed: skip rendering
    body = render_template("partials/handoff_status.html", handoff=handoff, triage=triage)
    return _fragment_response(body, etag)


def _fragment_response(body: str, etag: str, status_code: int = 200):
    response = make_response(body, status_code)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache, private"
    return response
