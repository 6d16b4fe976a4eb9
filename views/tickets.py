"""Agents' ticket queue and ticket pages: window state, specialist picker, send."""

import uuid

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from extensions import exempt_from_rate_limits, htmx
from forms.tickets import CancelFollowUpForm, QueueForm, ReopenForm, SendCardForm, SimulateInboundForm, TicketForm
from models import Ticket, User, db
from services import (
    directory,
    emulated,
    handoffs,
    presence,
    queue,
    reopen_templates,
    settings,
    suggestions,
    tickets,
    window,
)
from services.database import unit_of_work
from services.specialist_cards import card_payload
from views.access import read_only, requires_role

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
# The picker lists this many; typing narrows the rest down (a phone screen holds about this many).
PICKER_ROWS = 8


def _load(ticket_id: int) -> Ticket:
    return db.session.get(Ticket, ticket_id) or abort(404)


def _assignee_choices() -> list[tuple[int, str]]:
    people = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
    return [(0, "Nobody")] + [(u.id, u.name) for u in people]


@bp.route("/")
@requires_role("agent")
def index():
    """The queue: search, filters, counts and each ticket's last handoff; htmx refreshes it."""
    form = QueueForm(request.args)
    query = form.q.data if form.validate() else ""
    result = queue.ticket_queue(query or "", form.chosen(), current_user.id)
    template = "partials/ticket_queue.html" if htmx and htmx.target == "ticket-queue" else "tickets/index.html"
    return render_template(template, form=form, queue=result, limit=queue.QUEUE_LIMIT)


@bp.route("/new", methods=["GET", "POST"])
@requires_role("agent")
def new():
    """Create a ticket by hand (the helpdesk can also push them through the API)."""
    form = TicketForm()
    form.assignee_id.choices = _assignee_choices()
    return _save_ticket(form, None)


@bp.route("/<int:ticket_id>/edit", methods=["GET", "POST"])
@requires_role("agent")
def edit(ticket_id: int):
    """Edit a ticket's details or status."""
    ticket = _load(ticket_id)
    form = TicketForm(obj=ticket)
    form.assignee_id.choices = _assignee_choices()
    if request.method == "GET":
        form.assignee_id.data = ticket.assignee_id or 0
    return _save_ticket(form, ticket)


def _save_ticket(form: TicketForm, ticket: Ticket | None):
    if form.validate_on_submit():
        try:
            with unit_of_work():
                ticket = tickets.save(ticket, form.data, actor=current_user._get_current_object())
        except tickets.TicketError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            flash(f"Saved ticket {ticket.external_ref}.", "success")
            return redirect(url_for("tickets.show", ticket_id=ticket.id))
    return render_template("tickets/form.html", form=form, ticket=ticket), 400 if form.errors else 200


@bp.route("/<int:ticket_id>/ready", methods=["POST"])
@requires_role("agent")
def mark_ready(ticket_id: int):
    """Mark the ticket ready for escalation."""
    ticket = _load(ticket_id)
    with unit_of_work():
        tickets.mark_ready(ticket, current_user._get_current_object())
    flash(f"Ticket {ticket.external_ref} is ready for escalation.", "success")
    return redirect(url_for("tickets.show", ticket_id=ticket.id))


@bp.route("/<int:ticket_id>")
@requires_role("agent")
def show(ticket_id: int):
    """The ticket page: window, specialist, card preview, send, and every attempt."""
    ticket = _load(ticket_id)
    # This page's own name: its forms' keys start with it, so its own sends are not news to it.
    tab = presence.valid_tab(request.args.get("tab")) or presence.new_tab()
    with unit_of_work():
        presence.seen(current_user.id, ticket.id)
    state = window.session_window(ticket.customer_phone)
    attempts = handoffs.attempts_for(ticket)
    return render_template(
        "tickets/show.html",
        ticket=ticket,
        window=state,
        attempts=attempts,
        messages=window.recent_messages(ticket.customer_phone),
        activity=presence.activity(ticket, current_user, tab),
        triages={h.id: handoffs.triage_for(h) for h in attempts},
        version=handoffs.list_version(ticket),
        cancel_form=CancelFollowUpForm(),
        emulated=emulated.is_emulated(),
        inbound_form=SimulateInboundForm(),
        **send_panel_context(ticket, state, request.args, tab=tab),
    )


@bp.route("/<int:ticket_id>/send-panel")
@requires_role("agent")
def send_panel(ticket_id: int):
    """The send panel alone (htmx reloads it, keeping the agent's choices, when the window changes)."""
    ticket = _load(ticket_id)
    if not htmx:
        return redirect(url_for("tickets.show", ticket_id=ticket.id))
    state = window.session_window(ticket.customer_phone)
    return render_template(
        "partials/send_panel.html", ticket=ticket, window=state, **send_panel_context(ticket, state, request.args)
    )


