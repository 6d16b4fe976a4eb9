"""The ticket's optional customer language: set by an agent or by the helpdesk through the API."""

import pytest
from sqlalchemy import select

from models import Ticket, db
from tests.test_api import TICKET, agent_key, app, bearer  # noqa: F401 (fixtures)


def test_the_api_sets_checks_and_clears_the_language(client, agent_key):  # noqa: F811
    response = client.post("/api/v1/tickets", json={**TICKET, "language": "PT-br"}, headers=bearer(agent_key))
    assert response.status_code == 201 and response.json["language"] == "pt-BR"
    response = client.post(
        "/api/v1/tickets", json={"external_ref": TICKET["external_ref"], "status": "ready"}, headers=bearer(agent_key)
    )
    assert response.json["language"] == "pt-BR"  # an update without the field keeps it
    response = client.post(
        "/api/v1/tickets", json={"external_ref": TICKET["external_ref"], "language": None}, headers=bearer(agent_key)
    )
    assert response.status_code == 200 and response.json["language"] is None


@pytest.mark.parametrize("value", ["portuguese!", 7, ["pt"], "x-private"])
def test_a_malformed_language_is_a_422_naming_the_field(client, agent_key, value):  # noqa: F811
    response = client.post("/api/v1/tickets", json={**TICKET, "language": value}, headers=bearer(agent_key))
    assert response.status_code == 422 and "language" in response.json["error"]["fields"]


def test_an_agent_sets_the_language_on_the_ticket_form(client, auth):
    auth.login("agent")
    form = {
        "external_ref": "HD-7",
        "subject": "Tax",
        "customer_name": "Bea",
        "customer_phone": "+447700900123",
        "status": "open",
        "assignee_id": "0",
    }
    assert client.post("/tickets/new", data={**form, "language": "pt_br"}).status_code == 302
    assert db.session.scalar(select(Ticket.language)) == "pt-BR"
    response = client.post("/tickets/new", data={**form, "external_ref": "HD-8", "language": "Portuguese please"})
    assert response.status_code == 400 and b"BCP 47" in response.data
