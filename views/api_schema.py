"""The shapes of /api/v1, defined once as pydantic models: they check what comes in
(views/api_io.py turns their errors into our 422 answer), build what goes out, and make the
OpenAPI document served at /api/v1/openapi.json.

tests/test_openapi.py runs schemathesis against the app with this document: a view whose
answers drift from it fails there.
"""

import base64
import binascii
import functools
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import PydanticCustomError

from models import HANDOFF_STATUSES, TICKET_STATUSES
from models.specialist import PHONE_TYPES
from services import languages
from services.events import iso
from services.phones import PhoneError, normalize_phone

MAX_ID = 2**31 - 1
UNAVAILABLE_REASONS = ("off_hours", "on_leave", "over_capacity")
OURS = "ours"  # the type of the errors our own checks raise: their message is the one to show


class Says:
    """A field's own message for pydantic's errors of the given kinds (all when none is given):
    Annotated metadata, read by views/api_io.py."""

    def __init__(self, message: str, *kinds: str):
        self.message, self.kinds = message, kinds

    def answers(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


def refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(OURS, message)


# ----- request bodies ------------------------------------------------------------------------


def _storable(value: str) -> str:
    # Lone surrogates never get here: pydantic refuses them itself (string_unicode, see api_io).
    if "\x00" in value:
        raise refuse("Remove the NUL character (\\u0000): it cannot be stored.")
    return value


def text(max_length: int, pattern: str | None = None, **field) -> Any:
    """A non-empty string, stripped, of at most max_length characters, without NUL."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length, pattern=pattern),
        AfterValidator(_storable),
        Field(**field),
    ]


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except PhoneError as exc:
        raise refuse(exc.message) from None


def _language(value: str | None) -> str | None:
    if value is None or value == "":  # null (or "") clears it
        return None
    try:
        return languages.normalise(value)
    except languages.LanguageError as exc:
        raise refuse(str(exc)) from None


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# ASCII only, so that the OpenAPI pattern (an ECMA regex) and Python's accept the same refs.
ExternalRef = Annotated[
    text(64, pattern=r"^[A-Za-z0-9_.:/#-]+$"),
    Says("Use letters, digits and . _ - : / # only.", "string_pattern_mismatch"),
]
Phone = Annotated[
    text(64, description="The customer's WhatsApp number in E.164, e.g. +447700900123."), AfterValidator(_phone)
]
TicketStatus = Annotated[Literal[TICKET_STATUSES], Says(f"One of {', '.join(TICKET_STATUSES)}.")]
Language = Annotated[
    str | None,
    Field(
        max_length=languages.MAX_LENGTH,
        description="The customer's language, a BCP 47 code (pt, pt-BR); the suggestion prefers specialists "
        "who speak it. null or an empty string clears it.",
    ),
    AfterValidator(_language),
    Says("Give a BCP 47 language code as a string, e.g. pt or pt-BR, or null.", "string_type"),
]


class Body(BaseModel):
    # Exact JSON types ("1" is no id, true is no number); fields we do not know are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class TicketInput(Body):
    """Creating needs every field but status and language; updating needs only external_ref."""

    external_ref: ExternalRef
    subject: text(200) | None = None
    customer_name: text(120) | None = None
    customer_phone: Phone | None = None
    status: TicketStatus | None = None
    language: Language = None


class NewTicket(TicketInput):
    """What creating a ticket needs (the document shows TicketInput, which says so)."""

    subject: text(200)
    customer_name: text(120)
    customer_phone: Phone


class HandoffInput(Body):
    ticket: text(64, description="The ticket's external_ref.")
    specialist_id: Annotated[Id, Says("Give the specialist's id (an integer from GET /specialists).")]
    intro_text: (
        text(1000, description="Sent as a text message just after the card, once 1MSG has accepted the card.") | None
    ) = None
    confirm_after_handoff_id: (
        Annotated[
            Id,
            Field(
                description="Send this specialist's card although another specialist's card was already sent "
                "or is pending for the ticket: the id named in the second_card_needs_confirmation answer."
            ),
            Says("Give the id of the handoff named in the second_card_needs_confirmation answer."),
        ]
        | None
    ) = None
    confirm_unavailable: (
        Annotated[
            Literal[UNAVAILABLE_REASONS],
            Field(
                description="Send the card although the specialist is off work, on leave or at their day's "
                "capacity: the reason named in the specialist_unavailable answer (another reason at the send "
                "asks again)."
            ),
            Says(f"Give the reason named in the specialist_unavailable answer: {', '.join(UNAVAILABLE_REASONS)}."),
        ]
        | None
    ) = None


# ----- headers, paths and queries (the document lists their fields as parameters) -----------


class Parameters(BaseModel):
    """Strings from a header, a path or a query. An optional one defaults to None, not to a
    nullable type: a URL cannot say null, and the document must not offer it."""

    # A misspelt filter (stauts=read) must not quietly list everything: unknown names are refused.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IdempotencyHeader(Parameters):
    idempotency_key: str = Field(
        alias="Idempotency-Key",
        min_length=8,
        max_length=64,
        pattern=r"^[!-~]+$",  # visible ASCII
        description="The same on every retry of one request (e.g. a UUID).",
    )


class TicketPath(Parameters):
    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:#-]+$")


class HandoffPath(Parameters):
    handoff_id: Id


def _digits(value: Any) -> Any:
    # Only plain ASCII digits are a number here: no sign, space, underscore or decimal point.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError("not an integer")


def _moment(value: Any) -> datetime:
    """An ISO 8601 time (naive means UTC) as naive UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: e.g. year 1 with a positive offset
        raise refuse("Give an ISO 8601 time, e.g. 2026-01-31T09:00:00Z.") from None
    return moment


def _cursor(value: Any) -> int:
    """The handoff id a next_cursor stands for."""
    try:
        kind, _, number = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().partition(":")
        if kind == "h" and number.isascii() and number.isdigit() and int(number) <= MAX_ID:
            return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise refuse("Use the next_cursor value of the previous page.")


def encode_cursor(handoff_id: int) -> str:
    return base64.urlsafe_b64encode(f"h:{handoff_id}".encode()).decode().rstrip("=")


class HandoffQuery(Parameters):
    since: Annotated[
        datetime, BeforeValidator(_moment), Field(description="Only handoffs changed at or after this time.")
    ] = None
    status: Annotated[Literal[HANDOFF_STATUSES], Says(f"One of {', '.join(HANDOFF_STATUSES)}.")] = None
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(_digits), Says("An integer from 1 to 200.")] = 50
    cursor: Annotated[
        int,
        BeforeValidator(_cursor),
        WithJsonSchema({"type": "string", "description": "next_cursor of the previous page."}),
    ] = None

    @property
    def after(self) -> int:
        """The last handoff id of the previous page (0: the first page)."""
        return self.cursor or 0


