"""CSV export of the filtered history: content, filters, batches and streaming."""

import csv
import io
import json
import re
from datetime import datetime, timedelta

import pytest

from services import history
from services.history import HistoryFilters
from tests.history_factories import add_handoff

BASE = datetime(2024, 2, 1, 9, 30, 0)


@pytest.fixture
def sent(make_ticket, make_specialist, make_user):
    agent = make_user(email="ann.agent@example.com")
    specialist = make_specialist(
        display_name="Jane Specialist", organisation="Acme", title="Billing lead", phone="+12025550199"
    )
    ticket = make_ticket(external_ref="HD-1001", customer_phone="+14155552671")
    delivered = add_handoff(
        ticket,
        specialist,
        agent,
        created_at=BASE,
        status="read",
        ready_at=BASE - timedelta(minutes=3),
        accepted_at=BASE + timedelta(seconds=1),
        delivered_at=BASE + timedelta(seconds=9),
        read_at=BASE + timedelta(minutes=2),
    )
    failed = add_handoff(
        ticket,
        specialist,
        None,
        created_at=BASE + timedelta(hours=1),
        status="failed",
        failed_at=BASE + timedelta(hours=1),
        failure_code="window_closed",
        failure_reason='=HYPERLINK("http://evil")',
        retry_of_id=delivered.id,
        unavailable_reason="off_hours",
    )
    return delivered, failed


def parse(text: str) -> list[dict]:
    assert text.startswith("\ufeff"), "the CSV starts with a byte order mark for spreadsheets"
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_has_every_timestamp_status_reason_agent_snapshot_and_ticket(client, auth, sent):
    delivered, failed = sent
    auth.login("lead")
    response = client.get("/history/export.csv?date_from=2024-02-01&date_to=2024-02-01")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert re.search(r'attachment; filename="handoffs-\d{8}-\d{4}-UTC\.csv"', response.headers["Content-Disposition"])
    rows = parse(response.get_data(as_text=True))
    assert [r["handoff_id"] for r in rows] == [str(failed.id), str(delivered.id)]  # newest first
    first = rows[1]
    assert first["ticket_ref"] == "HD-1001" and first["customer_phone"] == "+14155552671"
    assert first["agent_email"] == "ann.agent@example.com" and first["status"] == "read"
    assert first["agent_id"] == str(delivered.agent_id) and first["agent_name"] == delivered.agent.name
    assert (
        first["specialist_name"],
        first["specialist_phone"],
        first["specialist_organisation"],
        first["specialist_title"],
    ) == ("Jane Specialist", "+12025550199", "Acme", "Billing lead")
    assert json.loads(first["specialist_card_json"]) == delivered.card_snapshot
    assert first["ready_at"] == "2024-02-01 09:27:00Z"
    assert first["created_at"] == "2024-02-01 09:30:00Z"
    assert first["accepted_at"] == "2024-02-01 09:30:01Z"
    assert first["delivered_at"] == "2024-02-01 09:30:09Z"
    assert first["read_at"] == "2024-02-01 09:32:00Z"
    assert first["failed_at"] == "" and first["sent_at"] == ""
    second = rows[0]
    assert second["agent_email"] == "" and second["failure_code"] == "window_closed"
    assert second["retry_of_id"] == str(delivered.id)
    # Sent although the specialist was off, as the History table says: the export says it too.
    assert second["unavailable_reason"] == "off_hours" and first["unavailable_reason"] == ""
    # A spreadsheet must not run a formula from a failure text.
    assert second["failure_reason"] == '\'=HYPERLINK("http://evil")'


def test_export_follows_the_filters(client, auth, sent):
    _, failed = sent
    auth.login("lead")
    rows = parse(client.get("/history/export.csv?date_from=&status=failed").get_data(as_text=True))
    assert [r["handoff_id"] for r in rows] == [str(failed.id)]
    rows = parse(client.get("/history/export.csv?date_from=2024-03-01").get_data(as_text=True))
    assert rows == []


def test_export_is_streamed_in_keyset_batches(app, monkeypatch, make_ticket, make_specialist):
    ticket, specialist = make_ticket(), make_specialist()
    # Seven rows on four timestamps: batches of two must split ties without losing or repeating rows.
    ids = [add_handoff(ticket, specialist, created_at=BASE + timedelta(minutes=i % 4)).id for i in range(7)]
    monkeypatch.setattr(history, "EXPORT_BATCH", 2)
    lines = history.export_csv(HistoryFilters())
    assert next(lines).startswith("\ufeffhandoff_id,")  # a generator: nothing is fetched before it is read
    exported = [int(line.split(",")[0]) for line in lines]
    assert sorted(exported) == sorted(ids) and len(exported) == 7


def test_export_response_is_a_stream(client, auth, sent):
    auth.login("lead")
    response = client.get("/history/export.csv?date_from=", buffered=False)
    assert response.is_streamed
    assert b"HD-1001" in b"".join(response.response)


def test_invalid_filters_are_refused(client, auth):
    auth.login("lead")
    response = client.get("/history/export.csv?date_to=tomorrow")
    assert response.status_code == 400
    assert "The filters are not valid" in response.get_data(as_text=True)
