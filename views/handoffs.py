"""Sending a card and following its status live."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from extensions import exempt_from_rate_limits, htmx, limiter
from forms.tickets import CancelFollowUpForm, ReopenForm, RetryForm, SendCardForm
from models import Handoff, Specialist, Ticket, db
from services import handoffs, send_rules, status_poll, time_zones, window
from views.access import access_rule_for, checks_session_itself, read_only, require_access, requires_role
from views.navigation import BROWSER_ZONE_COOKIE
from views.tickets import send_panel_context

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
    """The ticket, and the specialist the valid form picked (None otherwise)."""
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    specialist = db.session.get(Specialist, form.specialist_id.data or 0)
    if not form.validate_on_submit() or specialist is None:
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
        return _no_specialist(ticket)
    agent = current_user._get_current_object()
    key = handoffs.user_key(agent, form.idempotency_key.data)
    already, duplicate = handoffs.key_or_duplicate(ticket, specialist, key)
    if already is not None:  # a double click or a resubmit of the same form
        return _sent(ticket, handoffs.SendOutcome(already, created=False))
    if form.confirm_resend.data != "yes" and duplicate is not None:
        return _to_confirmation(ticket, "send")
    intro = form.intro_text.data.strip() if form.include_intro.data == "yes" else None
    confirmed_unavailable = form.confirm_unavailable.data or None

    def send_it():
        if form.cancel_pending.data == "yes":
            # Asked first: an agent who then says "no" still has the pending card.
            send_rules.check_available(specialist, confirmed_unavailable)
            _cancel_named_follow_up(ticket, form.confirm_after.data, agent)
        return handoffs.send_card(
            ticket,
            specialist,
            agent,
            key,
            intro_text=intro,
            confirmed_over=form.confirm_after.data,
            cap_override=form.override_cap.data,
            confirmed_unavailable=confirmed_unavailable,
        )

    return _sending(ticket, "send", send_it)


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@limit_sends
@requires_role("agent")
def reopen(ticket_id: int):
    """Window closed: send the chosen template so the customer can answer and reopen the chat."""
    form = ReopenForm()
    ticket, specialist = _ticket_and_specialist(ticket_id, form)
    if specialist is None:
        return _no_specialist(ticket)
    agent = current_user._get_current_object()
    key = handoffs.user_key(agent, form.idempotency_key.data)
    return _sending(
        ticket,
        "reopen",
        lambda: handoffs.send_template(
            ticket,
            specialist,
            agent,
            key,
            card_on_reply=form.card_on_reply.data,
            confirmed_over=form.confirm_after.data,
            confirmed_unavailable=form.confirm_unavailable.data or None,
        ),
        what="Template",
    )


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
    return _sending(
        failed.ticket,
        "retry",
        lambda: handoffs.retry(
            failed,
            agent,
            confirmed_over=form.confirm_after.data,
            confirmed_unavailable=form.confirm_unavailable.data or None,
        ),
        what="Retry",
        handoff_id=failed.id,
    )


def _sending(ticket, action: str, send_it, what: str = "Card", **confirm_args):
    """Run a send; answer with its outcome, or send the agent to the question it needs answered."""
    try:
        outcome = send_it()
    except (handoffs.SecondCardNeedsConfirmation, handoffs.SpecialistUnavailableNeedsConfirmation):
        return _to_confirmation(ticket, action, **confirm_args)
    except (handoffs.HandoffConflict, handoffs.CustomerCapReached) as exc:
        return _refused(ticket, str(exc))
    return _sent(ticket, outcome, what)


def _sent(ticket: Ticket, outcome: handoffs.SendOutcome, what: str = "Card"):
    """The outcome: in place with htmx (the list with the attempt focused, a fresh form), else PRG."""
    message, category = _outcome_message(outcome, what)
    handoff = outcome.handoff
    tab = request.form.get("tab")  # the page the send came from: its own card is not news to it
    if not htmx:
        flash(message, category)
        return redirect(url_for("tickets.show", ticket_id=ticket.id, tab=tab, _anchor=f"handoff-{handoff.id}"))
    state = window.session_window(ticket.customer_phone)  # the panel comes back with a new key
    return render_template(
        "handoffs/sent.html",
        ticket=ticket,
        window=state,
        result=(message, category),
        focus_id=handoff.id,
        **{**send_panel_context(ticket, state, MultiDict({"tab": tab})), **_list_context(ticket)},
    )


def _refused(ticket: Ticket, message: str):
    """Nothing was sent (a rule said no): the panel says why with htmx, the page's flash otherwise."""
    if not htmx:
        flash(message, "error")
        return redirect(url_for("tickets.show", ticket_id=ticket.id))
    return _panel_with_error(ticket, panel_error=message)


