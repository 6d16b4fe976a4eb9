"""The JSON API's errors, and its input and output through the shapes of views/api_schema.py
(the views stay parse → call → render)."""

import typing
from typing import TypeVar

from flask import jsonify
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from models import Absence, Handoff, Ticket
from services.specialist_board import SpecialistNow
from views import api_schema as shapes
from views.api_schema import OURS, Says, encode_cursor

# pydantic's own checks in our words, where the field has no Says of its own for them.
MESSAGES = {
    "string_type": "Give a non-empty string.",
    "string_too_short": "Give a non-empty string.",
    "string_too_long": "At most {max_length} characters.",
    # JSON allows an unpaired \ud800-\udfff escape; no database stores it.
    "string_unicode": "Remove the lone surrogate (an unpaired \\ud800-\\udfff escape): it is not text.",
}
REQUIRED = "This field is required."
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An answer other than success: HTTP status, a stable code, a message, per-field messages."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.extra = fields or {}, extra

    def response(self):
        body = {"error": {"code": self.code, "message": self.message, "fields": self.fields}, **self.extra}
        return jsonify(body), self.status


def invalid(fields: dict) -> ApiError:
    return ApiError(422, "validation_failed", "Some fields are missing or invalid: see fields.", fields)


def json_object(request) -> dict:
    """The request body as a JSON object, or a 400 that says what was wrong."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the JSON reader gives up on deep nesting without a ValueError
        raise ApiError(400, "invalid_json", "The JSON body is nested too deeply: send a flat JSON object.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object with Content-Type: application/json.")
    return body


def parse(model: type[M], data: dict, errors: dict | None = None) -> M:
    """`data` checked by `model`, or a 422 naming each bad field (with `errors` found before)."""
    errors = dict(errors or {})
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            errors.setdefault(str(error["loc"][0]), _message(model, error))
        parsed = None
    if errors:
        raise invalid(errors)
    return parsed


def _message(model: type[BaseModel], error: dict) -> str:
    kind, name = error["type"], str(error["loc"][0])
    if kind == OURS:  # our own check: its message is written for the field already
        return error["msg"]
    if kind == "extra_forbidden":
        *names, last = model.model_fields
        return f"Unknown parameter: use {', '.join(names)} or {last}."
    says = next((says for says in _says(model.model_fields[name]) if says.answers(kind)), None)
    if says is not None:
        return says.message
    if kind == "missing" or (error["input"] is None and kind.endswith("_type")):  # null where a value is needed
        return REQUIRED
    return MESSAGES.get(kind, error["msg"]).format(**error.get("ctx", {}))


def _says(field: FieldInfo):
    """The Says of a field, wherever its annotation holds one (in `X | None`, a nested Annotated)."""

    def walk(item):
        if isinstance(item, Says):
            yield item
        for argument in typing.get_args(item):
            yield from walk(argument)

    for item in (*field.metadata, field.annotation):
        yield from walk(item)


def idempotency_key(headers) -> str:
    try:
        return shapes.IdempotencyHeader.model_validate(
            {"Idempotency-Key": headers.get("Idempotency-Key")}
        ).idempotency_key
    except ValidationError:
        raise ApiError(
            400,
            "idempotency_key_required",
            "Send an Idempotency-Key header of 8 to 64 visible ASCII characters (no spaces), "
            "e.g. a UUID, the same on every retry of this request.",
        ) from None


def ticket_input(body: dict, *, creating: bool) -> dict:
    """Validated ticket fields; every field is required to create, only the ref to update."""
    ticket = parse(shapes.NewTicket if creating else shapes.TicketInput, body)
    data = ticket.model_dump(exclude_none=True, exclude={"language"})
    if "language" in ticket.model_fields_set:  # null (or "") clears it
        data["language"] = ticket.language
    return data


def handoff_input(body: dict) -> shapes.HandoffInput:
    return parse(shapes.HandoffInput, body)


def list_filters(args) -> shapes.HandoffQuery:
    """since, status, limit and cursor of GET /handoffs, checked."""
    return parse(shapes.HandoffQuery, args.to_dict())


def specialist_filters(args) -> dict:
    """available=now, language (BCP 47) and skill (a tag) of GET /specialists, checked."""
    # Only the first value would be read: a second one (skill=tax&skill=vat) must not be ignored quietly.
    repeated = {
        name: f"Give {name} once." for name in shapes.SpecialistQuery.model_fields if len(args.getlist(name)) > 1
    }
    query = parse(shapes.SpecialistQuery, args.to_dict(), repeated)
    return {"available_now": query.available == "now", "language": query.language, "skill": query.skill}


def ticket_json(ticket: Ticket) -> dict:
    return shapes.Ticket.model_validate(ticket).model_dump(mode="json")


def specialist_list(entries: list[SpecialistNow], absences: dict[int, list[Absence]]) -> dict:
    items = [specialist_answer(entry, absences.get(entry.specialist.id, [])) for entry in entries]
    return shapes.SpecialistList(items=items).model_dump(mode="json")


def specialist_answer(now: SpecialistNow, absences: list[Absence]) -> shapes.Specialist:
    """A directory entry with its card fields, what admins keep about availability, and now."""
    specialist = now.specialist
    return shapes.Specialist(
        **{name: getattr(specialist, name) for name in shapes.Specialist.model_fields if name not in SPECIALIST_EXTRAS},
        tags=specialist.tag_list,
        languages=specialist.language_list,
        working_hours=specialist.working_hours or None,
        absences=[shapes.Absence(starts_on=a.starts_on, ends_on=a.ends_on, stand_in=a.stand_in) for a in absences],
        availability=now.json(),
    )


# The answer's fields that are not a column of the same name.
SPECIALIST_EXTRAS = ("tags", "languages", "working_hours", "absences", "availability")
HANDOFF_EXTRAS = ("ticket", "specialist")


def handoff_answer(handoff: Handoff) -> shapes.Handoff:
    return shapes.Handoff(
        **{name: getattr(handoff, name) for name in shapes.Handoff.model_fields if name not in HANDOFF_EXTRAS},
        ticket=shapes.TicketRef(id=handoff.ticket_id, external_ref=handoff.ticket.external_ref),
        specialist=shapes.SpecialistRef(id=handoff.specialist_id, display_name=handoff.specialist_name),
    )


def handoff_json(handoff: Handoff) -> dict:
    return handoff_answer(handoff).model_dump(mode="json")


def handoff_page(handoffs: list[Handoff], *, more: bool) -> dict:
    """A page of handoffs, with the cursor of the next one when there is more."""
    next_cursor = encode_cursor(handoffs[-1].id) if more else None
    return shapes.HandoffPage(items=[handoff_answer(h) for h in handoffs], next_cursor=next_cursor).model_dump(
        mode="json"
    )
