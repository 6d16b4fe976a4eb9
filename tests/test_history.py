"""The handoff history: filters, keyset pages at their boundaries, htmx fragments, stuck/failed."""

import re
from datetime import datetime, timedelta

import pytest

from models import utcnow
from services import history
from services.history import Cursor, HistoryFilters
from tests.history_factories import add_handoff

BASE = datetime(2024, 3, 1, 8, 0, 0)


@pytest.fixture
def many(make_ticket, make_specialist, make_user):
    """7 handoffs, two of them sharing one created_at (ties are broken by id)."""
    agent, other = make_user(name="Ann"), make_user(name="Ben")
    specialist, ticket = make_specialist(), make_ticket(external_ref="HD-77", customer_phone="+14155550177")
    rows = []
    for i in range(7):
        at = BASE + timedelta(minutes=min(i, 5))  # #5 and #6 share a timestamp
        rows.append(
            add_handoff(
                ticket,
                specialist,
                agent if i % 2 == 0 else other,
                created_at=at,
                status="failed" if i == 3 else "delivered",
                failure_code="window_closed" if i == 3 else None,
            )
        )
    return rows, agent, other


def all_time(**kw) -> HistoryFilters:
    return HistoryFilters(**kw)


def walk(filters, size):
    """Follow the "older" links from the first page; ids per page."""
    pages, page = [], history.history_page(filters, size=size)
    while True:
        pages.append([row.Handoff.id for row in page.rows])
        if page.older is None:
            return pages
        page = history.history_page(filters, before=page.older, size=size)


