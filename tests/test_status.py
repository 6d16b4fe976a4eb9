"""Status never goes backwards, whatever order and duplicates 1MSG sends; the live fragment."""

import functools
import itertools
import random
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import STATUS_RANK, StatusEvent, db
from onemsg.webhooks import StatusUpdate
from services import applier, status


@pytest.fixture
def new_handoff(make_handoff, make_ticket, make_specialist):
    """Accepted handoffs of one ticket and one specialist."""
    return functools.partial(make_handoff, ticket=make_ticket(), specialist=make_specialist())


def apply_all(message_id, statuses):
    for name in statuses:
        status.record_status(StatusUpdate(message_id=message_id, status=name))
    db.session.commit()


@pytest.mark.parametrize("order", list(itertools.permutations(["sent", "delivered", "read"])))
def test_every_order_with_duplicates_ends_at_read(new_handoff, order):
    handoff = new_handoff()
    apply_all(handoff.message_id, [order[0], order[0], *order, order[-1]])
    db.session.refresh(handoff)
    assert handoff.status == "read"
    assert handoff.sent_at and handoff.delivered_at and handoff.read_at


def test_straight_to_read(new_handoff):
    handoff = new_handoff()
    apply_all(handoff.message_id, ["read"])
    db.session.refresh(handoff)
    assert (handoff.status, handoff.delivered_at) == ("read", None)


def test_late_failed_after_delivered_is_kept_and_shown(new_handoff, client, auth):
    handoff = new_handoff()
    status.record_status(StatusUpdate(handoff.message_id, "delivered"))
    status.record_status(StatusUpdate(handoff.message_id, "failed", error="Message undeliverable", error_code=131026))
    db.session.commit()
    db.session.refresh(handoff)
    assert handoff.status == "delivered"
    assert handoff.failed_at is not None and handoff.failure_meta_code == 131026
    auth.login("agent")
    page = client.get(f"/handoffs/{handoff.id}").get_data(as_text=True)
    assert "Reported failed after delivery" in page and "Message undeliverable" in page


def test_failed_before_delivery_is_the_status(new_handoff):
    handoff = new_handoff()
    apply_all(handoff.message_id, ["sent"])
    status.record_status(StatusUpdate(handoff.message_id, "failed", error="User's number is part of an experiment"))
    db.session.commit()
    db.session.refresh(handoff)
    assert handoff.status == "failed" and "experiment" in handoff.failure_reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.sampled_from(["sent", "delivered", "read", "failed"]), min_size=1, max_size=10))
def test_status_is_the_highest_rank_seen(new_handoff, events):
    """Property: the current status is the highest-ranked status received, never lower."""
    handoff = new_handoff()
    rank = {"accepted": 2, "sent": 3, "failed": 4, "delivered": 5, "read": 6}
    seen = []
    for name in events:
        status.record_status(StatusUpdate(handoff.message_id, name))
        db.session.commit()
        seen.append(name)
        db.session.refresh(handoff)
        assert handoff.status == max(["accepted", *seen], key=rank.get)
    assert db.session.query(StatusEvent).filter_by(message_id=handoff.message_id).count() == len(set(events))


def test_fragment_polls_until_final_then_stops(new_handoff, client, auth):
    handoff = new_handoff()
    auth.login("agent")
    url = f"/handoffs/{handoff.id}/status"
    live = client.get(url, headers={"HX-Request": "true"})
    body = live.get_data(as_text=True)
    assert 'hx-trigger="every' in body and "<html" not in body
    assert "HX-Request" in live.headers["Vary"]
    apply_all(handoff.message_id, ["read"])
    final = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in final and 'data-step="read"' in final


def test_fragment_without_htmx_is_the_full_page(new_handoff, client, auth):
    handoff = new_handoff()
    auth.login("agent")
    page = client.get(f"/handoffs/{handoff.id}/status").get_data(as_text=True)
    assert "<html" in page and f"Handoff #{handoff.id}" in page


def test_unchanged_fragment_answers_304(new_handoff, client, auth):
    handoff = new_handoff()
    auth.login("agent")
    first = client.get(f"/handoffs/{handoff.id}/status", headers={"HX-Request": "true"})
    etag = first.headers["ETag"]
    again = client.get(f"/handoffs/{handoff.id}/status", headers={"HX-Request": "true", "If-None-Match": etag})
    assert again.status_code == 304
    apply_all(handoff.message_id, ["delivered"])
    changed = client.get(f"/handoffs/{handoff.id}/status", headers={"HX-Request": "true", "If-None-Match": etag})
    assert changed.status_code == 200


def test_concurrent_webhooks_end_consistent(make_app, new_handoff, app):
    """Threads applying shuffled duplicate statuses at once: final status is read, one event each."""
    from concurrent.futures import ThreadPoolExecutor

    handoffs = [new_handoff() for _ in range(5)]
    ids = [h.message_id for h in handoffs]
    db.session.commit()
    events = [(mid, name) for mid in ids for name in ("sent", "delivered", "read") for _ in range(3)]
    random.Random(7).shuffle(events)

    def post(event):
        with app.test_client() as c:
            body = {"ack": [{"id": event[0], "status": event[1]}]}
            return c.post("/webhooks/1msg/dev-webhook-secret-0123456789abcdef0123", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(post, events))
    assert set(codes) == {200}
    db.session.rollback()
    applier.drain(skip_locked=False)  # wait for the applier threads the POSTs woke
    for h in handoffs:
        db.session.refresh(h)
        assert h.status == "read"
    assert db.session.query(StatusEvent).count() == 15


FOLDED = ("status", "status_rank", "sent_at", "delivered_at", "read_at", "failed_at", "failure_code", "failure_reason")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.sampled_from(["accepted", "sent", "delivered", "read"]),
    kinds=st.lists(st.sampled_from(["sent", "delivered", "read", "failed"]), min_size=1, max_size=4, unique=True),
    order=st.randoms(use_true_random=False),
)
def test_a_batch_moves_a_handoff_as_its_events_one_by_one_would(new_handoff, start, kinds, order):
    """All kinds of one handoff in one batch are one row write: the same never-backwards and set-once
    result as the events applied one at a time, in any order."""
    at = datetime(2026, 11, 30, 12, 0)
    earlier = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
    reached = {
        "accepted": [],
        "sent": ["sent"],
        "delivered": ["sent", "delivered"],
        "read": ["sent", "delivered", "read"],
    }
    seed = {earlier[k]: at - timedelta(hours=1) for k in reached[start]}
    rank = {"accepted": 2, "sent": 3, "delivered": 5, "read": 6}[start]
    one, other = (new_handoff(status=start, status_rank=rank, **seed) for _ in range(2))

    def update(message_id, kind, n):
        return StatusUpdate(message_id, kind, occurred_at=at + timedelta(minutes=n), error="gone", error_code=7)

    status.record_statuses([update(one.message_id, kind, n) for n, kind in enumerate(kinds)])
    shuffled = list(enumerate(kinds))
    order.shuffle(shuffled)
    for n, kind in shuffled:
        status.record_status(update(other.message_id, kind, n))
    db.session.commit()
    db.session.refresh(one)
    db.session.refresh(other)
    assert [getattr(one, c) for c in FOLDED] == [getattr(other, c) for c in FOLDED]
    assert one.status_rank == max([rank] + [STATUS_RANK[k] for k in kinds])
    for n, kind in enumerate(kinds):  # a time already set is kept; a new one is the event's
        column = "failed_at" if kind == "failed" else earlier[kind]
        assert getattr(one, column) == seed.get(column, at + timedelta(minutes=n))
