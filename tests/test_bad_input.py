"""Garbage in gives a 4xx with a reason, never a 5xx; every form names the field that is wrong."""

import html
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import db
from services import api_keys

WEBHOOK = "/webhooks/1msg/dev-webhook-secret-0123456789abcdef0123"
FIXTURES_OK = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# NUL included: PostgreSQL text refuses it, so the API must refuse it with a reason, not a 500.
api_json = any_json
# Bodies shaped like ours, with wrong types in the places that matter.
ack_like = st.fixed_dictionaries(
    {
        "ack": st.lists(
            st.dictionaries(st.sampled_from(["id", "status", "chatId", "time", "error"]), any_json, max_size=5),
            max_size=3,
        )
    }
)
ticket_like = st.dictionaries(
    st.sampled_from(["external_ref", "subject", "customer_name", "customer_phone", "status", "ready"]),
    api_json,
    max_size=6,
)
handoff_like = st.dictionaries(
    st.sampled_from(["ticket_ref", "ticket_id", "specialist_id", "idempotency_key", "intro_text", "include_intro"]),
    api_json,
    max_size=6,
)


def assert_refused_with_a_reason_or_ok(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error.get("message") or error.get("fields"), error


@FIXTURES_OK
@given(body=any_json | ack_like)
def test_webhook_any_json_is_never_a_5xx(client, body):
    assert_refused_with_a_reason_or_ok(client.post(WEBHOOK, json=body))


@FIXTURES_OK
@given(raw=st.binary(max_size=300))
def test_webhook_any_bytes_are_never_a_5xx(client, raw):
    assert_refused_with_a_reason_or_ok(client.post(WEBHOOK, data=raw, content_type="application/json"))


@pytest.fixture
def api_headers(app):
    key = api_keys.create("Fuzzing helpdesk", "agent", label="test")
    db.session.commit()
    return {"Authorization": f"Bearer {key.secret}", "Idempotency-Key": "fuzz-key-0001"}


@FIXTURES_OK
@given(body=api_json | ticket_like)
def test_api_ticket_payloads_are_never_a_5xx(client, api_headers, body):
    assert_refused_with_a_reason_or_ok(client.post("/api/v1/tickets", json=body, headers=api_headers))


@FIXTURES_OK
@given(body=api_json | handoff_like)
def test_api_handoff_payloads_are_never_a_5xx(client, api_headers, body):
    response = client.post("/api/v1/handoffs", json=body, headers=api_headers)
    assert_refused_with_a_reason_or_ok(response)


@FIXTURES_OK
@given(
    query=st.dictionaries(
        st.sampled_from(["status", "since", "limit", "cursor", "ticket_ref", "x"]), st.text(max_size=30), max_size=4
    )
)
def test_api_list_queries_are_never_a_5xx(client, api_headers, query):
    assert_refused_with_a_reason_or_ok(client.get("/api/v1/handoffs", query_string=query, headers=api_headers))


@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/handoffs", WEBHOOK])
def test_huge_bodies_are_a_413(client, api_headers, path):
    response = client.post(
        path, data=b"{" + b" " * (2 * 1024 * 1024) + b"}", content_type="application/json", headers=api_headers
    )
    assert response.status_code == 413


def field_errors(response) -> dict:
    """{field id: message} of the `field-error` smalls on a rendered form."""
    text = html.unescape(response.get_data(as_text=True))
    return dict(re.findall(r'<small class="field-error" id="([\w-]+)-error">([^<]+)</small>', text))


@pytest.mark.parametrize(
    "role, path, data, fields",
    [
        (None, "/login", {"email": "", "password": ""}, {"email", "password"}),
        (None, "/login", {"email": "not-an-email", "password": "x"}, {"email"}),
        (
            "admin",
            "/admin/users/new",
            {"email": "nope", "name": "", "role": "agent", "password": "short"},
            {"email", "name", "password"},
        ),
        (
            "admin",
            "/admin/users/new",
            {"email": "a@example.com", "name": "A", "role": "emperor", "password": "long-enough-password"},
            {"role"},
        ),
        (
            "admin",
            "/directory/new",
            {"display_name": "", "phone": "+1 555 CALL ME", "phone_type": "PAGER", "email": "x@"},
            {"display_name", "phone", "phone_type", "email"},
        ),
        (
            "agent",
            "/tickets/new",
            {"external_ref": "", "subject": "", "customer_name": "", "customer_phone": "12", "status": "lost"},
            {"external_ref", "subject", "customer_name", "customer_phone", "status"},
        ),
    ],
)
def test_invalid_form_values_are_field_errors(client, auth, role, path, data, fields):
    if role:
        auth.login(role)
    response = client.post(path, data=data)
    assert response.status_code in (400, 401, 422), response.status_code
    errors = field_errors(response)
    assert fields <= set(errors), errors
    assert all(errors[name].strip() for name in fields)


def test_invalid_user_edit_values_are_field_errors(client, auth, make_user):
    auth.login("admin")
    user = make_user()
    response = client.post(f"/admin/users/{user.id}", data={"name": "", "role": "agent", "new_password": "short"})
    errors = field_errors(response)
    assert response.status_code == 400 and {"name", "new_password"} <= set(errors), errors


def test_an_invalid_send_form_says_what_to_do(client, auth, make_ticket):
    auth.login("agent")
    ticket = make_ticket()
    response = client.post(
        f"/tickets/{ticket.id}/handoffs", data={"specialist_id": "x", "idempotency_key": ""}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Pick a specialist first: nobody was chosen, so nothing was sent." in response.get_data(as_text=True)


def test_api_errors_are_json_with_a_reason(client, api_headers):
    response = client.post("/api/v1/handoffs", data="{not json", content_type="application/json", headers=api_headers)
    assert response.status_code == 400 and json.loads(response.data)["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"\x00",
        b'{"ack": [{"id": "wamid.\x00", "status": "sent"}]}',
        b'{"ack": [{"id": "wamid.N1", "status": "failed", "error": "bad\\u0000byte"}]}',
        b'{"messages": [{"id": "in.N1", "body": "hi\\u0000", "fromMe": false, '
        b'"chatId": "14155550100@c.us", "time": 1}]}',
    ],
)
def test_nul_bytes_are_stored_and_answered_not_a_5xx(client, body):
    """PostgreSQL text refuses NUL: found by the property above on PostgreSQL."""
    assert_refused_with_a_reason_or_ok(client.post(WEBHOOK, data=body, content_type="application/json"))


@pytest.mark.parametrize("url", ["/api/v1/tickets/HD%00X", "/api/v1/handoffs?status=a%00b"])
def test_nul_in_a_url_is_refused_with_a_reason(client, api_headers, url):
    response = client.get(url, headers=api_headers)
    assert response.status_code == 422 and "NUL" in response.get_json()["error"]["message"]


def test_nul_in_a_form_field_is_refused_with_a_reason(client, auth, make_ticket):
    auth.login("agent")
    response = client.post("/tickets/new", data={"external_ref": "HD-1", "subject": "a\x00b"})
    assert response.status_code == 400 and b"NUL character" in response.data


def test_nul_in_an_api_text_field_is_refused_with_a_reason(client, api_headers):
    body = {"external_ref": "HD-NUL", "subject": "a\u0000b", "customer_name": "C", "customer_phone": "+14155550100"}
    response = client.post("/api/v1/tickets", json=body, headers=api_headers)
    assert response.status_code == 422
    assert "NUL" in response.get_json()["error"]["fields"]["subject"]


def test_an_id_past_a_64_bit_column_is_a_404_on_every_route(app, client, auth):
    """Every GET route with an `<int:...>` id, as an admin: a number the id columns cannot hold
    is refused as not found, never the database's overflow (a 500)."""
    auth.login("admin")
    huge = str(2**63)  # one past the largest BIGINT
    checked = []
    for rule in app.url_map.iter_rules():
        ids = re.findall(r"<int:(\w+)>", rule.rule)
        if not ids or "GET" not in rule.methods or rule.arguments - set(ids):
            continue
        path = re.sub(r"<int:\w+>", huge, rule.rule)
        # 405 where a POST-only rule shares the path: werkzeug then names the methods it has
        assert client.get(path).status_code in (404, 405), path
        checked.append(path)
    assert len(checked) >= 5, checked  # the handoff, ticket, user, specialist and key pages at least
