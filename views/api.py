"""The helpdesk's JSON API under /api/v1, authenticated by API key (Authorization: Bearer)."""

from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from extensions import csrf, limiter
from models import Handoff, Specialist, db, utcnow
from services import api_keys, directory, handoffs, specialist_board, tickets
from services.database import unit_of_work
from views import api_io
from views.access import PUBLIC, public
from views.api_io import ApiError
from views.api_schema import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # machines send no CSRF token; the API key is the credential

# Our own checks refused the send: the handoff exists as "failed" and the answer is a 409.
BLOCKED_CODES = ("window_closed", "ticket_closed", "specialist_inactive")


def api_view(*, write: bool = False):
    """Mark a view as part of the API: the access hook lets it through, the key decides here."""

    def mark(view):
        view.access_rule = "api"
        view.api_write = write
        return view

    return mark


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    db.session.rollback()
    response, status = exc.response()
    if "retry_after" in exc.extra:
        response.headers["Retry-After"] = str(exc.extra["retry_after"])
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response, status


@bp.before_request
def authenticate():
    """Every API view but the OpenAPI document needs an active key; writes need an agent key."""
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "access_rule", None) == PUBLIC:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Send an API key in the header Authorization: Bearer <key>.")
    api_key = api_keys.verify(token)
    if api_key is None:
        raise ApiError(401, "unauthorized", "This API key is unknown or has been revoked.")
    if getattr(view, "api_write", False) and api_key.role != "agent":
        raise ApiError(
            403,
            "forbidden",
            f"This key's role ({api_key.role}) may only read; creating tickets and handoffs needs an agent key.",
        )
    g.api_key = api_key


def _label() -> str:
    return f"api key {g.api_key.name}"


@bp.route("/openapi.json")
@public
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


@bp.route("/tickets", methods=["POST"])
@api_view(write=True)
def upsert_ticket():
    """Create (201) or update (200) a ticket by its external_ref."""
    body = api_io.json_object(request)
    try:
        ticket, created = _save_ticket(body)
    except IntegrityError:  # the same new ref created concurrently (rolled back): now it is an update
        ticket, created = _save_ticket(body)
    response = jsonify(api_io.ticket_json(ticket))
    if created:
        response.status_code = 201
        response.headers["Location"] = url_for("api.get_ticket", external_ref=ticket.external_ref)
    return response


def _save_ticket(body: dict):
    ref = body.get("external_ref")
    existing = tickets.find_by_ref(ref.strip()) if isinstance(ref, str) and ref.strip() else None
    data = api_io.ticket_input(body, creating=existing is None)
    try:
        with unit_of_work():
            ticket = tickets.save(existing, data, label=_label())
    except tickets.TicketError as exc:
        raise api_io.invalid({exc.field: str(exc)}) from None
    return ticket, existing is None


@bp.route("/tickets/<path:external_ref>")
@api_view()
def get_ticket(external_ref: str):
    """One ticket by the helpdesk's reference."""
    ticket = tickets.find_by_ref(external_ref)
    if ticket is None:
        raise ApiError(404, "not_found", f"No ticket has the reference {external_ref[:64]!r}.")
    return jsonify(api_io.ticket_json(ticket))


@bp.route("/specialists")
@api_view()
def list_specialists():
    """Active directory entries with their card fields and availability; ?available=now&language=pt&skill=tax."""
    filters = api_io.specialist_filters(request.args)
    now = utcnow()
    board = specialist_board.board(directory.search(limit=1000), now)
    absences = specialist_board.absences_not_over(board, now)
    entries = specialist_board.filtered(board, **filters)
    return jsonify(api_io.specialist_list(entries, absences))


def _api_send_limit() -> str:
    return current_app.config["API_SEND_LIMIT"]


def _api_key_bucket() -> str:
    return f"api-key:{g.api_key.id}"


@bp.route("/handoffs", methods=["POST"])
@api_view(write=True)
@limiter.limit(_api_send_limit, key_func=_api_key_bucket)
def create_handoff():
    """Send a specialist's card for a ticket, once per Idempotency-Key."""
    key = api_io.idempotency_key(request.headers)
    send = api_io.handoff_input(api_io.json_object(request))
    ticket, specialist = tickets.find_by_ref(send.ticket), db.session.get(Specialist, send.specialist_id)
    errors = {"ticket": "No ticket has this reference."} if ticket is None else {}
    if specialist is None:
        errors["specialist_id"] = "No specialist has this id."
    if errors:
        raise api_io.invalid(errors)
    try:
        # Keys are per API key: two helpdesks choosing the same key never collide.
        outcome = handoffs.send_card(
            ticket,
            specialist,
            None,
            f"api:{g.api_key.id}:{key}",
            intro_text=send.intro_text,
            actor_label=_label(),
            confirmed_over=send.confirm_after_handoff_id,
            confirmed_unavailable=send.confirm_unavailable,
        )
    except handoffs.HandoffConflict as exc:
        raise ApiError(422, "idempotency_key_reused", str(exc)) from None
    except handoffs.SecondCardNeedsConfirmation as exc:
        raise ApiError(
            409,
            "second_card_needs_confirmation",
            f"{exc} Send the request again with confirm_after_handoff_id {exc.earlier.id}.",
            handoff=api_io.handoff_json(exc.earlier),
        ) from None
    except handoffs.SpecialistUnavailableNeedsConfirmation as exc:
        raise ApiError(
            409,
            "specialist_unavailable",
            f"{exc} Send the request again with confirm_unavailable {exc.reason!r}.",
            reason=exc.reason,
            availability=exc.text,
        ) from None
    except handoffs.CustomerCapReached as exc:
        raise ApiError(429, "customer_cap_reached", str(exc), retry_after=exc.retry_after) from None
    return _handoff_answer(outcome)


def _handoff_answer(outcome: handoffs.SendOutcome):
    handoff = outcome.handoff
    if handoff.status == "failed" and handoff.failure_code in BLOCKED_CODES:
        raise ApiError(409, handoff.failure_code, handoff.failure_reason, handoff=api_io.handoff_json(handoff))
    response = jsonify(api_io.handoff_json(handoff))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_handoff", handoff_id=handoff.id)
    if not outcome.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.route("/handoffs/<int(max=2147483647):handoff_id>")
@api_view()
def get_handoff(handoff_id: int):
    """One handoff with its status and the time of each step."""
    handoff = db.session.get(Handoff, handoff_id)
    if handoff is None:
        raise ApiError(404, "not_found", f"No handoff has the id {handoff_id}.")
    return jsonify(api_io.handoff_json(handoff))


@bp.route("/handoffs")
@api_view()
def list_handoffs():
    """Handoffs changed since a time, optionally of one status, oldest first, by cursor."""
    query = api_io.list_filters(request.args)
    statement = (
        select(Handoff)
        .options(selectinload(Handoff.ticket))
        .where(Handoff.id > query.after)
        .order_by(Handoff.id)
        .limit(query.limit + 1)
    )
    if query.since is not None:
        statement = statement.where(Handoff.updated_at >= query.since)
    if query.status:
        statement = statement.where(Handoff.status == query.status)
    rows = db.session.scalars(statement).all()
    return jsonify(api_io.handoff_page(rows[: query.limit], more=len(rows) > query.limit))
