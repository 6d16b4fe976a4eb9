"""The contract check itself: it accepts the contract's own examples and catches drift."""

import pytest
import requests

from onemsg.client import USER_AGENT
from onemsg.emulator import NAMESPACE
from tests.onemsg_contract import SCHEMAS, check_log, problems

CARD = {
    "name": {"formatted_name": "Jane Specialist", "first_name": "Jane", "last_name": "Specialist"},
    "phones": [{"phone": "+12025550199", "type": "CELL", "wa_id": "12025550199"}],
    "emails": [{"email": "jane@example.com", "type": "WORK"}],
    "org": {"company": "Acme", "department": "Billing", "title": "Senior specialist"},
}


def entry(method: str, name: str, json=None, query=None, auth="header") -> dict:
    return {"method": method, "path": f"/371267300/{name}", "query": query or {}, "json": json, "auth": auth}


@pytest.mark.parametrize(
    "logged",
    [
        entry("POST", "sendContact", {"phone": "14155552671", "contacts": [CARD]}),
        entry("POST", "sendContact", {"chatId": "14155552671@c.us", "contacts": [CARD]}),
        entry("POST", "sendMessage", {"phone": "14155552671", "body": "Please reach our specialist."}),
        entry(
            "POST",
            "sendTemplate",
            {
                "phone": "14155552671",
                "template": "reopen_chat",
                "namespace": NAMESPACE,
                "language": {"policy": "deterministic", "code": "en_US"},
                "params": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
            },
        ),
        entry("POST", "webhook", {"webhookUrl": ["https://a.example/h", "https://b.example/h"]}),
        entry("GET", "hookInfo", query={"messageId": "wamid.X"}),
        entry("GET", "messages", query={"msgId": "wamid.X"}),
        entry("GET", "templates", query={"limit": "100", "offset": "0"}),
    ],
)
def test_the_contracts_own_examples_keep_the_schemas(logged):
    assert problems(logged) == []


@pytest.mark.parametrize(
    "logged, fragment",
    [
        # What the client sent before: no namespace, the language an admin typed.
        (
            entry(
                "POST",
                "sendTemplate",
                {
                    "phone": "14155552671",
                    "template": "reopen_chat",
                    "language": {"policy": "deterministic", "code": "en"},
                    "params": [],
                },
            ),
            "'namespace' is a required property",
        ),
        (
            entry(
                "POST",
                "sendTemplate",
                {
                    "phone": "14155552671",
                    "template": "reopen_chat",
                    "namespace": "n",
                    "language": {"policy": "deterministic", "code": "english"},
                    "params": [],
                },
            ),
            "does not match",
        ),
        (
            entry(
                "POST",
                "sendTemplate",
                {
                    "phone": "14155552671",
                    "template": "t",
                    "namespace": "n",
                    "language": {"policy": "deterministic", "code": "en_US"},
                    "params": [{"type": "body", "parameters": [{"type": "text", "text": "a\tb"}]}],
                },
            ),
            "should not be valid",
        ),
        (entry("POST", "sendContact", {"phone": "+14155552671", "contacts": [CARD]}), "does not match"),
        (
            entry("POST", "sendContact", {"phone": "14155552671", "chatId": "14155552671@c.us", "contacts": [CARD]}),
            "is not valid under any",
        ),
        (
            entry("POST", "sendContact", {"phone": "14155552671", "contacts": [CARD], "contact": {"name": "J"}}),
            "Additional properties",
        ),
        (
            entry("POST", "sendContact", {"phone": "14155552671", "contacts": [{"name": {"formatted_name": "Jane"}}]}),
            "is not valid under any",
        ),
        (entry("POST", "webhook", {"webhookUrl": "https://a.example/h,https://b.example/h"}), "is not valid under any"),
        (
            entry("POST", "webhook", {"webhookUrl": [f"https://{n}.example/h" for n in "abcdef"]}),
            "is not valid under any",
        ),
        (entry("GET", "status", query={"token": "secret"}), "Additional properties"),
        (entry("GET", "status", auth="body"), "token sent in the body"),
        (entry("GET", "nosuch"), "no schema"),
    ],
)
def test_drift_is_caught(logged, fragment):
    found = problems(logged)
    assert found and any(fragment in p for p in found), found


def test_a_drifting_client_fails_the_check_over_real_http(emulator):
    """A client that sends the old template form: the emulator's log shows it, the check catches it."""
    old_form = {
        "phone": "14155552671",
        "template": "reopen_chat",
        "language": {"policy": "deterministic", "code": "en"},
        "params": [],
    }
    answer = requests.post(  # as our client would, User-Agent and all, but in the old form
        f"{emulator.base_url}/{emulator.channel_id}/sendTemplate",
        json=old_form,
        headers={"Authorization": f"Bearer {emulator.token}", "User-Agent": USER_AGENT},
        timeout=5,
    )
    assert answer.json().get("sent") is not True
    found = check_log(emulator.requests())
    emulator.reset()  # the drift was on purpose: keep the fixture's own check quiet
    assert any("'namespace' is a required property" in p for p in found), found


def test_every_method_the_client_calls_has_a_schema():
    called = {
        ("POST", "sendContact"),
        ("POST", "sendMessage"),
        ("POST", "sendTemplate"),
        ("GET", "templates"),
        ("GET", "webhook"),
        ("POST", "webhook"),
        ("GET", "settings"),
        ("POST", "settings"),
        ("GET", "status"),
        ("GET", "hookInfo"),
        ("GET", "messages"),
    }
    assert called <= set(SCHEMAS)
