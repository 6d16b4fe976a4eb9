"""Parse 1MSG webhook bodies in every documented shape (see shared/onemsg-contract.md).

A plain library: no Flask, no database. Structurally malformed bodies raise
WebhookFormatError naming the path at fault; well-formed events we do not track (e.g. a
"pending" status, or a calls passthrough body with no event array) are listed in
ParsedWebhook.ignored with a reason instead.

A chat id is not always a phone: `<digits>@c.us` is one, `<id>@lid` is a user known only by a
business-scoped user id (BSUID), `<id>@g.us` a group. Only phones become `chat_phone`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "STATUS_RANK",
    "WebhookFormatError",
    "StatusUpdate",
    "InboundMessage",
    "ParsedWebhook",
    "normalize_status",
    "parse_body",
    "parse_payload",
]

STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}
KNOWN_STATUSES = ("sent", "delivered", "read", "failed")
# Older 1MSG values and their meaning today; "played" is a voice note listened to.
_STATUS_ALIASES = {"viewed": "read", "played": "read", "undelivered": "failed"}
_EVENT_ARRAYS = ("ack", "hooks", "messages", "entry")
# Unix seconds past year 9999 cannot be dates; above this they are probably milliseconds.
_MAX_UNIX_SECONDS = 253_402_300_799
_SECONDS_TEXT = re.compile(r"\d{1,12}(?:\.\d{1,9})?")


class WebhookFormatError(ValueError):
    """The body is not a 1MSG webhook we can read; `reason` says what to fix."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StatusUpdate:
    """One delivery status event for a message we sent."""

    message_id: str
    status: str  # one of "sent", "delivered", "read", "failed"
    occurred_at: datetime | None = None  # UTC; None when 1MSG sent no timestamp
    error: str | None = None  # plain text, as WhatsApp/1MSG gave it
    error_code: int | None = None  # Meta error code, when present
    recipient: str | None = None  # the phone's digits; None for an @lid or @g.us chat
    bsuid: str | None = None  # the recipient's business-scoped user id, when given


@dataclass(frozen=True)
class InboundMessage:
    """One message from `messages[]`: the customer's, or an echo of ours (from_me)."""

    message_id: str
    chat_phone: str | None  # the phone's digits; None for an @lid user or an @g.us group
    from_me: bool
    sent_at: datetime  # UTC
    body: str | None = None
    type: str | None = None
    sender_name: str | None = None
    caption: str | None = None  # media messages carry their text here, the URL in body
    chat_kind: str = "phone"  # "phone" (@c.us), "lid" (a user known by BSUID) or "group" (@g.us)
    bsuid: str | None = None  # the author's business-scoped user id (@lid, or authorBsuid)


@dataclass
class ParsedWebhook:
    """Everything one webhook POST carried."""

    instance_id: str | None
    statuses: list[StatusUpdate] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # well-formed events we do not track


def normalize_status(value: object) -> str | None:
    """Map a status value (any case, old names included) to sent/delivered/read/failed."""
    if not isinstance(value, str):
        return None
    status = value.strip().lower()
    status = _STATUS_ALIASES.get(status, status)
    return status if status in KNOWN_STATUSES else None