@pytest.mark.parametrize("size", [1, 2, 3, 6, 7, 8])
def test_pages_cover_every_row_once_newest_first(many, size):
    rows, _, _ = many
    expected = [h.id for h in sorted(rows, key=lambda h: (h.created_at, h.id), reverse=True)]
    pages = walk(all_time(), size)
    assert [i for page in pages for i in page] == expected
    assert all(len(page) == size for page in pages[:-1]) and 1 <= len(pages[-1]) <= size
    # Exactly full last page: no "older" link to an empty page.
    assert len(pages) == -(-len(expected) // size)


def test_newer_link_walks_back_to_the_same_pages(many):
    first = history.history_page(all_time(), size=3)
    second = history.history_page(all_time(), before=first.older, size=3)
    assert first.newer is None and second.newer is not None
    back = history.history_page(all_time(), after=second.newer, size=3)
    assert [r.Handoff.id for r in back.rows] == [r.Handoff.id for r in first.rows]
    assert back.newer is None  # the newest page has nothing newer


def test_cursor_round_trip_and_rejects_garbage():
    cursor = Cursor(datetime(2024, 3, 1, 8, 5, 0, 123456), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("x", "2024-03-01_abc", "nonsense_12"):
        with pytest.raises(ValueError):
            Cursor.decode(bad)


def test_filters(many):
    rows, agent, other = many
    assert {r.Handoff.agent_id for r in history.history_page(all_time(agent_id=agent.id)).rows} == {agent.id}
    assert [r.Handoff.id for r in history.history_page(all_time(status="failed")).rows] == [rows[3].id]
    assert [r.Handoff.id for r in history.history_page(all_time(failure_code="window_closed")).rows] == [rows[3].id]
    day_after = history.history_page(all_time(date_from=BASE.date() + timedelta(days=1))).rows
    assert day_after == []
    assert len(history.history_page(all_time(date_from=BASE.date(), date_to=BASE.date())).rows) == 7
    assert len(history.history_page(all_time(search="HD-77")).rows) == 7
    assert len(history.history_page(all_time(search="HD-78")).rows) == 0
    assert len(history.history_page(all_time(search="+14155550177", search_phone="+14155550177")).rows) == 7


def test_page_with_filters_in_the_url(client, auth, many):
    rows, agent, _ = many
    auth.login("lead")
    response = client.get(f"/history/?date_from=&agent={agent.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.count('href="/handoffs/') // 2 == 4  # each row links twice to its timeline
    assert f'<option selected value="{agent.id}">' in body or f'value="{agent.id}" selected' in body
    # The SLA summary and the export keep the same selection.
    assert f"/history/sla?date_from=&amp;agent={agent.id}" in body
    assert f"/history/export.csv?date_from=&amp;agent={agent.id}" in body


def test_default_view_is_the_last_week(client, auth, make_ticket, make_specialist):
    auth.login("lead")
    ticket, specialist = make_ticket(), make_specialist()
    recent = add_handoff(ticket, specialist, created_at=utcnow() - timedelta(days=2))
    old = add_handoff(ticket, specialist, created_at=utcnow() - timedelta(days=30))
    body = client.get("/history/").get_data(as_text=True)
    assert f'/handoffs/{recent.id}"' in body and f'/handoffs/{old.id}"' not in body
    body = client.get("/history/?date_from=").get_data(as_text=True)
    assert f'/handoffs/{old.id}"' in body


def test_pagination_links_and_htmx_table_fragment(client, auth, many, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 3)
    auth.login("lead")
    body = client.get("/history/?date_from=").get_data(as_text=True)
    older = re.search(r'href="(/history/\?before=[^"]+)"', body).group(1).replace("&amp;", "&")
    fragment = client.get(older, headers={"HX-Request": "true", "HX-Target": "history-table"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and text.startswith('<div id="history-table">')
    assert "<html" not in text and "after=" in text and "before=" in text
    assert "HX-Request" in fragment.headers.get("Vary", "")
    results = client.get("/history/?date_from=", headers={"HX-Request": "true", "HX-Target": "history-results"})
    assert results.get_data(as_text=True).startswith('<div id="history-results">')


@pytest.mark.parametrize(
    "query, message",
    [
        ("date_from=yesterday", "Not a valid date value"),
        ("date_from=2024-03-02&date_to=2024-03-01", "The end date is before the start date."),
        ("agent=abc", "Invalid Choice"),
        ("status=lost", "Not a valid choice"),
    ],
)
def test_bad_filters_answer_400_with_a_message(client, auth, query, message):
    auth.login("lead")
    response = client.get(f"/history/?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_bad_cursor_answers_400(client, auth):
    auth.login("lead")
    response = client.get("/history/?before=not-a-cursor")
    assert response.status_code == 400
    assert "page link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/history/", "/history/sla", "/history/stuck", "/history/audit", "/history/export.csv"]
)
def test_agents_are_refused(client, auth, path):
    auth.login("agent")
    assert client.get(path).status_code == 403


def test_stuck_and_failed_lists(client, auth, app, make_ticket, make_specialist):
    auth.login("lead")
    specialist = make_specialist()
    now = utcnow()
    stuck_ticket = make_ticket()
    failed_ticket, fixed_ticket = make_ticket(external_ref="HD-FAIL"), make_ticket(external_ref="HD-FIXED")
    stuck = add_handoff(
        stuck_ticket,
        specialist,
        created_at=now - timedelta(hours=1),
        status="accepted",
        accepted_at=now - timedelta(hours=1),
    )
    fresh = add_handoff(
        stuck_ticket,
        specialist,
        created_at=now - timedelta(minutes=1),
        status="accepted",
        accepted_at=now - timedelta(minutes=1),
    )
    failed = add_handoff(
        failed_ticket,
        specialist,
        created_at=now - timedelta(minutes=30),
        status="failed",
        failure_code="window_closed",
        failure_reason="Dialog window is closed",
    )
    fixed = add_handoff(
        fixed_ticket,
        specialist,
        created_at=now - timedelta(minutes=30),
        status="failed",
        failure_code="invalid_recipient",
    )
    add_handoff(
        fixed_ticket,
        specialist,
        created_at=now - timedelta(minutes=20),
        status="delivered",
        accepted_at=now - timedelta(minutes=20),
        retry_of_id=fixed.id,
    )
    assert [r.Handoff.id for r in history.stuck()] == [stuck.id]
    needing = history.failures_needing_action()
    assert [item.row.Handoff.id for item in needing] == [failed.id]
    assert needing[0].triage.action == "send_template"
    body = client.get("/history/stuck").get_data(as_text=True)
    assert f'/handoffs/{stuck.id}"' in body and f'/handoffs/{fresh.id}"' not in body
    assert "HD-FAIL" in body and "HD-FIXED" not in body and "Send a template" in body
