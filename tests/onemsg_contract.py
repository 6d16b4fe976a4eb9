"""The 1MSG requests we send, as JSON Schemas written from shared/onemsg-contract.md.

Every request our client makes to the emulator during the test suite is checked against the
schema of its (HTTP method, 1MSG method) when the test's emulator fixture ends, so a drift in
what the client sends fails the test that caused it. Requests a test makes by hand (to probe
the emulator's own strictness) carry no client User-Agent and are counted, not checked.
"""

from __future__ import annotations

from collections import Counter

from jsonschema import Draft202012Validator

from onemsg.client import USER_AGENT

DIGITS = {"type": "string", "pattern": r"^\d{6,15}$"}
# The recipient: exactly one of phone (digits, no +) and chatId (<digits>@c.us, or @lid).
RECIPIENT = {
    "oneOf": [
        {"required": ["phone"], "not": {"required": ["chatId"]}},
        {"required": ["chatId"], "not": {"required": ["phone"]}},
    ],
    "properties": {
        "phone": DIGITS,
        "chatId": {"type": "string", "pattern": r"^\d{6,15}@(c\.us|lid)$"},
    },
}
NAME_FIELDS = ["first_name", "last_name", "middle_name", "suffix", "prefix"]
NON_BLANK = {"type": "string", "pattern": r"\S"}
CONTACT = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {
            "type": "object",
            "required": ["formatted_name"],
            "properties": {"formatted_name": NON_BLANK, **{f: {"type": "string"} for f in NAME_FIELDS}},
            # formatted_name and at least one more name field
            "anyOf": [{"required": [f], "properties": {f: NON_BLANK}} for f in NAME_FIELDS],
            "additionalProperties": False,
        },
        "phones": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["phone"],
                "properties": {
                    "phone": {"type": "string", "pattern": r"^\+\d{6,15}$"},
                    "type": {"enum": ["CELL", "MAIN", "IPHONE", "HOME", "WORK"]},
                    "wa_id": DIGITS,
                },
                "additionalProperties": False,
            },
        },
        "emails": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["email"],
                "properties": {"email": {"type": "string", "pattern": "@"}, "type": {"enum": ["WORK", "HOME"]}},
                "additionalProperties": False,
            },
        },
        "org": {
            "type": "object",
            "properties": {k: {"type": "string"} for k in ("company", "department", "title")},
            "additionalProperties": False,
        },
        "urls": {"type": "array"},
        "addresses": {"type": "array"},
        "birthday": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    },
    "additionalProperties": False,
}
# Meta refuses new lines, tabs and more than four spaces in a row in a parameter (132018).
TEMPLATE_TEXT = {"type": "string", "minLength": 1, "not": {"pattern": r"[\n\t]| {5,}"}}
TEMPLATE_COMPONENT = {
    "type": "object",
    "required": ["type", "parameters"],
    "properties": {
        "type": {"enum": ["header", "body", "button"]},
        "sub_type": {"enum": ["url", "quick_reply"]},
        "index": {"type": "integer", "minimum": 0},
        "parameters": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["type", "text"],
                "properties": {"type": {"const": "text"}, "text": TEMPLATE_TEXT},
                "additionalProperties": False,
            },
        },
    },
    # A button component says which button and of what kind.
    "if": {"properties": {"type": {"const": "button"}}},
    "then": {"required": ["sub_type", "index"]},
    "else": {"not": {"anyOf": [{"required": ["sub_type"]}, {"required": ["index"]}]}},
    "additionalProperties": False,
}
URL = {"type": "string", "pattern": r"^https?://\S+$", "not": {"pattern": ","}}


def _body(properties: dict, required: list[str], *extra: dict) -> dict:
    """A JSON body schema with no keys beyond `properties`."""
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {**schema, "allOf": list(extra)} if extra else schema