def _no_specialist(ticket: Ticket):
    """Nobody picked (or the form was incomplete): nothing is sent, and the agent is told where."""
    if not htmx:
        flash(NO_SPECIALIST, "error")
        return redirect(url_for("tickets.show", ticket_id=ticket.id, _anchor="send-panel"))
    return _panel_with_error(ticket, picker_error=NO_SPECIALIST)


def _panel_with_error(ticket: Ticket, **errors):
    state = window.session_window(ticket.customer_phone)
    response = make_response(
        render_template(
            "partials/send_panel.html",
            ticket=ticket,
            window=state,
            **send_panel_context(ticket, state, request.form, **errors),
        )
    )
    # The form targets the handoff list; an error belongs in the panel instead.
    response.headers["HX-Retarget"] = "#send-panel"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _to_confirmation(ticket: Ticket, action: str, **args):
    """Post/Redirect/Get to the question page, so Back never offers to post the form again."""
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    target = url_for("handoffs.confirm", ticket_id=ticket.id, action=action, **args, **values)
    if htmx:
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.route("/tickets/<int:ticket_id>/confirm")
@requires_role("agent")
def confirm(ticket_id: int):
    """The question a send needs answered ("send again?", "a second specialist?") as a page of its own."""
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    values = {k: v for k, v in request.args.items() if k not in ("action", "handoff_id")}
    action = request.args.get("action", "send")
    if action == "retry":
        failed = _load(request.args.get("handoff_id", 0, type=int))
        specialist, key = failed.specialist, f"retry-of-{failed.id}"
        post_url = url_for("handoffs.retry", handoff_id=failed.id)
    elif action in ("send", "reopen"):
        specialist = db.session.get(Specialist, request.args.get("specialist_id", 0, type=int)) or abort(404)
        key = handoffs.user_key(current_user, values.get("idempotency_key", ""))
        post_url = url_for(f"handoffs.{action}", ticket_id=ticket.id)
    else:
        abort(404)
    question = _question(ticket, specialist, key, action, values)
    if question is None:  # answered already (Back after "Yes"), or nothing to ask any more
        return redirect(url_for("tickets.show", ticket_id=ticket.id))
    template, context = question
    response = make_response(
        render_template(template, ticket=ticket, specialist=specialist, values=values, post_url=post_url, **context)
    )
    # Back after "Yes" must ask the server (which redirects: answered), not show the browser's kept copy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _question(ticket: Ticket, specialist: Specialist, key: str, action: str, values: dict):
    """Which confirmation this send still needs, in the order the send itself asks, or None."""
    if handoffs.find_by_key(key) is not None:
        return None
    if action == "send" and values.get("confirm_resend") != "yes":
        earlier = handoffs.recent_duplicate(ticket, specialist, key)
        if earlier is not None:
            return "handoffs/confirm_resend.html", dict(earlier=earlier)
    if action == "reopen" and not values.get("card_on_reply"):
        return None  # a template alone names no card: nothing to ask
    earlier = send_rules.other_card(ticket, specialist.id)
    if earlier is not None and str(earlier.id) != values.get("confirm_after"):
        question = handoffs.SecondCardNeedsConfirmation(earlier, specialist.display_name)
        return "handoffs/confirm_second.html", dict(earlier=earlier, question=str(question))
    try:
        send_rules.check_available(specialist, values.get("confirm_unavailable"))
    except handoffs.SpecialistUnavailableNeedsConfirmation as refusal:
        return "handoffs/confirm_unavailable.html", dict(refusal=refusal)
    return None


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
@exempt_from_rate_limits
@read_only
@requires_role("agent")
def ticket_list(ticket_id: int):
    """The ticket's handoff list, polled: 204 (nothing to swap) until a handoff comes or goes."""
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    if not htmx:
        return redirect(url_for("tickets.show", ticket_id=ticket_id, _anchor="handoffs"))
    if request.args.get("v") == handoffs.list_version(ticket):
        return "", 204
    return render_template("partials/handoffs.html", ticket=ticket, **_list_context(ticket))