def send_panel_context(
    ticket: Ticket, state, args, picker_error: str | None = None, panel_error: str | None = None, tab: str | None = None
) -> dict:
    """The picker, the chosen specialist's card, and the send or reopen form."""
    tab = tab or presence.valid_tab(args.get("tab")) or presence.new_tab()
    pending = handoffs.pending_follow_up(ticket)
    # Only the agent's own choice is marked: the one picked now, else the one whose card waits for
    # the customer's answer. Nobody is preselected for them.
    wanted = args.get("specialist_id", type=int) or (pending.specialist_id if pending else None)
    picker = directory.picker(args.get("q", ""), current_user.id, chosen_id=wanted, limit=PICKER_ROWS)
    picked = picker.chosen
    form = SendCardForm(
        formdata=None,
        data={
            "idempotency_key": f"{tab}.{uuid.uuid4().hex}",
            "include_intro": args.get("include_intro", "yes"),
            "intro_text": args.get("intro_text") or settings.get("intro_text"),
        },
    )
    choice = reopen_templates.reopen_choice()
    return dict(
        picker=picker,
        picked=picked,
        picker_error=picker_error,
        panel_error=panel_error,
        form=form,
        ranking=_ranking(ticket, picker),
        tab=tab,
        reopen_form=ReopenForm(formdata=None),
        pending=pending,
        preview=card_payload(picked) if picked else None,
        reopen_choice=choice,
        template_text=reopen_templates.preview(choice, ticket, picked) if choice and picked else None,
    )


@bp.route("/<int:ticket_id>/specialists")
@read_only
@requires_role("agent")
def specialist_options(ticket_id: int):
    """The picker's list for what the agent typed (htmx); the ticket page with the search otherwise."""
    ticket = _load(ticket_id)
    if not htmx:
        return redirect(url_for("tickets.show", ticket_id=ticket.id, q=request.args.get("q", ""), _anchor="send-panel"))
    state = window.session_window(ticket.customer_phone)
    chosen = request.args.get("specialist_id", type=int)
    picker = directory.picker(request.args.get("q", ""), current_user.id, chosen_id=chosen, limit=PICKER_ROWS)
    return render_template(
        "partials/specialist_options.html",
        ticket=ticket,
        window=state,
        picker=picker,
        picked=picker.chosen,
        announce_count=True,
        ranking=_ranking(ticket, picker),
    )


def _ranking(ticket: Ticket, picker) -> suggestions.TicketView:
    """Availability per listed specialist and the suggestion, over the whole active directory."""
    everyone = {s.id: s for s in directory.search(limit=1000)}
    for row in picker.rows:
        everyone.setdefault(row.specialist.id, row.specialist)
    return suggestions.for_ticket(ticket, list(everyone.values()))


@bp.route("/<int:ticket_id>/window")
@exempt_from_rate_limits
@requires_role("agent")
def window_state(ticket_id: int):
    """The ticket page's poll: the window, new messages, and who else is here or just sent a card."""
    ticket = _load(ticket_id)
    if not htmx:
        return redirect(url_for("tickets.show", ticket_id=ticket.id))
    with unit_of_work():
        presence.seen(current_user.id, ticket.id)
    tab = presence.valid_tab(request.args.get("tab"))
    activity = presence.activity(ticket, current_user, tab)
    state = window.session_window(ticket.customer_phone)
    messages = window.recent_messages(ticket.customer_phone)
    changed = request.args.get("was_open") != ("true" if state.is_open else "false")
    newest = str(messages[-1].id) if messages else ""
    response = make_response(
        render_template(
            "partials/window_poll.html",
            ticket=ticket,
            window=state,
            messages=messages,
            window_changed=changed,
            new_messages=request.args.get("seen", "") != newest,
            tab=tab,
            activity=activity,
            activity_changed=request.args.get("activity") != activity.key,
        )
    )
    if changed:
        # The send panel swaps between "Send card" and "Send template" when the window changes.
        response.headers["HX-Trigger"] = "window-changed"
    return response


@bp.route("/<int:ticket_id>/simulate-inbound", methods=["POST"])
@requires_role("agent")
def simulate_inbound(ticket_id: int):
    """Emulated channel only: the customer "writes", which opens their window."""
    ticket = _load(ticket_id)
    form = SimulateInboundForm()
    if not emulated.is_emulated():
        abort(404)
    if form.validate_on_submit():
        try:
            emulated.simulate_customer_message(ticket.customer_phone, form.body.data)
        except emulated.EmulatorError as exc:
            flash(f"The emulator did not take the message ({exc}). Is it running?", "error")
        else:
            flash("The emulated customer sent a message; the window opens when 1MSG's webhook arrives.", "info")
    else:
        flash("Type the customer's message first.", "error")
    return redirect(url_for("tickets.show", ticket_id=ticket.id))
