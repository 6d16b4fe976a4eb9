"""The helpdesk's JSON API: keys and roles, validation, tickets, specialists, handoffs."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from models import AuditEntry, Handoff, Ticket, db, utcnow
from services import api_keys, status
from views.access import access_rule_for


@pytest.fixture
def app(make_app, emulator):
    """The app pointed at the 1MSG emulator over real HTTP."""
    app = make_app(
        ONEMSG_API_URL=emulator.base_url,
        ONEMSG_CHANNEL_ID=emulator.channel_id,
        ONEMSG_TOKEN=emulator.token,
        ONEMSG_READ_TIMEOUT=1.0,
    )
    with app.app_context():
        yield app


def make_key(role="agent", name=None) -> str:
    new_key = api_keys.create(name or f"helpdesk {role} {uuid.uuid4().hex[:6]}", role)
    db.session.commit()
    return new_key.secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def agent_key(app):
    return make_key("agent", "Helpdesk")


def open_window_everywhere(emulator, phone: str) -> None:
    """The customer writes: stored by us and known to the emulator."""
    emulator.open_window(phone.lstrip("+"))
    status.record_inbound(f"in-{uuid.uuid4().hex}", phone, utcnow())
    db.session.commit()


def post_handoff(client, key, body, idempotency_key=None):
    headers = {**bearer(key), "Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    return client.post("/api/v1/handoffs", json=body, headers=headers)


def sends(emulator):
    return [r for r in emulator.requests() if r["path"].endswith("/sendContact")]


TICKET = {
    "external_ref": "HD-1001",
    "subject": "Refund",
    "customer_name": "Ada Lovelace",
    "customer_phone": "+44 7700 900123",
}

# (method, path, body) for every endpoint that needs a key.
KEYED = [
    ("GET", "/api/v1/specialists", None),
    ("GET", "/api/v1/handoffs", None),
    ("GET", "/api/v1/handoffs/1", None),
    ("GET", "/api/v1/tickets/HD-1", None),
    ("POST", "/api/v1/tickets", TICKET),
    ("POST", "/api/v1/handoffs", {"ticket": "x", "specialist_id": 1}),
]


def test_every_api_view_is_marked_for_the_api(app):
    endpoints = [rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert len(endpoints) == 7
    for endpoint in endpoints:
        assert access_rule_for(endpoint) == ("public" if endpoint == "api.openapi" else "api"), endpoint


# --- authentication and roles -------------------------------------------------------------


@pytest.mark.parametrize("method, path, body", KEYED)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer shk_nope_nope", "Basic abc", "Bearer not-a-key-at-all"]
)
def test_a_missing_or_wrong_key_is_a_401(client, method, path, body, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.json["error"]["fields"] == {}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(client, agent_key):
    _, prefix, _secret = agent_key.split("_", 2)
    forged = f"shk_{prefix}_{'A' * 43}"
    assert client.get("/api/v1/specialists", headers=bearer(forged)).status_code == 401


def test_a_revoked_key_stops_working_at_once(client, agent_key):
    assert client.get("/api/v1/specialists", headers=bearer(agent_key)).status_code == 200
    from models import ApiKey

    api_keys.revoke(db.session.scalar(select(ApiKey)))
    db.session.commit()
    response = client.get("/api/v1/specialists", headers=bearer(agent_key))
    assert response.status_code == 401
    assert "revoked" in response.json["error"]["message"]


def test_a_session_login_is_not_an_api_credential(client, auth):
    auth.login("admin")
    assert client.get("/api/v1/specialists").status_code == 401


def test_lead_keys_read_but_cannot_write(client, make_ticket, make_specialist):
    lead_key = make_key("lead")
    make_ticket(external_ref="HD-7")
    assert client.get("/api/v1/specialists", headers=bearer(lead_key)).status_code == 200
    assert client.get("/api/v1/tickets/HD-7", headers=bearer(lead_key)).status_code == 200
    assert client.get("/api/v1/handoffs", headers=bearer(lead_key)).status_code == 200
    response = client.post("/api/v1/tickets", json=TICKET, headers=bearer(lead_key))
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    response = post_handoff(client, lead_key, {"ticket": "HD-7", "specialist_id": make_specialist().id})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Handoff)) == 0


def test_last_use_is_recorded(client, agent_key):
    from models import ApiKey

    assert db.session.scalar(select(ApiKey)).last_used_at is None
    db.session.commit()
    client.get("/api/v1/specialists", headers=bearer(agent_key))
    assert db.session.scalar(select(ApiKey)).last_used_at is not None


def test_the_api_needs_no_csrf_token(app, make_app, emulator, agent_key):
    strict = make_app(WTF_CSRF_ENABLED=True, ONEMSG_API_URL=emulator.base_url)
    db.session.commit()
    response = strict.test_client().post("/api/v1/tickets", json=TICKET, headers=bearer(agent_key))
    assert response.status_code == 201


# --- tickets ---------------------------------------------------------------------------------


def test_create_then_update_a_ticket_by_reference(client, agent_key):
    response = client.post("/api/v1/tickets", json=TICKET, headers=bearer(agent_key))
    assert response.status_code == 201
    created = response.json
    assert created["customer_phone"] == "+447700900123"  # normalised to E.164
    assert created["status"] == "open" and created["external_ref"] == "HD-1001"
    assert response.headers["Location"].endswith("/api/v1/tickets/HD-1001")
    response = client.post(
        "/api/v1/tickets", json={"external_ref": "HD-1001", "status": "ready"}, headers=bearer(agent_key)
    )
    assert response.status_code == 200
    assert response.json["status"] == "ready" and response.json["subject"] == "Refund"
    assert response.json["ready_at"] is not None and response.json["id"] == created["id"]
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
    labels = db.session.scalars(select(AuditEntry.actor_label).where(AuditEntry.subject_type == "ticket")).all()
    assert labels == ["api key Helpdesk", "api key Helpdesk"]


def test_get_a_ticket_by_reference_even_with_a_slash(client, agent_key, make_ticket):
    make_ticket(external_ref="HD/2024/7", subject="Slashes")
    response = client.get("/api/v1/tickets/HD/2024/7", headers=bearer(agent_key))
    assert response.status_code == 200 and response.json["subject"] == "Slashes"
    response = client.get("/api/v1/tickets/nope", headers=bearer(agent_key))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"external_ref", "subject", "customer_name", "customer_phone"}),
        ({**TICKET, "customer_phone": "020 7946 0000"}, {"customer_phone"}),
        ({**TICKET, "customer_phone": "+1 555 CALL ME"}, {"customer_phone"}),
        ({**TICKET, "status": "lost"}, {"status"}),
        ({**TICKET, "external_ref": "has space"}, {"external_ref"}),
        ({**TICKET, "subject": "x" * 201}, {"subject"}),
        ({**TICKET, "customer_name": 42}, {"customer_name"}),
        ({**TICKET, "subject": "   "}, {"subject"}),
    ],
)
def test_ticket_validation_errors_name_each_field(client, agent_key, body, fields):
    response = client.post("/api/v1/tickets", json=body, headers=bearer(agent_key))
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed" and set(error["fields"]) == fields
    assert all(error["fields"].values())
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_phone_errors_say_what_to_fix(client, agent_key):
    response = client.post(
        "/api/v1/tickets", json={**TICKET, "customer_phone": "020 7946 0000"}, headers=bearer(agent_key)
    )
    assert "country code" in response.json["error"]["fields"]["customer_phone"]


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("not json", "application/json"),
        ('["a list"]', "application/json"),
        ("external_ref=HD-1", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(client, agent_key, data, content_type):
    response = client.post("/api/v1/tickets", data=data, content_type=content_type, headers=bearer(agent_key))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"


# --- specialists -----------------------------------------------------------------------------


def test_specialists_lists_active_entries_with_card_fields(client, agent_key, make_specialist):
    make_specialist(display_name="Bea Billing", email="bea@example.com", organisation="Acme", tags="billing, refunds")
    make_specialist(display_name="Old Timer", active=False)
    response = client.get("/api/v1/specialists", headers=bearer(agent_key))
    assert response.status_code == 200
    [item] = response.json["items"]
    assert item["display_name"] == "Bea Billing" and item["phone"].startswith("+")
    assert item["email"] == "bea@example.com" and item["organisation"] == "Acme"
    assert item["tags"] == ["billing", "refunds"]
    assert {"id", "first_name", "last_name", "phone_type", "department", "title"} <= set(item)


# --- handoffs --------------------------------------------------------------------------------


def test_a_handoff_through_the_api_sends_the_card(client, agent_key, emulator, make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155550101"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    response = post_handoff(client, agent_key, {"ticket": ticket.external_ref, "specialist_id": specialist.id})
    assert response.status_code == 201, response.json
    handoff = response.json
    assert handoff["status"] == "accepted" and handoff["message_id"].startswith("wamid.")
    assert handoff["ticket"] == {"id": ticket.id, "external_ref": ticket.external_ref}
    assert handoff["specialist"]["id"] == specialist.id and handoff["accepted_at"].endswith("Z")
    assert len(sends(emulator)) == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "handoff.send"))
    assert entry.actor_label == "api key Helpdesk" and entry.actor_id is None
    response = client.get(f"/api/v1/handoffs/{handoff['id']}", headers=bearer(agent_key))
    assert response.status_code == 200 and response.json["message_id"] == handoff["message_id"]


def test_an_introduction_follows_the_accepted_card(client, agent_key, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155550102")
    open_window_everywhere(emulator, ticket.customer_phone)
    response = post_handoff(
        client,
        agent_key,
        {
            "ticket": ticket.external_ref,
            "specialist_id": make_specialist().id,
            "intro_text": "Meet our billing expert.",
        },
    )
    assert response.status_code == 201
    posts = [r["path"].rsplit("/", 1)[1] for r in emulator.requests() if r["method"] == "POST"]
    assert posts[-2:] == ["sendContact", "sendMessage"]


def test_a_closed_window_is_a_409_with_the_failed_handoff(client, agent_key, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155550103")
    response = post_handoff(client, agent_key, {"ticket": ticket.external_ref, "specialist_id": make_specialist().id})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "window_closed"
    assert "window is closed" in response.json["error"]["message"]
    assert response.json["handoff"]["status"] == "failed"
    assert response.json["handoff"]["failure_code"] == "window_closed"
    assert sends(emulator) == []


def test_the_same_key_twice_sends_once_and_answers_the_first_result(
    client, agent_key, emulator, make_ticket, make_specialist
):
    ticket, specialist = make_ticket(customer_phone="+14155550104"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    body = {"ticket": ticket.external_ref, "specialist_id": specialist.id}
    first = post_handoff(client, agent_key, body, "retry-me-123")
    again = post_handoff(client, agent_key, body, "retry-me-123")
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.json["message_id"] == first.json["message_id"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert len(sends(emulator)) == 1


def test_the_same_key_with_other_parameters_is_a_422(client, agent_key, emulator, make_ticket, make_specialist):
    ticket = make_ticket(customer_phone="+14155550105")
    open_window_everywhere(emulator, ticket.customer_phone)
    first = post_handoff(
        client, agent_key, {"ticket": ticket.external_ref, "specialist_id": make_specialist().id}, "same-key-456"
    )
    assert first.status_code == 201
    other = post_handoff(
        client, agent_key, {"ticket": ticket.external_ref, "specialist_id": make_specialist().id}, "same-key-456"
    )
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert len(sends(emulator)) == 1


def test_a_repeated_closed_window_answer_is_the_same_409(client, agent_key, make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155550106"), make_specialist()
    body = {"ticket": ticket.external_ref, "specialist_id": specialist.id}
    first = post_handoff(client, agent_key, body, "closed-window-1")
    again = post_handoff(client, agent_key, body, "closed-window-1")
    assert first.status_code == again.status_code == 409
    assert again.json["handoff"]["id"] == first.json["handoff"]["id"]


def test_keys_of_different_api_keys_do_not_collide(client, agent_key, emulator, make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155550107"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    other_key = make_key("agent", "Other helpdesk")
    body = {"ticket": ticket.external_ref, "specialist_id": specialist.id}
    first = post_handoff(client, agent_key, body, "shared-key-789")
    second = post_handoff(client, other_key, body, "shared-key-789")
    assert first.status_code == second.status_code == 201
    assert first.json["id"] != second.json["id"]


def test_concurrent_requests_with_one_key_send_once(app, agent_key, emulator, make_ticket, make_specialist):
    ticket, specialist = make_ticket(customer_phone="+14155550108"), make_specialist()
    open_window_everywhere(emulator, ticket.customer_phone)
    body = {"ticket": ticket.external_ref, "specialist_id": specialist.id}
    db.session.commit()  # SQLite: the threads below need the write lock this read holds

    def attempt(_):
        return post_handoff(app.test_client(), agent_key, body, "concurrent-key-1")

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(attempt, range(4)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json["id"] for r in responses}) == 1
    assert len(sends(emulator)) == 1
    assert db.session.scalar(select(func.count()).select_from(Handoff)) == 1


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"ticket", "specialist_id"}),
        ({"ticket": "T-x", "specialist_id": "1"}, {"specialist_id"}),
        ({"ticket": "T-x", "specialist_id": True}, {"specialist_id"}),
        ({"ticket": "T-x", "specialist_id": 2**40}, {"specialist_id"}),
        ({"ticket": 12, "specialist_id": 1}, {"ticket"}),
        ({"ticket": "T-x", "specialist_id": 1, "intro_text": "x" * 1001}, {"intro_text"}),
    ],
)
def test_handoff_validation_errors(client, agent_key, body, fields):
    response = post_handoff(client, agent_key, body)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == fields


def test_unknown_ticket_or_specialist_is_a_422(client, agent_key, make_ticket):
    response = post_handoff(client, agent_key, {"ticket": "nope", "specialist_id": 999})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"ticket", "specialist_id"}


@pytest.mark.parametrize("key", [None, "short", "x" * 65, "has space in it"])
def test_a_handoff_needs_a_sane_idempotency_key(client, agent_key, key):
    headers = bearer(agent_key) | ({"Idempotency-Key": key} if key else {})
    response = client.post("/api/v1/handoffs", json={"ticket": "T", "specialist_id": 1}, headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "idempotency_key_required"


def test_unknown_handoff_is_a_404(client, agent_key):
    response = client.get("/api/v1/handoffs/424242", headers=bearer(agent_key))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


# --- the handoff list ------------------------------------------------------------------------


def add_handoff(ticket, specialist, status_="accepted", **fields) -> Handoff:
    handoff = Handoff(
        ticket_id=ticket.id,
        specialist_id=specialist.id,
        idempotency_key=uuid.uuid4().hex,
        customer_phone=ticket.customer_phone,
        status=status_,
        card_snapshot={"name": {"formatted_name": specialist.display_name}},
        **fields,
    )
    db.session.add(handoff)
    db.session.commit()
    return handoff


def test_the_list_pages_by_cursor_and_filters(client, agent_key, make_ticket, make_specialist):
    ticket, specialist = make_ticket(), make_specialist()
    made = [add_handoff(ticket, specialist, "read" if n % 2 else "failed") for n in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/handoffs", query_string=query, headers=bearer(agent_key)).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [h.id for h in made]
    read = client.get("/api/v1/handoffs?status=read", headers=bearer(agent_key)).json["items"]
    assert [item["id"] for item in read] == [made[1].id, made[3].id]


def test_the_list_since_a_time(client, agent_key, make_ticket, make_specialist):
    ticket, specialist = make_ticket(), make_specialist()
    old = add_handoff(ticket, specialist)
    old.updated_at = utcnow().replace(year=2020)
    db.session.commit()
    new = add_handoff(ticket, specialist)
    response = client.get(
        "/api/v1/handoffs", query_string={"since": "2021-01-01T00:00:00+02:00"}, headers=bearer(agent_key)
    )
    assert [item["id"] for item in response.json["items"]] == [new.id]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"since": "yesterday"}, "since"),
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "500"}, "limit"),
        ({"cursor": "!!"}, "cursor"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
    ],
)
def test_list_parameter_errors(client, agent_key, query, field):
    response = client.get("/api/v1/handoffs", query_string=query, headers=bearer(agent_key))
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == [field]
