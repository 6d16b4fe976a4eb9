"""Leads see the cards sent to specialists who were off, on leave or at capacity: SLA and history."""

import html
from datetime import date, datetime, timedelta

import pytest

from services.history import HistoryFilters
from services.sla import Targets, sla_report
from tests.history_factories import add_handoff

DAY = date(2024, 5, 10)
BASE = datetime(2024, 5, 10, 9, 0)


@pytest.fixture
def sent(make_ticket, make_specialist, make_user):
    """Ana: 1 off hours, 1 on leave, 1 at capacity, 1 ordinary; Omar: 1 ordinary."""
    ana, omar = make_specialist(display_name="Ana Souza"), make_specialist(display_name="Omar Haddad")
    agent, ticket = make_user(name="Alice Agent"), make_ticket()
    for n, reason in enumerate(["off_hours", "on_leave", "over_capacity", None]):
        add_handoff(
            ticket,
            ana,
            agent,
            created_at=BASE + timedelta(minutes=n),
            status="accepted",
            accepted_at=BASE + timedelta(minutes=n),
            unavailable_reason=reason,
        )
    add_handoff(ticket, omar, agent, created_at=BASE, status="accepted", accepted_at=BASE)
    return ana, omar


def test_sla_counts_off_hours_and_over_capacity_per_specialist(sent):
    report = sla_report(HistoryFilters(date_from=DAY, date_to=DAY), Targets(300, 900), now=BASE + timedelta(hours=1))
    assert (report.totals.off_hours, report.totals.over_capacity) == (2, 1)
    rows = {row.label: row.counts for row in report.per_specialist}
    assert (rows["Ana Souza"].total, rows["Ana Souza"].off_hours, rows["Ana Souza"].over_capacity) == (4, 2, 1)
    assert (rows["Omar Haddad"].off_hours, rows["Omar Haddad"].over_capacity) == (0, 0)
    summary = sla_report(HistoryFilters(date_from=DAY, date_to=DAY), Targets(300, 900), detailed=False)
    assert (summary.totals.off_hours, summary.totals.over_capacity) == (2, 1)


def test_the_sla_page_has_the_columns(client, auth, sent):
    auth.login("lead")
    body = html.unescape(client.get("/history/sla?date_from=2024-05-10&date_to=2024-05-10").get_data(as_text=True))
    assert "Off hours</abbr>" in body and "Over capacity</abbr>" in body
    assert "<tr><td>Ana Souza</td><td>4</td>" in body
    ana_row = body[body.index("<tr><td>Ana Souza</td>") :].split("</tr>")[0]
    assert ana_row.endswith("<td>2</td><td>1</td>")
    assert "Sent while the specialist was off or on leave</th><td>2</td>" in body


def test_history_by_specialist_shows_the_reason_per_handoff(client, auth, sent):
    ana, _ = sent
    auth.login("lead")
    body = client.get(f"/history/?date_from=2024-05-10&date_to=2024-05-10&specialist_id={ana.id}").get_data(
        as_text=True
    )
    assert "Off hours / capacity" in body
    assert body.count("<small>off hours</small>") == 1 and body.count("<small>on leave</small>") == 1
    assert body.count("<small>over capacity</small>") == 1
