"""The API's JSON input: lone surrogates in text fields and bodies nested past the JSON reader
are refused with a reason a person can act on, never a 500 (found on both databases)."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import db
from services import api_keys

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# Text that holds at least one lone surrogate somewhere among ordinary characters.
# (NUL has its own message, tested in test_bad_input.)
plain = st.text(st.characters(exclude_characters="\x00"), max_size=10)
with_lone_surrogate = st.tuples(plain, st.characters(categories=["Cs"]), plain).map("".join)


@pytest.fixture
def api_headers(app):
    key = api_keys.create("Hostile helpdesk", "agent", label="test")
    db.session.commit()
    return {"Authorization": f"Bearer {key.secret}"}


def ticket(**fields) -> dict:
    return {
        "external_ref": f"HD-{uuid.uuid4().hex[:8]}",
        "subject": "Refund",
        "customer_name": "Ada",
        "customer_phone": "+14155550100",
        **fields,
    }


@EXAMPLES
@given(field=st.sampled_from(["subject", "customer_name"]), value=with_lone_surrogate)
def test_a_lone_surrogate_in_a_ticket_field_is_a_422_naming_it(client, api_headers, field, value):
    response = client.post("/api/v1/tickets", json=ticket(**{field: value}), headers=api_headers)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "surrogate" in response.get_json()["error"]["fields"][field]


@EXAMPLES
@given(value=with_lone_surrogate)
def test_a_lone_surrogate_in_the_introduction_is_a_422_naming_it(client, api_headers, value):
    response = client.post(
        "/api/v1/handoffs",
        json={"ticket": "HD-1", "specialist_id": 1, "intro_text": value},
        headers={**api_headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "surrogate" in response.get_json()["error"]["fields"]["intro_text"]


@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/handoffs"])
@pytest.mark.parametrize("opening, closing", [(b"[", b"]"), (b'{"a":', b"}")])
def test_json_nested_100k_deep_is_a_400_with_a_reason(client, api_headers, path, opening, closing):
    body = opening * 100_000 + b"1" + closing * 100_000
    response = client.post(
        path, data=body, content_type="application/json", headers={**api_headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["error"]["message"]