class SpecialistQuery(Parameters):
    available: Annotated[
        Literal["now"],
        Field(description="now: at work now (their hours, not on leave) and under today's capacity."),
        Says("Only available=now is supported."),
    ] = None
    language: Annotated[
        str,
        Field(
            min_length=1,
            max_length=languages.MAX_LENGTH,
            description="A BCP 47 code; matches the same primary language (pt matches pt-BR).",
        ),
        AfterValidator(_language),
    ] = None
    skill: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        Field(description="One of their tags (case ignored)."),
        Says("Give one tag of 1 to 100 characters, e.g. tax."),
    ] = None


# ----- answers -------------------------------------------------------------------------------

# Naive UTC, written as ISO 8601 with a Z (services.events.iso), or null.
Time = Annotated[
    datetime | None,
    PlainSerializer(iso),
    WithJsonSchema({"type": ["string", "null"], "format": "date-time"}),
]


class Answer(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Ticket(Answer):
    id: int
    external_ref: str
    subject: str
    customer_name: str
    customer_phone: str = Field(pattern=r"^\+[0-9]{7,15}$")
    status: Literal[TICKET_STATUSES]
    language: str | None = Field(description="BCP 47 code, e.g. pt-BR.")
    ready_at: Time
    created_at: Time
    updated_at: Time


class Availability(Answer):
    state: Literal["available", "off_hours", "on_leave", "unknown"] = Field(
        description="unknown: no time zone or no working hours are set."
    )
    text: str = Field(examples=["back Monday 09:00 (their time)"])
    next_available_at: str | None = Field(
        json_schema_extra={"format": "date-time"},
        description="Their next start, with their zone's offset (null when at work now or not known).",
    )
    on_leave_until: date | None
    stand_in: str | None = Field(description="The stand-in's name while on leave.")
    handoffs_today: int = Field(ge=0, description="Cards sent today, their day, that may have reached a customer.")
    over_capacity: bool = Field(description="Today's count has reached daily_capacity.")


class SpecialistRef(Answer):
    id: int
    display_name: str


class Absence(Answer):
    starts_on: date
    ends_on: date = Field(description="The last day away (their zone).")
    stand_in: SpecialistRef | None


class Specialist(Answer):
    id: int
    display_name: str
    first_name: str
    last_name: str
    phone: str
    phone_type: Literal[PHONE_TYPES]
    email: str | None
    organisation: str | None
    department: str | None
    title: str | None
    tags: list[str] = Field(description="Their skills.")
    time_zone: str | None = Field(examples=["Europe/Berlin"], description="The IANA zone they work in.")
    working_hours: str | None = Field(
        examples=["Mon-Fri 09:00-17:00; Sat 10:00-13:00"], description="Weekly hours in their own time zone."
    )
    languages: list[str] = Field(
        examples=[["pt-BR", "en"]], description="BCP 47 codes of the languages they answer in."
    )
    daily_capacity: int | None = Field(ge=1, description="Cards a day they can take; null: no limit.")
    absences: list[Absence] = Field(description="Absences not yet over, first day first.")
    availability: Availability


class SpecialistList(Answer):
    items: list[Specialist]


class TicketRef(Answer):
    id: int
    external_ref: str


class Handoff(Answer):
    id: int
    status: Literal[HANDOFF_STATUSES]
    message_id: str | None = Field(description="1MSG's id of the card message.")
    ticket: TicketRef
    specialist: SpecialistRef
    created_at: Time
    accepted_at: Time
    sent_at: Time
    delivered_at: Time
    read_at: Time
    failed_at: Time
    stuck_at: Time
    failure_code: str | None
    failure_reason: str | None
    updated_at: Time


class HandoffPage(Answer):
    items: list[Handoff]
    next_cursor: str | None


class ErrorDetail(Answer):
    code: str = Field(examples=["validation_failed"])
    message: str
    fields: dict[str, str] = Field(description="A message per invalid field.")


class Error(Answer):
    error: ErrorDetail


class HandoffBlocked(Error):
    handoff: Handoff


class SpecialistUnavailable(Error):
    reason: Literal[UNAVAILABLE_REASONS]
    availability: str = Field(examples=["back Monday 09:00 (their time)"])


# ----- the document --------------------------------------------------------------------------

REF = "#/components/schemas/{model}"


class Untitled(GenerateJsonSchema):
    """JSON Schema without a title on each field ("External Ref" says nothing its name does not)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


BODIES = (TicketInput, HandoffInput)
ANSWERS = (Ticket, SpecialistList, Handoff, HandoffPage, Error, HandoffBlocked, SpecialistUnavailable)


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel] | dict, description: str) -> dict:
    schema = model if isinstance(model, dict) else _ref(model)
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _parameters(model: type[BaseModel], where: str) -> list[dict]:
    """Each field of a header, path or query model as an OpenAPI parameter."""
    schema = model.model_json_schema(ref_template=REF, schema_generator=Untitled)
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        field = {key: value for key, value in field.items() if (key, value) != ("default", None)}
        description = field.pop("description", None)
        parameter = {"name": name, "in": where, "required": where == "path" or name in required, "schema": field}
        parameters.append(parameter | ({"description": description} if description else {}))
    return parameters


def _errors(*codes: int) -> dict:
    described = {
        400: "The body is not a JSON object, a required header is missing, or the request holds a NUL "
        "character (\\u0000), which cannot be stored.",
        401: "No API key, or an unknown or revoked one.",
        403: "The key's role does not allow this (lead keys only read).",
        404: "Nothing has this reference or id.",
        422: "Fields are missing or invalid, or the Idempotency-Key was used for another request "
        "(the same key with any field different).",
        429: "Too many handoffs: this API key's limit (API_SEND_LIMIT; X-RateLimit-* headers) or "
        "the customer's cap (customer_cap_reached); wait for the Retry-After header's seconds.",
    }
    # Any request can be refused as malformed (400), so every operation documents it.
    return {str(code): _json(Error, described[code]) for code in sorted({400, *codes})}


def _paths() -> dict:
    return {
        "/tickets": {
            "post": {
                "operationId": "upsertTicket",
                "summary": "Create or update a ticket by external_ref",
                "requestBody": _body(TicketInput),
                "responses": {
                    "200": _json(Ticket, "Updated."),
                    "201": _json(Ticket, "Created."),
                    **_errors(400, 401, 403, 422),
                },
            }
        },
        "/tickets/{external_ref}": {
            "get": {
                "operationId": "getTicket",
                "summary": "One ticket",
                "parameters": _parameters(TicketPath, "path"),
                "responses": {"200": _json(Ticket, "The ticket."), **_errors(401, 404)},
            }
        },
        "/specialists": {
            "get": {
                "operationId": "listSpecialists",
                "summary": "Active directory entries, with availability now",
                "parameters": _parameters(SpecialistQuery, "query"),
                "responses": {"200": _json(SpecialistList, "The active specialists that match."), **_errors(401, 422)},
            }
        },
        "/handoffs": {
            "post": {
                "operationId": "createHandoff",
                "summary": "Send a specialist's card, once per Idempotency-Key",
                "parameters": _parameters(IdempotencyHeader, "header"),
                "requestBody": _body(HandoffInput),
                "responses": {
                    "201": _json(
                        Handoff,
                        "The handoff (a repeat with the same key answers the first "
                        "one, with the header Idempotent-Replayed: true).",
                    ),
                    "409": _json(
                        {"anyOf": [_ref(HandoffBlocked), _ref(SpecialistUnavailable)]},
                        "Not sent: window_closed, ticket_closed or specialist_inactive (the failed "
                        "handoff is included), second_card_needs_confirmation (the handoff already "
                        "sent or pending is included), or specialist_unavailable (off work, on leave "
                        "or at capacity: the reason and the availability text are included; nothing "
                        "is recorded until it is sent with confirm_unavailable).",
                    ),
                    **_errors(400, 401, 403, 422, 429),
                },
            },
            "get": {
                "operationId": "listHandoffs",
                "summary": "Handoffs, oldest first, by cursor",
                "parameters": _parameters(HandoffQuery, "query"),
                "responses": {"200": _json(HandoffPage, "A page of handoffs."), **_errors(401, 422)},
            },
        },
        "/handoffs/{handoff_id}": {
            "get": {
                "operationId": "getHandoff",
                "summary": "One handoff",
                "parameters": _parameters(HandoffPath, "path"),
                "responses": {"200": _json(Handoff, "The handoff."), **_errors(401, 404)},
            }
        },
    }


@functools.cache
def openapi_document() -> dict:
    """The document served at /api/v1/openapi.json (made once: the models do not change)."""
    modes = [(model, "validation") for model in BODIES] + [(model, "serialization") for model in ANSWERS]
    _, schemas = models_json_schema(modes, ref_template=REF, schema_generator=Untitled)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Specialist Handoff API",
            "version": "1.0.0",
            "description": "Tickets in, handoffs started and followed by the helpdesk. "
            'Errors are {"error": {"code", "message", "fields"}}. '
            "Handoff events are also POSTed to HELPDESK_WEBHOOK_URL, signed "
            "the Standard Webhooks way.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key made by an admin."}
            },
        },
    }
