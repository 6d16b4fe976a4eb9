"""Admins keep each specialist's zone, hours, languages, capacity and absences; each change is audited."""

import html
from datetime import date

import pytest
from sqlalchemy import select

from models import Absence, AuditEntry, Specialist, db
from tests.test_directory import VALID

AVAILABILITY = {
    "time_zone": "Europe/Berlin",
    "working_hours": "mon-fri 9:00-17:00",
    "languages": "PT-br, de",
    "daily_capacity": "8",
}


def _entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def test_admin_sets_zone_hours_languages_and_capacity_stored_tidily(client, auth):
    admin = auth.login("admin")
    assert client.post("/directory/new", data={**VALID, **AVAILABILITY}).status_code == 302
    specialist = db.session.scalar(select(Specialist))
    assert (specialist.time_zone, specialist.working_hours, specialist.languages, specialist.daily_capacity) == (
        "Europe/Berlin",
        "Mon-Fri 09:00-17:00",
        "pt-BR, de",
        8,
    )
    entry = _entries("specialist.create")[0]
    assert entry.actor_id == admin.id and entry.after["working_hours"] == "Mon-Fri 09:00-17:00"


def test_a_change_of_hours_is_audited_with_before_and_after(client, auth, make_specialist):
    specialist = make_specialist(time_zone="Europe/Berlin", working_hours="Mon-Fri 09:00-17:00")
    auth.login("admin")
    data = {**VALID, **AVAILABILITY, "working_hours": "Mon-Thu 08:00-16:00", "daily_capacity": ""}
    assert client.post(f"/directory/{specialist.id}/edit", data=data).status_code == 302
    entry = _entries("specialist.update")[-1]
    assert entry.before["working_hours"] == "Mon-Fri 09:00-17:00"
    assert entry.after["working_hours"] == "Mon-Thu 08:00-16:00"
    db.session.refresh(specialist)
    assert specialist.daily_capacity is None


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("time_zone", "Mars/Olympus_Mons", "Not a valid choice"),
        ("time_zone", "", "Pick their time zone too"),
        ("working_hours", "Mon-Fri 9 to 5", "Cannot read the times"),
        ("working_hours", "from 9 to 5", "is not a day"),
        ("working_hours", "9 to 5", "write days then times"),
        ("working_hours", "Mon 17:00-09:00", "split a night shift"),
        ("working_hours", "Fri 22:00-06:00", "split a night shift"),
        ("working_hours", "Mon 09:00-12:00; Mon 11:00-13:00", "The hours given for Mon overlap"),
        ("working_hours", "always", "write days then times"),
        ("working_hours", "Mon 09:00-17:00 " * 20, "longer than 300"),
        # Typed in 93 characters, stored written out per day in 326: more than the column holds.
        (
            "working_hours",
            "Mon,Wed,Fri,Sun 00:00-01:00,02:00-03:00,04:00-05:00,06:00-07:00,08:00-09:00,10:00-11:00",
            "326 characters, more than 300",
        ),
        ("languages", "pt, portuguese!", "BCP 47"),
        # 67 codes typed in 200 characters ("aa ab ac ..."), stored in 266 as "aa, ab, ac, ...".
        (
            "languages",
            " ".join(a + b for a in "abc" for b in "abcdefghijklmnopqrstuvwxyz")[:200],
            "266 characters, more than 200",
        ),
        ("daily_capacity", "0", "A whole number from 1"),
    ],
)
def test_bad_availability_fields_are_form_errors(client, auth, field, value, message):
    auth.login("admin")
    response = client.post("/directory/new", data={**VALID, **AVAILABILITY, field: value})
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert db.session.scalar(select(Specialist)) is None


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("Mon-Sun 00:00-24:00", "Mon-Sun 00:00-24:00"),
        ("Fri 22:00-24:00; Sat 00:00-06:00", "Fri 22:00-24:00; Sat 00:00-06:00"),
        ("", ""),
    ],
)
def test_edge_hours_are_stored_written_out(client, auth, typed, stored):
    auth.login("admin")
    assert client.post("/directory/new", data={**VALID, **AVAILABILITY, "working_hours": typed}).status_code == 302
    assert db.session.scalar(select(Specialist.working_hours)) == stored


def test_absence_with_a_stand_in_is_shown_audited_and_removable(client, auth, make_specialist):
    away = make_specialist(display_name="Ana Souza", time_zone="Europe/Berlin", working_hours="Mon-Fri 09:00-17:00")
    omar = make_specialist(display_name="Omar Haddad")
    auth.login("admin")
    response = client.post(
        f"/directory/{away.id}/absences",
        data={
            "starts_on": "2026-11-01",
            "ends_on": "2099-12-03",
            "stand_in_id": str(omar.id),
            "note": "parental leave",
        },
    )
    assert response.status_code == 302
    absence = db.session.scalar(select(Absence))
    assert (absence.starts_on, absence.ends_on, absence.stand_in_id) == (date(2026, 11, 1), date(2099, 12, 3), omar.id)
    page = html.unescape(client.get(f"/directory/{away.id}").get_data(as_text=True))
    assert "on leave until 3 Dec 2099, stand-in: Omar Haddad" in page
    added = _entries("specialist.absence_add")[0]
    assert added.after["stand_in_id"] == omar.id and "stand-in Omar Haddad" in added.summary
    assert client.post(f"/directory/{away.id}/absences/{absence.id}/remove").status_code == 302
    assert db.session.scalar(select(Absence)) is None
    assert _entries("specialist.absence_remove")[0].before["ends_on"] == "2099-12-03"


def test_an_absence_without_an_end_in_sight_is_shown(client, auth, make_specialist):
    away = make_specialist(display_name="Ana Souza", time_zone="Europe/Berlin", working_hours="Mon-Fri 09:00-17:00")
    auth.login("admin")
    response = client.post(
        f"/directory/{away.id}/absences", data={"starts_on": "2001-01-01", "ends_on": "9999-12-31", "stand_in_id": "0"}
    )
    assert response.status_code == 302
    page = client.get(f"/directory/{away.id}")
    assert page.status_code == 200 and "on leave until 31 Dec 9999" in page.get_data(as_text=True)


def test_an_absence_ending_before_it_starts_is_refused(client, auth, make_specialist):
    specialist = make_specialist()
    auth.login("admin")
    response = client.post(
        f"/directory/{specialist.id}/absences",
        data={"starts_on": "2026-12-03", "ends_on": "2026-12-01", "stand_in_id": "0"},
    )
    assert response.status_code == 400 and b"cannot come before the first" in response.data
    assert db.session.scalar(select(Absence)) is None


def test_a_specialist_cannot_stand_in_for_themselves(client, auth, make_specialist):
    specialist = make_specialist()
    auth.login("admin")
    response = client.post(
        f"/directory/{specialist.id}/absences",
        data={"starts_on": "2026-12-01", "ends_on": "2026-12-03", "stand_in_id": str(specialist.id)},
    )
    assert response.status_code == 400 and db.session.scalar(select(Absence)) is None


def test_agents_see_absences_but_cannot_change_them(client, auth, make_specialist):
    specialist = make_specialist()
    auth.login("agent")
    assert (
        client.post(
            f"/directory/{specialist.id}/absences", data={"starts_on": "2026-12-01", "ends_on": "2026-12-03"}
        ).status_code
        == 403
    )
    page = client.get(f"/directory/{specialist.id}").get_data(as_text=True)
    assert "Absences" in page and "Add absence" not in page