def parse_body(raw: bytes | str) -> ParsedWebhook:
    """Decode a raw request body as JSON and parse it."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise WebhookFormatError(f"body is not UTF-8 text: {exc}") from None
    if not isinstance(raw, str) or not raw.strip():
        raise WebhookFormatError("body is empty: expected a JSON object")
    try:
        obj = json.loads(raw)
    except RecursionError:
        raise WebhookFormatError("body is not JSON we can read: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and ints over Python's digit limit
        raise WebhookFormatError(f"body is not JSON: {exc}") from None
    return parse_payload(obj)


def parse_payload(obj: Any) -> ParsedWebhook:
    """Parse an already JSON-decoded webhook body."""
    if not isinstance(obj, dict):
        raise WebhookFormatError(f"body is {_kind(obj)}, not a JSON object")
    present = [key for key in _EVENT_ARRAYS if obj.get(key) is not None]
    result = ParsedWebhook(instance_id=_instance_id(obj))
    if not present:
        # Calls passthrough ({"type": "calls", ...}) and other bodies without an event array:
        # nothing to apply, but a refusal would only make 1MSG send it again.
        kind = obj.get("type")
        result.ignored.append(
            f"a body of type {_show(kind) if kind is not None else '(none)'} "
            "with no ack, hooks, messages or entry array: kept, nothing applied"
        )
        return result
    for key in present:
        items = _list(obj[key], key)
        if key == "messages":
            _collect_messages(items, key, result)
        elif key == "entry":
            _collect_meta_entries(items, result)
        else:
            _collect_statuses(items, key, result)
    return result


def _instance_id(obj: dict) -> str | None:
    """Return instanceId as text; it may arrive as a number."""
    value = obj.get("instanceId")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise WebhookFormatError(f"instanceId is {_kind(value)}, expected a string")


# --- statuses: ack[], hooks[] and Meta's value.statuses[] share one item shape -------------


def _collect_statuses(items: list, path: str, result: ParsedWebhook) -> None:
    """Parse each status item, keeping unknown status values aside."""
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        update = _status_update(_dict(item, where), where)
        if isinstance(update, str):
            result.ignored.append(update)
        else:
            result.statuses.append(update)


def _status_update(item: dict, where: str) -> StatusUpdate | str:
    """Return the StatusUpdate, or a reason string when the status is one we do not track."""
    message_id = _required_text(item, "id", where)
    raw_status = _required_text(item, "status", where)
    status = normalize_status(raw_status)
    if status is None:
        return (
            f"{where}: status {raw_status!r} is not one we track (sent, delivered, read, failed); message {message_id}"
        )
    error, error_code = _error_fields(item, where)
    return StatusUpdate(
        message_id=message_id,
        status=status,
        occurred_at=_optional_time(item, "timestamp", where),
        error=error,
        error_code=error_code,
        recipient=_status_recipient(item, where),
        bsuid=_bsuid(item, ("bsuid",), where) or _lid_of(item.get("chatId")),
    )


def _status_recipient(item: dict, where: str) -> str | None:
    """Return the recipient's phone digits from phone, recipient_id or a phone chatId."""
    for key in ("phone", "recipient_id", "chatId"):
        value = item.get(key)
        if value is not None and chat_kind(value) == "phone":
            return _digits(value, f"{where}.{key}") or None
    return None


def chat_kind(chat_id: object) -> str:
    """ "phone" for `<digits>@c.us` or bare digits, "lid" for `<id>@lid`, "group" for `@g.us`."""
    text = str(chat_id).strip().lower()
    if text.endswith("@lid"):
        return "lid"
    if text.endswith("@g.us"):
        return "group"
    return "phone"


def _bsuid(item: dict, keys: tuple[str, ...], where: str) -> str | None:
    """Return the first BSUID given under `keys` (without an @lid suffix)."""
    for key in keys:
        value = _optional_text(item, key, where)
        if value and value.strip():
            return value.strip().removesuffix("@lid")
    return None


def _error_fields(item: dict, where: str) -> tuple[str | None, int | None]:
    """Return (plain-text error, Meta code) from `error` (text or object) or `errors[]`."""
    if item.get("errors") is not None:
        errors = _list(item["errors"], f"{where}.errors")
        if errors:
            return _meta_error(_dict(errors[0], f"{where}.errors[0]"), f"{where}.errors[0]")
    error = item.get("error")
    if error is None or isinstance(error, str):
        return (error or None), None
    if isinstance(error, dict):
        return _meta_error(error, f"{where}.error")
    raise WebhookFormatError(f"{where}.error is {_kind(error)}, expected text or an object")


def _meta_error(error: dict, where: str) -> tuple[str | None, int | None]:
    """Join Meta's title, message and details into one readable line; keep the code."""
    parts: list[str] = []
    details = error.get("error_data")
    details = details.get("details") if isinstance(details, dict) else None
    for key, value in (
        ("title", error.get("title")),
        ("message", error.get("message")),
        ("error_user_msg", error.get("error_user_msg")),
        ("details", details),
    ):
        if value is None:
            continue
        if not isinstance(value, str):
            raise WebhookFormatError(f"{where}.{key} is {_kind(value)}, expected text")
        if value.strip() and value.strip() not in parts:  # Meta often repeats title as message
            parts.append(value.strip())
    return (": ".join(parts) or None), _error_code(error.get("code"), f"{where}.code")


