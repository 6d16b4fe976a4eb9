"""The OpenAPI document matches the API: schemathesis generates requests from it and checks answers."""

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select

from models import Handoff, db, utcnow
from services import api_keys, status

# Few examples per operation keep the run short; CI runs them on SQLite and PostgreSQL.
MAX_EXAMPLES = 40


def schemathesis_config(key: str) -> SchemathesisConfig:
    """Our key for every request (schemathesis drops it itself to test refusals)."""
    return SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": key}}},
            # A schema-valid request may still name a ticket that does not exist, a number that
            # is no phone, or a made-up cursor: 404/409/422 are right there. A 400 would not be.
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}},
        }
    )


@pytest.fixture
def app(make_app, emulator):
    """The app on the emulator, so that generated handoffs reach a (fake) 1MSG."""
    app = make_app(
        ONEMSG_API_URL=emulator.base_url,
        ONEMSG_CHANNEL_ID=emulator.channel_id,
        ONEMSG_TOKEN=emulator.token,
        ONEMSG_READ_TIMEOUT=1.0,
        CUSTOMER_CARD_CAP=10_000,
    )  # many sends to one customer on purpose
    with app.app_context():
        yield app


@pytest.fixture
def known_data(app, emulator, make_ticket, make_specialist):
    """A ticket whose customer can be written to, and a specialist, for requests to find."""
    ticket = make_ticket(external_ref="HD-1", customer_phone="+14155550150")
    specialist = make_specialist(display_name="Bea Billing", email="bea@example.com")
    emulator.open_window("14155550150")
    status.record_inbound(f"in-{uuid.uuid4().hex}", ticket.customer_phone, utcnow())
    db.session.commit()
    return {"ticket": ticket.external_ref, "specialist_id": specialist.id}


def test_the_document_is_served_without_a_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/tickets",
        "/tickets/{external_ref}",
        "/specialists",
        "/handoffs",
        "/handoffs/{handoff_id}",
    }


def test_every_api_route_is_documented(app):
    documented = {
        "/api/v1" + path.replace("{", "<").replace("}", ">")
        for path in app.test_client().get("/api/v1/openapi.json").json["paths"]
    }
    routes = {
        rule.rule.replace("<path:", "<").replace("<int(max=2147483647):", "<")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
    }
    assert routes == documented


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_document(app, known_data, mode):
    """No 5xx, and every answer's status, content type and body as documented."""
    key = api_keys.create("schemathesis", "agent").secret
    db.session.commit()  # SQLite: end the test's transaction before the app writes
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=schemathesis_config(key))
    seen: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        seen[operation.label] = run_operation(operation, mode)
    assert len(seen) == 6
    assert all(code < 500 for codes in seen.values() for code in codes)
    if mode == GenerationMode.POSITIVE:
        # The key was used: requests got past authentication and reached the views.
        assert {200} <= seen["GET /specialists"] and {200} <= seen["GET /handoffs"]


def test_success_answers_keep_to_the_document(app, known_data):
    """Random data seldom names a real ticket: send real ones, and check the 2xx answers too."""
    key = api_keys.create("schemathesis", "agent").secret
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=schemathesis_config(key))
    send = schema.find_operation_by_label("POST /handoffs")
    # Only the Idempotency-Key varies: new keys send (201), repeated ones answer the first send.
    assert run_operation(send, GenerationMode.POSITIVE, body=known_data) == {201}
    ticket = {"external_ref": "HD-2", "subject": "Refund", "customer_name": "Ada", "customer_phone": "+447700900123"}
    assert run_operation(schema.find_operation_by_label("POST /tickets"), GenerationMode.POSITIVE, body=ticket) == {
        200,
        201,
    }
    assert run_operation(
        schema.find_operation_by_label("GET /tickets/{external_ref}"),
        GenerationMode.POSITIVE,
        path_parameters={"external_ref": "HD-2"},
    ) == {200}
    handoff_id = db.session.scalar(select(Handoff.id))
    db.session.commit()
    assert run_operation(
        schema.find_operation_by_label("GET /handoffs/{handoff_id}"),
        GenerationMode.POSITIVE,
        path_parameters={"handoff_id": handoff_id},
    ) == {200}


def run_operation(operation, mode, **fixed) -> set[int]:
    """Up to MAX_EXAMPLES generated requests; the set of status codes answered."""
    codes: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        codes.add(case.call_and_validate().status_code)

    check()
    return codes
