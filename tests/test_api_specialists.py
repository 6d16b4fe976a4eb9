"""GET /api/v1/specialists with availability, languages and skills, and its filters."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Absence, db, utcnow
from tests.history_factories import add_handoff
from tests.test_api import agent_key, app, bearer  # noqa: F401 (fixtures)
from tests.test_unavailable_send import ALWAYS, off_now


@pytest.fixture
def directory(make_specialist):
    """Ana (pt, tax, at work), Bea (pt-BR, tax, off now), Carl (de, tax, on leave), Dora (pt, routers, at work)."""
    ana = make_specialist(display_name="Ana", languages="pt", tags="tax, invoices", daily_capacity=8, **ALWAYS)
    bea = make_specialist(display_name="Bea", languages="pt-BR, en", tags="Tax", **off_now())
    carl = make_specialist(display_name="Carl", languages="de", tags="tax", **ALWAYS)
    dora = make_specialist(display_name="Dora", languages="pt", tags="routers", **ALWAYS)
    today = utcnow().date()
    db.session.add(
        Absence(specialist_id=carl.id, starts_on=today, ends_on=today + timedelta(days=2), stand_in_id=ana.id)
    )
    db.session.commit()
    return ana, bea, carl, dora


def names(client, key, query: str) -> list[str]:
    response = client.get(f"/api/v1/specialists{query}", headers=bearer(key))
    assert response.status_code == 200, response.json
    return [item["display_name"] for item in response.json["items"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["Ana", "Bea", "Carl", "Dora"]),
        ("?available=now", ["Ana", "Dora"]),
        ("?language=pt", ["Ana", "Bea", "Dora"]),
        ("?language=PT-pt", ["Ana", "Bea", "Dora"]),
        ("?skill=tax", ["Ana", "Bea", "Carl"]),
        ("?available=now&language=pt&skill=tax", ["Ana"]),
        ("?language=ja", []),
    ],
)
def test_filters(client, agent_key, directory, query, expected):  # noqa: F811
    assert names(client, agent_key, query) == expected


def test_specialist_objects_carry_availability(client, agent_key, directory):  # noqa: F811
    ana, bea, carl, _ = directory
    items = {
        item["display_name"]: item
        for item in client.get("/api/v1/specialists", headers=bearer(agent_key)).json["items"]
    }
    assert items["Ana"]["languages"] == ["pt"] and items["Ana"]["daily_capacity"] == 8
    assert items["Ana"]["time_zone"] == "UTC" and items["Ana"]["working_hours"] == "Mon-Sun 00:00-24:00"
    assert items["Ana"]["availability"] == {
        "state": "available",
        "text": "available now",
        "next_available_at": None,
        "on_leave_until": None,
        "stand_in": None,
        "handoffs_today": 0,
        "over_capacity": False,
    }
    assert items["Bea"]["availability"]["state"] == "off_hours"
    assert items["Bea"]["availability"]["next_available_at"].endswith("T09:00:00+00:00")
    leave = items["Carl"]["availability"]
    assert leave["state"] == "on_leave" and leave["stand_in"] == "Ana" and "stand-in: Ana" in leave["text"]
    assert items["Carl"]["absences"] == [
        {
            "starts_on": utcnow().date().isoformat(),
            "ends_on": (utcnow().date() + timedelta(days=2)).isoformat(),
            "stand_in": {"id": ana.id, "display_name": "Ana"},
        }
    ]


def test_a_specialist_at_capacity_is_not_available_now(
    client,
    agent_key,  # noqa: F811
    make_specialist,  # noqa: F811
    make_ticket,
):
    full = make_specialist(display_name="Full", daily_capacity=1, **ALWAYS)
    add_handoff(make_ticket(), full, created_at=utcnow(), status="accepted")
    assert names(client, agent_key, "?available=now") == []
    [item] = client.get("/api/v1/specialists", headers=bearer(agent_key)).json["items"]
    assert item["availability"]["over_capacity"] is True and item["availability"]["handoffs_today"] == 1


@pytest.mark.parametrize(
    "query, field",
    [
        ("?available=later", "available"),
        ("?language=portuguese!", "language"),
        ("?skill=", "skill"),
        ("?availble=now", "availble"),
        ("?available=now&available=later", "available"),
        ("?skill=tax&skill=vat", "skill"),
        ("?language=pt&language=de", "language"),
        ("?skill=t%00x", "skill"),
        ("?language=pt%00", "language"),  # refused before the view, still named
    ],
)
def test_filter_errors_name_the_parameter(client, agent_key, query, field):  # noqa: F811
    response = client.get(f"/api/v1/specialists{query}", headers=bearer(agent_key))
    assert response.status_code == 422 and field in response.json["error"]["fields"]


def test_leave_of_back_to_back_absences_ends_with_the_last(client, agent_key, make_specialist):  # noqa: F811
    away = make_specialist(display_name="Away", **ALWAYS)
    today = utcnow().date()
    db.session.add_all(
        [
            Absence(specialist_id=away.id, starts_on=today - timedelta(days=1), ends_on=today),
            Absence(specialist_id=away.id, starts_on=today + timedelta(days=1), ends_on=today + timedelta(days=9)),
        ]
    )
    db.session.commit()
    [item] = client.get("/api/v1/specialists", headers=bearer(agent_key)).json["items"]
    assert item["availability"]["on_leave_until"] == (today + timedelta(days=9)).isoformat()
    assert item["availability"]["next_available_at"].startswith((today + timedelta(days=10)).isoformat())


def test_absences_listed_are_those_not_yet_over_in_their_zone(client, agent_key, make_specialist):  # noqa: F811
    back = make_specialist(display_name="Back", **ALWAYS)
    today = utcnow().date()
    db.session.add(
        Absence(specialist_id=back.id, starts_on=today - timedelta(days=3), ends_on=today - timedelta(days=1))
    )
    db.session.commit()
    [item] = client.get("/api/v1/specialists", headers=bearer(agent_key)).json["items"]
    assert item["availability"]["state"] == "available" and item["absences"] == []


QUERY_NAMES = st.sampled_from(["available", "language", "skill", "Skill", "lang", ""])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(QUERY_NAMES, st.text(max_size=40)), max_size=4))
def test_any_query_is_answered_or_refused_naming_its_parameters(client, agent_key, pairs):  # noqa: F811
    response = client.get(f"/api/v1/specialists?{urlencode(pairs)}", headers=bearer(agent_key))
    assert response.status_code in (200, 422), (pairs, response.status_code)
    if response.status_code == 422:
        fields = response.json["error"]["fields"]
        assert fields and set(fields) <= {name for name, _ in pairs}, (pairs, fields)