def _list_context(ticket: Ticket) -> dict:
    attempts = handoffs.attempts_for(ticket)
    return dict(
        attempts=attempts,
        version=handoffs.list_version(ticket),
        triages={h.id: handoffs.triage_for(h) for h in attempts},
        pending=handoffs.pending_follow_up(ticket),
        cancel_form=CancelFollowUpForm(),
    )


def _outcome_message(outcome: handoffs.SendOutcome, what: str = "Card") -> tuple[str, str]:
    """One sentence, and its flash category: what happened to this send."""
    handoff = outcome.handoff
    if not outcome.created:
        if handoff.idempotency_key.startswith("follow-up-"):
            return (
                f"{handoff.specialist_name}'s card already went when the customer answered; nothing was sent twice.",
                "info",
            )
        return f"{what} was already sent from this form; nothing was sent twice.", "info"
    if handoff.status == "failed":
        return handoff.failure_reason, "error"
    if handoff.status in ("unknown", "queued"):
        return handoff.failure_reason, "warning"
    return f"{what} accepted by 1MSG (message id {handoff.message_id}).", "success"


def _load(handoff_id: int) -> Handoff:
    return db.session.get(Handoff, handoff_id) or abort(404)


@bp.route("/handoffs/<int:handoff_id>")
@requires_role("agent")
def show(handoff_id: int):
    """One handoff with its timeline."""
    handoff = _load(handoff_id)
    return render_template("handoffs/show.html", handoff=handoff, triage=handoffs.triage_for(handoff))


@bp.route("/handoffs/<int:handoff_id>/status")
@exempt_from_rate_limits
@read_only
@checks_session_itself
@requires_role("agent")
def status(handoff_id: int):
    """The live timeline fragment (polled while not final); the full page without htmx.

    A poll is decided by one read (services/status_poll.py): the live session's user and the
    handoff's ETag columns. Anything that read cannot settle (no live session, a lower role, no
    such handoff, failure advice to work out, no htmx) goes through the login check and the
    full path below."""
    state = status_poll.read(session.get("_user_id"), handoff_id) if htmx else None
    if state is None or not state.allows(access_rule_for(request.endpoint)) or state.handoff is None:
        return _status_checked(handoff_id)
    if state.needs_triage:
        return _status(handoff_id)
    if request.if_none_match.contains(state.etag):
        return _fragment_response("", state.etag, 304)  # nothing changed: skip rendering
    # The row read is the handoff to show; its times are shown in the zone of the user just read;
    # the template is rendered without the context processors, as Flask-Login's would load the
    # user again for a `current_user` the fragment does not use.
    g.viewer_zone = time_zones.effective_zone(state.time_zone, request.cookies.get(BROWSER_ZONE_COOKIE))
    handoff = state.handoff
    news = request.args.get("was") not in (None, handoff.status)
    template = current_app.jinja_env.get_template("partials/handoff_status.html")
    return _fragment_response(template.render(handoff=handoff, triage=None, news=news), state.etag)


def _status_checked(handoff_id: int):
    if (refused := require_access(access_rule_for(request.endpoint))) is not None:
        return refused
    return _status(handoff_id)


def _status(handoff_id: int):
    """The fragment from the handoff itself, once the user is known to see it."""
    handoff = _load(handoff_id)
    if not htmx:
        return show(handoff_id)
    triage = handoffs.triage_for(handoff)
    # The Retry button appears when its wait is over, and goes once someone retried: both count as news.
    offer = f"{triage.retry_now}-{triage.retried.id if triage.retried else ''}" if triage else ""
    etag = status_poll.fragment_etag(handoff, offer)
    if request.if_none_match.contains(etag):
        return _fragment_response("", etag, 304)  # nothing changed: skip rendering
    # The status the page showed: when it differs, the timeline's live region says what changed.
    news = request.args.get("was") not in (None, handoff.status)
    body = render_template("partials/handoff_status.html", handoff=handoff, triage=triage, news=news)
    return _fragment_response(body, etag)


def _fragment_response(body: str, etag: str, status_code: int = 200):
    response = make_response(body, status_code)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache, private"
    return response
