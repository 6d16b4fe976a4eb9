"""The OpenAPI 3 description of /api/v1, kept beside the views it describes.

tests/test_openapi.py runs schemathesis against the app with this document: a view whose
answers drift from it fails there.
"""

from models import HANDOFF_STATUSES, TICKET_STATUSES
from models.specialist import PHONE_TYPES

MAX_ID = 2**31 - 1


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


TIME = _nullable({"type": "string", "format": "date-time"})


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


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
    return {str(code): _json(_ref("Error"), described[code]) for code in sorted({400, *codes})}


SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "example": "validation_failed"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "A message per invalid field.",
                    },
                },
            }
        },
    },
    "TicketInput": {
        "type": "object",
        "required": ["external_ref"],
        "description": "Creating needs every field but status; updating needs only external_ref.",
        "properties": {
            "external_ref": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_.:/#-]+$"},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "customer_name": {"type": "string", "minLength": 1, "maxLength": 120},
            "customer_phone": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": "The customer's WhatsApp number in E.164, e.g. +447700900123.",
            },
            "status": {"type": "string", "enum": list(TICKET_STATUSES)},
            "language": _nullable(
                {
                    "type": "string",
                    "maxLength": 35,
                    "description": "The customer's language, a BCP 47 code (pt, pt-BR); "
                    "the suggestion prefers specialists who speak it. "
                    "null or an empty string clears it.",
                }
            ),
        },
    },
    "Ticket": {
        "type": "object",
        "required": [
            "id",
            "external_ref",
            "subject",
            "customer_name",
            "customer_phone",
            "status",
            "language",
            "ready_at",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "external_ref": {"type": "string"},
            "subject": {"type": "string"},
            "customer_name": {"type": "string"},
            "customer_phone": {"type": "string", "pattern": "^\\+[0-9]{7,15}$"},
            "status": {"type": "string", "enum": list(TICKET_STATUSES)},
            "language": _nullable({"type": "string", "description": "BCP 47 code, e.g. pt-BR."}),
            "ready_at": TIME,
            "created_at": TIME,
            "updated_at": TIME,
        },
    },
    "Specialist": {
        "type": "object",
        "required": [
            "id",
            "display_name",
            "first_name",
            "last_name",
            "phone",
            "phone_type",
            "email",
            "organisation",
            "department",
            "title",
            "tags",
            "time_zone",
            "working_hours",
            "languages",
            "daily_capacity",
            "absences",
            "availability",
        ],
        "properties": {
            "id": {"type": "integer"},
            "display_name": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "phone": {"type": "string"},
            "phone_type": {"type": "string", "enum": list(PHONE_TYPES)},
            "email": _nullable({"type": "string"}),
            "organisation": _nullable({"type": "string"}),
            "department": _nullable({"type": "string"}),
            "title": _nullable({"type": "string"}),
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Their skills."},
            "time_zone": _nullable(
                {"type": "string", "example": "Europe/Berlin", "description": "The IANA zone they work in."}
            ),
            "working_hours": _nullable(
                {
                    "type": "string",
                    "example": "Mon-Fri 09:00-17:00; Sat 10:00-13:00",
                    "description": "Weekly hours in their own time zone.",
                }
            ),
            "languages": {
                "type": "array",
                "items": {"type": "string"},
                "example": ["pt-BR", "en"],
                "description": "BCP 47 codes of the languages they answer in.",
            },
            "daily_capacity": _nullable(
                {"type": "integer", "minimum": 1, "description": "Cards a day they can take; null: no limit."}
            ),
            "absences": {
                "type": "array",
                "description": "Absences not yet over, first day first.",
                "items": {
                    "type": "object",
                    "required": ["starts_on", "ends_on", "stand_in"],
                    "properties": {
                        "starts_on": {"type": "string", "format": "date"},
                        "ends_on": {
                            "type": "string",
                            "format": "date",
                            "description": "The last day away (their zone).",
                        },
                        "stand_in": _nullable(
                            {
                                "type": "object",
                                "required": ["id", "display_name"],
                                "properties": {"id": {"type": "integer"}, "display_name": {"type": "string"}},
                            }
                        ),
                    },
                },
            },
            "availability": _ref("Availability"),
        },
    },
    "Availability": {
        "type": "object",
        "required": [
            "state",
            "text",
            "next_available_at",
            "on_leave_until",
            "stand_in",
            "handoffs_today",
            "over_capacity",
        ],
        "properties": {
            "state": {
                "type": "string",
                "enum": ["available", "off_hours", "on_leave", "unknown"],
                "description": "unknown: no time zone or no working hours are set.",
            },
            "text": {"type": "string", "example": "back Monday 09:00 (their time)"},
            "next_available_at": _nullable(
                {
                    "type": "string",
                    "format": "date-time",
                    "description": "Their next start, with their zone's offset (null when at work now or not known).",
                }
            ),
            "on_leave_until": _nullable({"type": "string", "format": "date"}),
            "stand_in": _nullable({"type": "string", "description": "The stand-in's name while on leave."}),
            "handoffs_today": {
                "type": "integer",
                "minimum": 0,
                "description": "Cards sent today, their day, that may have reached a customer.",
            },
            "over_capacity": {"type": "boolean", "description": "Today's count has reached daily_capacity."},
        },
    },
    "HandoffInput": {
        "type": "object",
        "required": ["ticket", "specialist_id"],
        "properties": {
            "ticket": {"type": "string", "minLength": 1, "maxLength": 64, "description": "The ticket's external_ref."},
            "specialist_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "intro_text": _nullable(
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "description": "Sent as a text message just after the card, once 1MSG has accepted the card.",
                }
            ),
            "confirm_after_handoff_id": _nullable(
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_ID,
                    "description": "Send this specialist's card although another specialist's card was "
                    "already sent or is pending for the ticket: the id named in the "
                    "second_card_needs_confirmation answer.",
                }
            ),
            "confirm_unavailable": _nullable(
                {
                    "type": "string",
                    "enum": ["off_hours", "on_leave", "over_capacity"],
                    "description": "Send the card although the specialist is off work, on leave or at "
                    "their day's capacity: the reason named in the specialist_unavailable "
                    "answer (another reason at the send asks again).",
                }
            ),
        },
    },
    "Handoff": {
        "type": "object",
        "required": [
            "id",
            "status",
            "message_id",
            "ticket",
            "specialist",
            "created_at",
            "accepted_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "stuck_at",
            "failure_code",
            "failure_reason",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": list(HANDOFF_STATUSES)},
            "message_id": _nullable({"type": "string", "description": "1MSG's id of the card message."}),
            "ticket": {
                "type": "object",
                "required": ["id", "external_ref"],
                "properties": {"id": {"type": "integer"}, "external_ref": {"type": "string"}},
            },
            "specialist": {
                "type": "object",
                "required": ["id", "display_name"],
                "properties": {"id": {"type": "integer"}, "display_name": {"type": "string"}},
            },
            "created_at": TIME,
            "accepted_at": TIME,
            "sent_at": TIME,
            "delivered_at": TIME,
            "read_at": TIME,
            "failed_at": TIME,
            "stuck_at": TIME,
            "updated_at": TIME,
            "failure_code": _nullable({"type": "string"}),
            "failure_reason": _nullable({"type": "string"}),
        },
    },
    "HandoffBlocked": {
        "allOf": [
            _ref("Error"),
            {"type": "object", "required": ["handoff"], "properties": {"handoff": _ref("Handoff")}},
        ],
    },
    "SpecialistUnavailable": {
        "allOf": [
            _ref("Error"),
            {
                "type": "object",
                "required": ["reason", "availability"],
                "properties": {
                    "reason": {"type": "string", "enum": ["off_hours", "on_leave", "over_capacity"]},
                    "availability": {"type": "string", "example": "back Monday 09:00 (their time)"},
                },
            },
        ],
    },
}