def _error_code(value: object, where: str) -> int | None:
    """Return a Meta error code given as a number or as digits."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise WebhookFormatError(f"{where} {_show(value)} is not a numeric error code")


# --- messages[]: 1MSG's normalized inbound messages and echoes ------------------------------


def _collect_messages(items: list, path: str, result: ParsedWebhook) -> None:
    """Parse each item of a 1MSG `messages[]` array."""
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        result.messages.append(_inbound_message(_dict(item, where), where))


def _inbound_message(item: dict, where: str) -> InboundMessage:
    """Build an InboundMessage from one 1MSG messages[] item."""
    kind = chat_kind(item.get("chatId")) if item.get("chatId") is not None else "phone"
    return InboundMessage(
        message_id=_required_text(item, "id", where),
        chat_phone=_chat_phone(item, where) if kind == "phone" else None,
        chat_kind=kind,
        bsuid=_bsuid(item, ("authorBsuid",), where) or (_lid_of(item.get("chatId")) if kind == "lid" else None),
        from_me=_from_me(item, where),
        sent_at=_required_time(item, "time", where),
        body=_optional_text(item, "body", where),
        type=_optional_text(item, "type", where),
        sender_name=_optional_text(item, "senderName", where),
        caption=_optional_text(item, "caption", where),
    )


def _chat_phone(item: dict, where: str) -> str:
    """Return the customer's digits from chatId, else phone, else author."""
    for key in ("chatId", "phone", "author"):
        value = item.get(key)
        if value is not None:
            digits = _digits(value, f"{where}.{key}")
            if digits:
                return digits
            raise WebhookFormatError(f"{where}.{key} {_show(value)} holds no phone digits")
    raise WebhookFormatError(f"{where}.chatId is missing (no chatId, phone or author)")


def _lid_of(chat_id: object) -> str | None:
    """The BSUID of an `<id>@lid` chat id, else None."""
    if isinstance(chat_id, str) and chat_kind(chat_id) == "lid":
        return chat_id.strip()[: -len("@lid")] or None
    return None


def _from_me(item: dict, where: str) -> bool:
    """Read fromMe as true/false, 1/0 or "1"/"0"; guessing would wrongly open the window."""
    value = item.get("fromMe")
    if isinstance(value, bool):
        return value
    if value in (0, 1) and isinstance(value, int):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "0", "true", "false"):
        return value.strip().lower() in ("1", "true")
    if value is None:
        raise WebhookFormatError(f"{where}.fromMe is missing")
    raise WebhookFormatError(f"{where}.fromMe {_show(value)} is not true/false or 1/0")


# --- raw Meta format: entry[].changes[].value.{statuses,messages}[] ------------------------


def _collect_meta_entries(entries: list, result: ParsedWebhook) -> None:
    """Walk Meta's entry/changes nesting and parse the statuses and messages inside."""
    for e_index, entry in enumerate(entries):
        e_where = f"entry[{e_index}]"
        changes = _optional_list(_dict(entry, e_where), "changes", e_where)
        for c_index, change in enumerate(changes):
            c_where = f"{e_where}.changes[{c_index}]"
            _collect_meta_value(_dict(change, c_where), c_where, result)


def _collect_meta_value(change: dict, where: str, result: ParsedWebhook) -> None:
    """Parse one change's value; changes without statuses or messages are noted as ignored."""
    raw_value = change.get("value")
    value = {} if raw_value is None else _dict(raw_value, f"{where}.value")
    statuses = _optional_list(value, "statuses", f"{where}.value")
    messages = _optional_list(value, "messages", f"{where}.value")
    if not statuses and not messages:
        result.ignored.append(f"{where}: field {change.get('field')!r} carries no statuses or messages")
    _collect_statuses(statuses, f"{where}.value.statuses", result)
    names = _meta_contact_names(value, f"{where}.value")
    for index, item in enumerate(messages):
        m_where = f"{where}.value.messages[{index}]"
        result.messages.append(_meta_message(_dict(item, m_where), m_where, names))


