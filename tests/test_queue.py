"""The agents' queue: search by ref, name or phone; filters; counts; last handoff; htmx refresh."""

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import db, utcnow
from services import queue, status
from tests.history_factories import add_handoff


@pytest.fixture
def desk(make_ticket, make_specialist, make_user):
    """Four tickets: ready+open window+mine, ready+failed last handoff, open, closed window."""
    me, other = make_user(role="agent"), make_user(role="agent")
    specialist = make_specialist()
    now = utcnow()
    a = make_ticket(
        external_ref="Q-100", customer_name="Ana Ruiz", customer_phone="+14155552671", status="ready", assignee_id=me.id
    )
    b = make_ticket(
        external_ref="Q-200",
        customer_name="Tom Becker",
        customer_phone="+4915112345678",
        status="ready",
        assignee_id=other.id,
    )
    c = make_ticket(external_ref="Q-300", customer_name="Priya Nair", customer_phone="+447700900456", status="open")
    d = make_ticket(external_ref="Q-400", customer_name="Ana Lopez", customer_phone="+14155550777", status="closed")
    status.record_inbound("in-a", a.customer_phone, now - timedelta(hours=1))
    status.record_inbound("in-d", d.customer_phone, now - timedelta(hours=30))
    add_handoff(b, specialist, other, created_at=now - timedelta(minutes=9), status="read")
    add_handoff(
        b,
        specialist,
        other,
        created_at=now - timedelta(minutes=5),
        status="failed",
        failed_at=now - timedelta(minutes=4),
    )
    # A failed handoff followed by a delivered one is not a "failed handoff" ticket.
    add_handoff(c, specialist, me, created_at=now - timedelta(minutes=8), status="failed")
    add_handoff(c, specialist, me, created_at=now - timedelta(minutes=2), status="delivered")
    db.session.commit()
    return {"me": me, "tickets": {"a": a, "b": b, "c": c, "d": d}}


def refs(result: queue.Queue) -> list[str]:
    return [row.ticket.external_ref for row in result.rows]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Q-2", ["Q-200"]),
        ("q-300", ["Q-300"]),
        ("ana", ["Q-100", "Q-400"]),
        ("becker", ["Q-200"]),
        ("415 555 2671", ["Q-100"]),
        ("+44 7700", ["Q-300"]),
        ("0777", ["Q-400"]),
        ("", ["Q-100", "Q-200", "Q-300", "Q-400"]),
        ("%", []),
        ("_", []),
        ("nobody", []),
    ],
)
def test_search_by_ref_name_or_phone(desk, query, expected):
    assert sorted(refs(queue.ticket_queue(query, [], desk["me"].id))) == expected


@pytest.mark.parametrize(
    "chosen, expected",
    [
        (["ready"], ["Q-100", "Q-200"]),
        (["window_open"], ["Q-100"]),
        (["failed"], ["Q-200"]),
        (["mine"], ["Q-100"]),
        (["ready", "failed"], ["Q-200"]),
        (["ready", "mine", "window_open"], ["Q-100"]),
        (["failed", "mine"], []),
    ],
)
def test_filters_combine(desk, chosen, expected):
    result = queue.ticket_queue("", chosen, desk["me"].id)
    assert sorted(refs(result)) == expected and result.matching == len(expected)


def test_counts_per_filter_within_the_search(desk):
    everything = queue.ticket_queue("", [], desk["me"].id)
    assert everything.counts == {"ready": 2, "window_open": 1, "failed": 1, "mine": 1}
    assert everything.matching == 4
    anas = queue.ticket_queue("ana", ["ready"], desk["me"].id)
    assert anas.counts == {"ready": 1, "window_open": 1, "failed": 0, "mine": 1} and anas.matching == 1


def test_each_row_carries_the_last_handoff(desk):
    rows = {r.ticket.external_ref: r for r in queue.ticket_queue("", [], desk["me"].id).rows}
    assert rows["Q-200"].last_handoff.status == "failed"
    assert rows["Q-300"].last_handoff.status == "delivered"
    assert rows["Q-100"].last_handoff is None
    assert rows["Q-100"].window.is_open and not rows["Q-400"].window.is_open


def test_page_shows_filters_counts_and_last_handoff(client, auth, desk):
    auth.login(user=desk["me"])
    page = client.get("/tickets/?ready=y&q=Q-").get_data(as_text=True)
    assert 'id="ticket-queue"' in page and 'aria-label="Search and filter tickets"' in page
    assert re.search(r"<strong>2 tickets</strong>", page)
    assert "Q-100" in page and "Q-200" in page and "Q-300" not in page
    assert 'class="badge badge-failed">Failed</span>' in page
    assert (
        'name="ready" type="checkbox" value="y" checked' in page
        or 'checked id="ready"' in page
        or re.search(r'<input[^>]*id="ready"[^>]*checked', page)
    )


def test_htmx_refresh_returns_the_fragment_for_the_same_filters(client, auth, desk):
    auth.login(user=desk["me"])
    fragment = client.get("/tickets/?failed=y", headers={"HX-Request": "true", "HX-Target": "ticket-queue"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert body.lstrip().startswith("{#") is False and "<html" not in body
    assert 'hx-get="/tickets/?failed=y"' in body and 'hx-trigger="every 20s"' in body
    assert "Q-200" in body and "Q-100" not in body
    history_restore = client.get(
        "/tickets/?failed=y", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in history_restore.get_data(as_text=True)


def test_the_old_mine_link_still_works(client, auth, desk):
    auth.login(user=desk["me"])
    page = client.get("/tickets/?mine=1").get_data(as_text=True)
    assert "Q-100" in page and "Q-200" not in page


def test_an_over_long_search_is_an_error_on_the_field_not_a_500(client, auth, desk):
    auth.login(user=desk["me"])
    response = client.get("/tickets/?q=" + "x" * 500)
    assert response.status_code == 200 and 'aria-invalid="true"' in response.get_data(as_text=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=120), flags=st.lists(st.sampled_from(["ready", "window_open", "failed", "mine", "x"])))
def test_any_search_and_flags_answer_a_page(client, auth, make_user, query, flags):
    if auth.user is None:
        auth.login("agent")
    args = {"q": query, **{flag: "y" for flag in flags}}
    response = client.get("/tickets/", query_string=args)
    if "\x00" in query:  # refused app-wide with a clear message (PostgreSQL cannot store NUL)
        assert response.status_code == 400 and b"NUL character" in response.data
    else:
        assert response.status_code == 200, query