def _query(properties: dict, required: list[str] = ()) -> dict:
    """A query-string schema (values are strings); the token never travels here by default."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


NO_BODY = {"type": "null"}
EMPTY_QUERY = _query({})
NUMBER_TEXT = {"type": "string", "pattern": r"^\d+$"}

# (HTTP method, 1MSG method) -> {"json": schema, "query": schema}
SCHEMAS: dict[tuple[str, str], dict] = {
    ("POST", "sendContact"): {
        "json": _body(
            {"phone": {}, "chatId": {}, "contacts": {"type": "array", "minItems": 1, "items": CONTACT}},
            ["contacts"],
            RECIPIENT,
        ),
        "query": EMPTY_QUERY,
    },
    ("POST", "sendMessage"): {
        "json": _body(
            {"phone": {}, "chatId": {}, "body": {"type": "string", "minLength": 1, "maxLength": 4096}},
            ["body"],
            RECIPIENT,
        ),
        "query": EMPTY_QUERY,
    },
    ("POST", "sendTemplate"): {
        "json": _body(
            {
                "phone": {},
                "chatId": {},
                "template": NON_BLANK,
                "namespace": NON_BLANK,
                "language": {
                    "type": "object",
                    "required": ["policy", "code"],
                    "properties": {
                        "policy": {"const": "deterministic"},
                        "code": {"type": "string", "pattern": r"^[a-z]{2,3}(_[A-Z]{2})?$"},
                    },
                    "additionalProperties": False,
                },
                "params": {"type": "array", "items": TEMPLATE_COMPONENT},
            },
            ["template", "namespace", "language", "params"],
            RECIPIENT,
        ),
        "query": EMPTY_QUERY,
    },
    ("GET", "templates"): {
        "json": NO_BODY,
        "query": _query({"limit": NUMBER_TEXT, "offset": NUMBER_TEXT}, ["limit", "offset"]),
    },
    ("GET", "webhook"): {"json": NO_BODY, "query": EMPTY_QUERY},
    ("POST", "webhook"): {
        "json": _body(
            {
                "webhookUrl": {
                    "oneOf": [URL, {"type": "array", "items": URL, "minItems": 1, "maxItems": 5, "uniqueItems": True}]
                }
            },
            ["webhookUrl"],
        ),
        "query": EMPTY_QUERY,
    },
    ("GET", "settings"): {"json": NO_BODY, "query": EMPTY_QUERY},
    ("POST", "settings"): {
        "json": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "ackNotificationsOn": {"type": "boolean"},
                "rawHooks": {"type": "boolean"},
                "chatHistoryOn": {"type": "boolean"},
            },
        },
        "query": EMPTY_QUERY,
    },
    ("GET", "status"): {"json": NO_BODY, "query": EMPTY_QUERY},
    ("GET", "hookInfo"): {"json": NO_BODY, "query": _query({"messageId": NON_BLANK}, ["messageId"])},
    ("GET", "messages"): {
        "json": NO_BODY,
        "query": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "chatId": {"type": "string", "pattern": r"^\d{6,15}@(c\.us|lid)$"},
                "msgId": NON_BLANK,
                "last": {"enum": ["true", "false"]},
                "limit": NUMBER_TEXT,
            },
            "oneOf": [{"required": ["chatId"]}, {"required": ["msgId"]}],
        },
    },
}
VALIDATORS = {
    key: {part: Draft202012Validator(schema) for part, schema in parts.items()} for key, parts in SCHEMAS.items()
}
for parts in SCHEMAS.values():
    for schema in parts.values():
        Draft202012Validator.check_schema(schema)

# Counted over the whole session, for the terminal summary.
TALLY: Counter = Counter()


def problems(entry: dict) -> list[str]:
    """What is wrong with one logged request, measured against its schema; [] when it keeps it."""
    method = entry["path"].rsplit("/", 1)[-1]
    key = (entry["method"], method)
    validators = VALIDATORS.get(key)
    if validators is None:
        return [f"{entry['method']} {method}: a request the contract has no schema for"]
    query = dict(entry["query"])
    found = []
    if entry["auth"] == "query":
        query.pop("token", None)  # ONEMSG_TOKEN_IN=query: the one place the token may be
    elif entry["auth"] != "header":
        found.append(f"{entry['method']} {method}: token sent in the {entry['auth']}, not the header")
    for part, value in (("json", entry["json"]), ("query", query)):
        for error in validators[part].iter_errors(value):
            where = "/".join(str(p) for p in error.absolute_path) or part
            found.append(f"{entry['method']} {method} {part} at {where}: {error.message}")
    return found


def check_log(log: list[dict]) -> list[str]:
    """Check every request our client made; count the rest as not checked."""
    found = []
    for entry in log:
        if entry.get("user_agent") != USER_AGENT:
            TALLY["not checked (sent by hand in a test)"] += 1
            continue
        TALLY[f"{entry['method']} {entry['path'].rsplit('/', 1)[-1]}"] += 1
        found += problems(entry)
    return found


def summary() -> list[str]:
    """Lines for the terminal summary: what was checked, and which schemas were never met."""
    checked = {k: v for k, v in TALLY.items() if not k.startswith("not checked")}
    lines = [
        f"1MSG contract: {sum(checked.values())} requests from our client checked against "
        f"their JSON Schema; {TALLY['not checked (sent by hand in a test)']} sent by hand "
        "were not checked."
    ]
    unmet = [f"{m} {n}" for m, n in SCHEMAS if f"{m} {n}" not in checked]
    if unmet and checked:
        lines.append("1MSG contract: not checked (no test made these requests): " + ", ".join(unmet))
    return lines