def _meta_message(item: dict, where: str, names: dict[str, str]) -> InboundMessage:
    """Build an InboundMessage from Meta's raw inbound message (always from the customer)."""
    sender = _digits(_required_text(item, "from", where), f"{where}.from")
    if not sender:
        raise WebhookFormatError(f"{where}.from holds no phone digits")
    kind = _optional_text(item, "type", where)
    content = item.get(kind) if kind else None
    content = content if isinstance(content, dict) else {}
    return InboundMessage(
        message_id=_required_text(item, "id", where),
        chat_phone=sender,
        from_me=False,
        sent_at=_required_time(item, "timestamp", where),
        body=_optional_text(content, "body", f"{where}.{kind}"),
        type=kind,
        sender_name=names.get(sender),
        caption=_optional_text(content, "caption", f"{where}.{kind}"),
    )


def _meta_contact_names(value: dict, where: str) -> dict[str, str]:
    """Map wa_id to profile name from Meta's value.contacts[], skipping odd entries."""
    names: dict[str, str] = {}
    for contact in _optional_list(value, "contacts", where):
        profile = contact.get("profile") if isinstance(contact, dict) else None
        name = profile.get("name") if isinstance(profile, dict) else None
        wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
        if isinstance(name, str) and isinstance(wa_id, str):
            names[wa_id] = name
    return names


# --- small typed readers; each error names the JSON path at fault ---------------------------


def _list(value: object, where: str) -> list:
    """Return value if it is a JSON array."""
    if not isinstance(value, list):
        raise WebhookFormatError(f"{where} is {_kind(value)}, expected an array")
    return value


def _optional_list(item: dict, key: str, where: str) -> list:
    """Return item[key] as an array, or an empty one when absent or null."""
    value = item.get(key)
    return [] if value is None else _list(value, f"{where}.{key}")


def _dict(value: object, where: str) -> dict:
    """Return value if it is a JSON object."""
    if not isinstance(value, dict):
        raise WebhookFormatError(f"{where} is {_kind(value)}, expected an object")
    return value


def _required_text(item: dict, key: str, where: str) -> str:
    """Return a non-empty string field, or say it is missing."""
    value = _optional_text(item, key, where)
    if value is None or not value.strip():
        raise WebhookFormatError(f"{where}.{key} is missing")
    return value


def _optional_text(item: dict, key: str, where: str) -> str | None:
    """Return a string field or None; numbers are accepted as their text."""
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ids and phones sometimes arrive as numbers
    raise WebhookFormatError(f"{where}.{key} is {_kind(value)}, expected text")


def _digits(value: object, where: str) -> str:
    """Return the digits of a phone or chat id ("14155552671@c.us" -> "14155552671")."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise WebhookFormatError(f"{where} is {_kind(value)}, expected text")
    return "".join(ch for ch in value.split("@", 1)[0] if ch in "0123456789")


def _optional_time(item: dict, key: str, where: str) -> datetime | None:
    """Return a UTC datetime from Unix seconds (number or digit string), or None."""
    value = item.get(key)
    return None if value is None or value == "" else _unix_seconds(value, f"{where}.{key}")


def _required_time(item: dict, key: str, where: str) -> datetime:
    """Like _optional_time, but the field must be present."""
    moment = _optional_time(item, key, where)
    if moment is None:
        raise WebhookFormatError(f"{where}.{key} is missing")
    return moment


def _unix_seconds(value: object, where: str) -> datetime:
    """Convert Unix seconds to an aware UTC datetime, refusing anything else."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and _SECONDS_TEXT.fullmatch(value.strip()):
        seconds = float(value.strip())
    if seconds is None or not 0 <= seconds <= _MAX_UNIX_SECONDS:  # also refuses NaN
        hint = " (milliseconds? 1MSG sends seconds)" if _looks_like_millis(seconds) else ""
        raise WebhookFormatError(f"{where} {_show(value)} is not Unix seconds{hint}")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _looks_like_millis(seconds: float | None) -> bool:
    """True for numbers in the range of Unix milliseconds."""
    return seconds is not None and _MAX_UNIX_SECONDS < seconds < _MAX_UNIX_SECONDS * 1000


def _kind(value: object) -> str:
    """Name a JSON value's type the way a person reading the body would."""
    names = {
        dict: "an object",
        list: "an array",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    """Quote a value for an error message, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
