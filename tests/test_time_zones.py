"""Each user's time zone: the profile's, else the browser's, else UTC; one filter shows every time."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import InboundMessage, User, db
from services import audit, time_zones
from tests.history_factories import add_handoff


def test_profile_zone_wins_then_browser_then_utc():
    assert time_zones.effective_zone("Asia/Tokyo", "Europe/Berlin") == "Asia/Tokyo"
    assert time_zones.effective_zone(None, "Europe/Berlin") == "Europe/Berlin"
    assert time_zones.effective_zone(None, "Mars/Olympus") == "UTC"
    assert time_zones.effective_zone("", None) == "UTC"


def test_conversion_follows_summer_time():
    winter = time_zones.to_zone(datetime(2026, 1, 15, 12, 0), "Europe/Berlin")
    summer = time_zones.to_zone(datetime(2026, 7, 15, 12, 0), "Europe/Berlin")
    assert (winter.hour, summer.hour) == (13, 14)


@given(st.text(max_size=80))
def test_any_text_is_a_known_zone_or_refused(name):
    zone = time_zones.valid_zone(name)
    assert zone is None or zone in time_zones.zone_names()
    time_zones.effective_zone(name, name)  # never raises


def _audit_row_at(moment: datetime) -> None:
    # The trail is append-only in the database: the entry is written with its time, not changed.
    audit.record("ticket.update", "ticket", 1, label="test", summary="a change").at = moment
    db.session.commit()


def test_pages_show_times_in_the_profile_zone_and_say_which(client, auth):
    lead = auth.login("lead")
    _audit_row_at(datetime(2026, 7, 1, 10, 0, 0))
    page = client.get("/history/audit").get_data(as_text=True)
    assert '<time datetime="2026-07-01T10:00:00Z" title="2026-07-01T10:00:00Z">2026-07-01 10:00:00</time>' in page
    assert "times shown in UTC" in page
    client.set_cookie("tz", "America/New_York")
    page = client.get("/history/audit").get_data(as_text=True)
    assert ">2026-07-01 06:00:00</time>" in page and "times shown in America/New_York" in page
    response = client.post("/account/", data={"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    assert db.session.get(User, lead.id).time_zone == "Asia/Tokyo"
    page = client.get("/history/audit").get_data(as_text=True)
    assert ">2026-07-01 19:00:00</time>" in page and "times shown in Asia/Tokyo" in page
    assert client.post("/account/", data={"time_zone": ""}).status_code == 302
    assert db.session.get(User, lead.id).time_zone is None


@pytest.mark.parametrize("bad", ["Mars/Olympus", "../../etc/passwd", "x" * 500, "Europe/Berlin\u200b"])
def test_an_unknown_zone_is_a_form_error(client, auth, bad):
    user = auth.login("agent")
    response = client.post("/account/", data={"time_zone": bad})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).time_zone is None


def test_the_ticket_page_shows_times_in_the_viewers_zone(client, auth, make_ticket, make_specialist):
    agent = auth.login("agent")
    client.set_cookie("tz", "Asia/Tokyo")
    ticket, specialist = make_ticket(), make_specialist()
    db.session.add(
        InboundMessage(
            onemsg_id="in-tz-1",
            customer_phone=ticket.customer_phone,
            body="Hello?",
            sent_at=datetime(2026, 7, 1, 9, 30, 0),
        )
    )
    add_handoff(
        ticket,
        specialist,
        agent,
        created_at=datetime(2026, 7, 1, 10, 0, 0),
        status="failed",
        failed_at=datetime(2026, 7, 1, 10, 0, 5),
        failure_reason="test",
    )
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "times shown in Asia/Tokyo" in page and "UTC" not in page.replace('Z"', '"')
    # The window closed 24 h after the message (09:30 UTC = 18:30 in Tokyo); the timeline's steps too.
    assert ">2026-07-02 18:30</time>" in page
    assert '<time datetime="2026-07-01T10:00:00Z" title="2026-07-01T10:00:00Z">19:00:00</time>' in page
    assert ">19:00:05</time>" in page