ID_PARAMETER = {
    "name": "handoff_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
REF_PARAMETER = {
    "name": "external_ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_.:#-]+$"},
}
LIST_PARAMETERS = [
    {
        "name": "since",
        "in": "query",
        "description": "Only handoffs changed at or after this time.",
        "schema": {"type": "string", "format": "date-time"},
    },
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(HANDOFF_STATUSES)}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
    {"name": "cursor", "in": "query", "description": "next_cursor of the previous page.", "schema": {"type": "string"}},
]
SPECIALIST_PARAMETERS = [
    {
        "name": "available",
        "in": "query",
        "schema": {"type": "string", "enum": ["now"]},
        "description": "now: at work now (their hours, not on leave) and under today's capacity.",
    },
    {
        "name": "language",
        "in": "query",
        "schema": {"type": "string", "minLength": 1, "maxLength": 35},
        "description": "A BCP 47 code; matches the same primary language (pt matches pt-BR).",
    },
    {
        "name": "skill",
        "in": "query",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": "One of their tags (case ignored).",
    },
]
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "The same on every retry of one request (e.g. a UUID).",
    "schema": {"type": "string", "minLength": 8, "maxLength": 64, "pattern": "^[!-~]+$"},
}

PATHS = {
    "/tickets": {
        "post": {
            "operationId": "upsertTicket",
            "summary": "Create or update a ticket by external_ref",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TicketInput")}}},
            "responses": {
                "200": _json(_ref("Ticket"), "Updated."),
                "201": _json(_ref("Ticket"), "Created."),
                **_errors(400, 401, 403, 422),
            },
        }
    },
    "/tickets/{external_ref}": {
        "get": {
            "operationId": "getTicket",
            "summary": "One ticket",
            "parameters": [REF_PARAMETER],
            "responses": {"200": _json(_ref("Ticket"), "The ticket."), **_errors(401, 404)},
        }
    },
    "/specialists": {
        "get": {
            "operationId": "listSpecialists",
            "summary": "Active directory entries, with availability now",
            "parameters": SPECIALIST_PARAMETERS,
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["items"],
                        "properties": {"items": {"type": "array", "items": _ref("Specialist")}},
                    },
                    "The active specialists that match.",
                ),
                **_errors(401, 422),
            },
        }
    },
    "/handoffs": {
        "post": {
            "operationId": "createHandoff",
            "summary": "Send a specialist's card, once per Idempotency-Key",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("HandoffInput")}}},
            "responses": {
                "201": _json(
                    _ref("Handoff"),
                    "The handoff (a repeat with the same key answers the first "
                    "one, with the header Idempotent-Replayed: true).",
                ),
                "409": _json(
                    {"anyOf": [_ref("HandoffBlocked"), _ref("SpecialistUnavailable")]},
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
            "parameters": LIST_PARAMETERS,
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["items", "next_cursor"],
                        "properties": {
                            "items": {"type": "array", "items": _ref("Handoff")},
                            "next_cursor": _nullable({"type": "string"}),
                        },
                    },
                    "A page of handoffs.",
                ),
                **_errors(401, 422),
            },
        },
    },
    "/handoffs/{handoff_id}": {
        "get": {
            "operationId": "getHandoff",
            "summary": "One handoff",
            "parameters": [ID_PARAMETER],
            "responses": {"200": _json(_ref("Handoff"), "The handoff."), **_errors(401, 404)},
        }
    },
}


def openapi_document() -> dict:
    """The document served at /api/v1/openapi.json."""
    return {
        "openapi": "3.0.3",
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
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key made by an admin."}
            },
        },
    }
