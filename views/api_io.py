"""The JSON API's input checks, errors and output shapes (the views stay parse → call → render)."""

import base64
import binascii
import re
from datetime import UTC, datetime

from flask import jsonify

from models import HANDOFF_STATUSES, TICKET_STATUSES, Absence, Handoff, Ticket
from services import languages
from services.events import iso
from services.phones import PhoneError, normalize_phone
from services.specialist_board import SpecialistNow

# ASCII only, so that the OpenAPI pattern (an ECMA regex) and this one accept the same refs.
REF_PATTERN = re.compile(r"^[A-Za-z0-9_.:/#-]+$")
MAX_DB_INT = 2**31 - 1
LIST_PARAMETERS = ("since", "status", "limit", "cursor")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[!-~]{8,64}")  # visible ASCII, as in the OpenAPI document
TICKET_TEXT_FIELDS = (("subject", 200), ("customer_name", 120))


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


def text_field(body: dict, name: str, max_length: int, errors: dict, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "This field is required."
        return None
    if not isinstance(value, str) or not value.strip():
        errors[name] = "Give a non-empty string."
        return None
    if len(value.strip()) > max_length:
        errors[name] = f"At most {max_length} characters."
        return None
    if "\x00" in value:
        errors[name] = "Remove the NUL character (\\u0000): it cannot be stored."
        return None
    if not _is_utf8_text(value):
        errors[name] = "Remove the lone surrogate (an unpaired \\ud800-\\udfff escape): it is not text."
        return None
    return value.strip()


def _is_utf8_text(value: str) -> bool:
    """False for strings holding a lone surrogate, which JSON allows and no database stores."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ticket_input(body: dict, *, creating: bool) -> dict:
    """Validated ticket fields; every field is required to create, only the ref to update."""
    errors: dict = {}
    data = {"external_ref": external_ref(body, errors)}
    for name, limit in TICKET_TEXT_FIELDS:
        data[name] = text_field(body, name, limit, errors, required=creating)
    data["customer_phone"] = _phone(body, errors, required=creating)
    if body.get("status") is not None and body.get("status") not in TICKET_STATUSES:
        errors["status"] = f"One of {', '.join(TICKET_STATUSES)}."
    data["status"] = body.get("status")
    language = _language(body, errors)
    if errors:
        raise invalid(errors)
    data = {key: value for key, value in data.items() if value is not None}
    if "language" in body:  # null (or "") clears it
        data["language"] = language
    return data


def _language(body: dict, errors: dict) -> str | None:
    value = body.get("language")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors["language"] = "Give a BCP 47 language code as a string, e.g. pt or pt-BR, or null."
        return None
    try:
        return languages.normalise(value)
    except languages.LanguageError as exc:
        errors["language"] = str(exc)
        return None


def external_ref(body: dict, errors: dict) -> str | None:
    ref = text_field(body, "external_ref", 64, errors, required=True)
    if ref is not None and not REF_PATTERN.match(ref):
        errors["external_ref"] = "Use letters, digits and . _ - : / # only."
        return None
    return ref


def _phone(body: dict, errors: dict, *, required: bool) -> str | None:
    raw = text_field(body, "customer_phone", 64, errors, required=required)
    if raw is None:
        return None
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        errors["customer_phone"] = exc.message
        return None


UNAVAILABLE_REASONS = ("off_hours", "on_leave", "over_capacity")


def handoff_input(body: dict) -> tuple[str, int, str | None, int | None, str | None]:
    """(ticket ref, specialist id, introduction text or None, confirmed handoff id or None,
    confirmed unavailability reason or None) from a POST /handoffs body."""
    errors: dict = {}
    ref = text_field(body, "ticket", 64, errors, required=True)
    specialist_id = body.get("specialist_id")
    if type(specialist_id) is not int or not 1 <= specialist_id <= MAX_DB_INT:
        errors["specialist_id"] = "Give the specialist's id (an integer from GET /specialists)."
    intro = text_field(body, "intro_text", 1000, errors, required=False)
    confirmed = body.get("confirm_after_handoff_id")
    if confirmed is not None and (type(confirmed) is not int or not 1 <= confirmed <= MAX_DB_INT):
        errors["confirm_after_handoff_id"] = (
            "Give the id of the handoff named in the second_card_needs_confirmation answer."
        )
    unavailable = body.get("confirm_unavailable")
    if unavailable is not None and unavailable not in UNAVAILABLE_REASONS:
        errors["confirm_unavailable"] = (
            f"Give the reason named in the specialist_unavailable answer: {', '.join(UNAVAILABLE_REASONS)}."
        )
    if errors:
        raise invalid(errors)
    return ref, specialist_id, intro, confirmed, unavailable


def idempotency_key(headers) -> str:
    key = headers.get("Idempotency-Key") or ""
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise ApiError(
            400,
            "idempotency_key_required",
            "Send an Idempotency-Key header of 8 to 64 visible ASCII characters (no spaces), "
            "e.g. a UUID, the same on every retry of this request.",
        )
    return key


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time (naive means UTC) as naive UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: e.g. year 1 with a positive offset
        raise invalid({"since": "Give an ISO 8601 time, e.g. 2026-01-31T09:00:00Z."}) from None
    return moment


def list_filters(args) -> dict:
    """since, status, limit and cursor of GET /handoffs, checked."""
    # A misspelt filter (stauts=read) must not quietly list everything.
    errors: dict = {
        name: "Unknown parameter: use since, status, limit or cursor." for name in args if name not in LIST_PARAMETERS
    }
    status = args.get("status")
    if status is not None and status not in HANDOFF_STATUSES:
        errors["status"] = f"One of {', '.join(HANDOFF_STATUSES)}."
    limit = args.get("limit", "50")
    if not limit.isascii() or not limit.isdigit() or not 1 <= int(limit) <= 200:
        errors["limit"] = "An integer from 1 to 200."
    after = decode_cursor(args.get("cursor"), errors)
    if errors:
        raise invalid(errors)
    return {"since": parse_since(args.get("since")), "status": status, "limit": int(limit), "after": after}


def encode_cursor(handoff_id: int) -> str:
    return base64.urlsafe_b64encode(f"h:{handoff_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, errors: dict) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind == "h" and number.isascii() and number.isdigit() and int(number) <= MAX_DB_INT:
            return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    errors["cursor"] = "Use the next_cursor value of the previous page."
    return 0


def ticket_json(ticket: Ticket) -> dict:
    return {
        "id": ticket.id,
        "external_ref": ticket.external_ref,
        "subject": ticket.subject,
        "customer_name": ticket.customer_name,
        "customer_phone": ticket.customer_phone,
        "status": ticket.status,
        "language": ticket.language,
        "ready_at": iso(ticket.ready_at),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }


SPECIALIST_FILTERS = ("available", "language", "skill")


def specialist_filters(args) -> dict:
    """available=now, language (BCP 47) and skill (a tag) of GET /specialists, checked."""
    errors: dict = {
        name: "Unknown parameter: use available, language or skill." for name in args if name not in SPECIALIST_FILTERS
    }
    # Only the first value would be read: a second one (skill=tax&skill=vat) must not be ignored quietly.
    errors.update({name: f"Give {name} once." for name in SPECIALIST_FILTERS if len(args.getlist(name)) > 1})
    available = args.get("available")
    if available is not None and available != "now":
        errors["available"] = "Only available=now is supported."
    language = args.get("language")
    if language is not None:
        try:
            language = languages.normalise(language)
        except languages.LanguageError as exc:
            errors["language"] = str(exc)
    skill = args.get("skill")
    if skill is not None and not 1 <= len(skill.strip()) <= 100:
        errors["skill"] = "Give one tag of 1 to 100 characters, e.g. tax."
    if errors:
        raise invalid(errors)
    return {"available_now": available == "now", "language": language, "skill": skill.strip() if skill else None}


def specialist_json(now: SpecialistNow, absences: list[Absence]) -> dict:
    """A directory entry with its card fields, what admins keep about availability, and now."""
    specialist = now.specialist
    return {
        "id": specialist.id,
        "display_name": specialist.display_name,
        "first_name": specialist.first_name,
        "last_name": specialist.last_name,
        "phone": specialist.phone,
        "phone_type": specialist.phone_type,
        "email": specialist.email,
        "organisation": specialist.organisation,
        "department": specialist.department,
        "title": specialist.title,
        "tags": specialist.tag_list,
        "time_zone": specialist.time_zone,
        "working_hours": specialist.working_hours or None,
        "languages": specialist.language_list,
        "daily_capacity": specialist.daily_capacity,
        "absences": [
            {
                "starts_on": a.starts_on.isoformat(),
                "ends_on": a.ends_on.isoformat(),
                "stand_in": {"id": a.stand_in.id, "display_name": a.stand_in.display_name} if a.stand_in else None,
            }
            for a in absences
        ],
        "availability": now.json(),
    }


def handoff_json(handoff: Handoff) -> dict:
    return {
        "id": handoff.id,
        "status": handoff.status,
        "message_id": handoff.message_id,
        "ticket": {"id": handoff.ticket_id, "external_ref": handoff.ticket.external_ref},
        "specialist": {"id": handoff.specialist_id, "display_name": handoff.specialist_name},
        "created_at": iso(handoff.created_at),
        "accepted_at": iso(handoff.accepted_at),
        "sent_at": iso(handoff.sent_at),
        "delivered_at": iso(handoff.delivered_at),
        "read_at": iso(handoff.read_at),
        "failed_at": iso(handoff.failed_at),
        "stuck_at": iso(handoff.stuck_at),
        "failure_code": handoff.failure_code,
        "failure_reason": handoff.failure_reason,
        "updated_at": iso(handoff.updated_at),
    }
