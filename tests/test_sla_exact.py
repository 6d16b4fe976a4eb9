"""The SLA figures computed by the database equal a row-by-row computation in Python.

Random handoffs get their statuses through both write paths (one event at a time, and the bulk
store-then-apply of webhook bodies), in random order: read before delivered, failed after
delivered, repeats. Never-accepted, failed and never-delivered handoffs are among them.
"""

import math
import random
from datetime import date, datetime, timedelta

import pytest

from models import Handoff, SlaDay, SlaDurationDay, db
from models.handoff import handoff_durations
from models.sla_rollup import DURATION_INTERVALS, duration_bucket
from onemsg.webhooks import StatusUpdate
from services import reconcile, sla, sla_rollup, status
from services.history import PENDING_STATUSES, HistoryFilters
from services.sla import Targets, sla_report
from tests.history_factories import add_handoff

NOW = datetime(2024, 5, 10, 12, 0, 0)
TARGETS = Targets(delivered_within=60, ready_to_accepted=120)
DAYS = [date(2024, 5, 6) + timedelta(days=i) for i in range(5)]
EVENTS = ("sent", "delivered", "read", "failed")


def _stamp(rng: random.Random, base: datetime, most: float) -> datetime:
    return base + timedelta(seconds=rng.uniform(0, most), microseconds=rng.randrange(1_000_000))


def _random_handoffs(rng, tickets, specialists, agents) -> list[tuple[str, str, datetime]]:
    """Insert handoffs; return the status events (message id, kind, time) still to apply."""
    events = []
    for n in range(rng.randrange(40, 90)):
        day = rng.choice(DAYS)
        created = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.uniform(0, 86_399))
        fields = dict(
            ready_at=created - timedelta(seconds=rng.uniform(0, 300)) if rng.random() < 0.8 else None,
            unavailable_reason=rng.choice((None, None, None, "off_hours", "on_leave", "over_capacity")),
        )
        if rng.random() < 0.2:  # refused before 1MSG accepted it, or still unsettled
            outcome = rng.choice(("failed", "sending", "unknown", "queued"))
            if outcome == "failed":
                fields.update(failure_code=rng.choice(("window_closed", "rate_limited", None)), failed_at=created)
            add_handoff(
                rng.choice(tickets),
                rng.choice(specialists),
                rng.choice(agents),
                created_at=created,
                status=outcome,
                commit=False,
                **fields,
            )
            continue
        accepted = _stamp(rng, created, 2)
        handoff = add_handoff(
            rng.choice(tickets),
            rng.choice(specialists),
            rng.choice(agents),
            created_at=created,
            status="accepted",
            accepted_at=accepted,
            commit=False,
            **fields,
        )
        handoff.message_id = f"wamid.exact-{rng.random()}-{n}"
        for kind in rng.sample(EVENTS, rng.randrange(0, 5)):  # any subset, any order
            at = _stamp(rng, accepted, rng.choice((5, 50, 200, 4000)))
            events.append((handoff.message_id, kind, at))
            if rng.random() < 0.2:  # a repeat, later
                events.append((handoff.message_id, kind, at + timedelta(seconds=1)))
    db.session.commit()
    rng.shuffle(events)
    return events


def _apply(rng, events) -> None:
    """Half one by one (apply_status), half in bulk batches (record_statuses)."""
    while events:
        if rng.random() < 0.5:
            message_id, kind, at = events.pop()
            status.apply_status(message_id, kind, at, error="x" if kind == "failed" else None)
        else:
            batch, events[:] = events[:7], events[7:]
            status.record_statuses(StatusUpdate(m, k, at) for m, k, at in batch)
        db.session.commit()


def _reconcile(rng, monkeypatch) -> None:
    """Reconciliation settles the unsettled sends: some as not sent, some found accepted (with a
    "delivered" that came before we knew the message id, applied when it becomes known)."""
    monkeypatch.setattr(reconcile, "_apply_hook_info", lambda message_id: True)  # no 1MSG here
    unsettled = db.session.scalars(db.select(Handoff).where(Handoff.status.in_(("unknown", "queued")))).all()
    for handoff in unsettled:
        if rng.random() < 0.5:
            reconcile._settle_as_not_sent(handoff)
        else:
            message_id = f"wamid.reconciled-{handoff.id}"
            status.record_statuses([StatusUpdate(message_id, "delivered", NOW + timedelta(seconds=30))])
            reconcile._settle_as_accepted(handoff, message_id)
        db.session.commit()


def _seconds(start, end):
    return (end - start).total_seconds() if start and end else None


def _expected(rows: list[Handoff]) -> dict:
    """The figures computed row by row."""
    counts = dict.fromkeys(sla.Counts.__dataclass_fields__, 0)
    durations = {name: [] for name in sla.INTERVALS}
    for h in rows:
        first = h.delivered_at or h.read_at
        to_delivery = _seconds(h.accepted_at, first)
        to_ready = _seconds(h.ready_at, h.accepted_at)
        overdue = first is None and h.accepted_at and h.accepted_at < NOW - timedelta(seconds=TARGETS.delivered_within)
        flags = dict(
            total=True,
            delivered=first is not None,
            read=h.read_at is not None,
            failed=h.status == "failed",
            pending=h.status in PENDING_STATUSES,
            accepted=h.accepted_at is not None,
            delivery_breaches=h.accepted_at is not None
            and ((to_delivery is not None and to_delivery > TARGETS.delivered_within) or overdue),
            ready_breaches=to_ready is not None and to_ready > TARGETS.ready_to_accepted,
            timed_ready=to_ready is not None,
            timed_delivery=to_delivery is not None,
            timed_read=h.accepted_at is not None and h.read_at is not None,
            off_hours=h.unavailable_reason in ("off_hours", "on_leave"),
            over_capacity=h.unavailable_reason == "over_capacity",
        )
        for name, flag in flags.items():
            counts[name] += bool(flag)
        for name, value in (
            ("ready_to_accepted", to_ready),
            ("accepted_to_delivered", to_delivery),
            ("accepted_to_read", _seconds(h.accepted_at, h.read_at)),
        ):
            if value is not None:
                durations[name].append(value)
    return {"counts": counts, **{name: _percentiles(values) for name, values in durations.items()}}


def _percentiles(values: list[float]) -> tuple:
    if not values:
        return (0, None, None)
    values, n = sorted(values), len(values)
    middle = values[(n - 1) // 2 : n // 2 + 1]
    return (n, sum(middle) / len(middle), values[math.ceil(0.9 * n) - 1])


def _figures(report) -> dict:
    return {
        "counts": vars(report.totals),
        **{name: (p.count, p.median, p.p90) for name in sla.INTERVALS for p in [getattr(report, name)]},
    }


def _assert_same(got: dict, expected: dict) -> None:
    assert got["counts"] == expected["counts"]
    for name in sla.INTERVALS:
        n, median, p90 = got[name]
        assert n == expected[name][0]
        # SQLite's julianday() arithmetic is exact to ~50 µs; PostgreSQL to the microsecond.
        assert (median, p90) == pytest.approx(expected[name][1:], abs=1e-3)


def _assert_stored_durations(rows: list[Handoff]) -> None:
    """Every writer left the stored durations equal to what the timestamps say."""
    for h in rows:
        expected = handoff_durations(h.ready_at, h.accepted_at, h.delivered_at, h.read_at)
        for column, value in expected.items():
            stored = getattr(h, column)
            assert (stored is None) == (value is None), (h.id, column, stored, value)
            if value is not None:
                # The one-event UPDATE computes them in SQL (julianday() on SQLite: ~50 µs).
                assert stored == pytest.approx(value, abs=1e-3), (h.id, column)


def _rollup_rows(rows: list[Handoff]) -> tuple[dict, dict]:
    """sla_days and sla_duration_days as they should be, from the handoffs one by one."""
    days, durations = {}, {}
    for h in rows:
        key = (h.created_at.date(), h.agent_id or 0, h.specialist_id, h.status, h.failure_code or "")
        delivered = h.delivered_at is not None or h.read_at is not None
        flags = dict(
            total=True,
            delivered=delivered,
            read=h.read_at is not None,
            accepted=h.accepted_at is not None,
            timed_ready=h.ready_to_accepted_s is not None,
            timed_delivery=h.accepted_to_delivered_s is not None,
            timed_read=h.accepted_to_read_s is not None,
            undelivered=h.accepted_at is not None and not delivered,
            off_hours=h.unavailable_reason in ("off_hours", "on_leave"),
            over_capacity=h.unavailable_reason == "over_capacity",
        )
        counts = days.setdefault(key, dict.fromkeys(flags, 0))
        for name, flag in flags.items():
            counts[name] += bool(flag)
        for column, span in DURATION_INTERVALS.items():
            if getattr(h, column) is not None:
                bucket = (span, h.created_at.date(), duration_bucket(getattr(h, column)))
                durations[bucket] = durations.get(bucket, 0) + 1
    return days, durations


def _assert_rollups(rows: list[Handoff]) -> None:
    """The triggers' rollups equal a count of the handoffs (rows left at zero are ignored)."""
    expected_days, expected_durations = _rollup_rows(rows)
    days = {}
    for row in db.session.scalars(db.select(SlaDay)):
        counts = {name: getattr(row, name) for name in next(iter(expected_days.values()))}
        if any(counts.values()):
            days[row.day, row.agent_id, row.specialist_id, row.status, row.failure_code] = counts
    assert days == expected_days
    found = {(r.span, r.day, r.bucket): r.n for r in db.session.scalars(db.select(SlaDurationDay)) if r.n}
    assert found == expected_durations


@pytest.fixture
def people(make_ticket, make_specialist, make_user):
    return (
        [make_ticket() for _ in range(3)],
        [make_specialist(display_name=f"Specialist {i}") for i in range(3)],
        [make_user(name=f"Agent {i}") for i in range(3)] + [None],
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("bracketed", [False, True])
@pytest.mark.parametrize("rollups", [True, False])
def test_figures_equal_the_row_by_row_computation(people, seed, bracketed, rollups, monkeypatch):
    rng = random.Random(seed)
    _apply(rng, _random_handoffs(rng, *people))
    _reconcile(rng, monkeypatch)
    if not rollups:  # the pass over the rows that a search takes
        monkeypatch.setattr(sla_rollup, "serves", lambda filters: False)
    if bracketed:  # the sampled brackets, on the portable path, even on PostgreSQL
        monkeypatch.setattr(sla, "BRACKET_FROM", 1)
        monkeypatch.setattr(sla, "has_ordered_set_aggregates", lambda: False)
    rows = db.session.scalars(db.select(Handoff)).all()
    _assert_stored_durations(rows)
    _assert_rollups(rows)
    agent = people[2][0]
    selections = [
        (HistoryFilters(), rows),
        (
            HistoryFilters(date_from=DAYS[1], date_to=DAYS[3]),
            [h for h in rows if DAYS[1] <= h.created_at.date() <= DAYS[3]],
        ),
        (HistoryFilters(agent_id=agent.id), [h for h in rows if h.agent_id == agent.id]),
        (HistoryFilters(status="failed"), [h for h in rows if h.status == "failed"]),
        # Rollup rows these handoffs left (at zero) when they moved on must not show as groups.
        (HistoryFilters(status="accepted"), [h for h in rows if h.status == "accepted"]),
    ]
    for filters, chosen in selections:
        for detailed in (False, True):
            report = sla_report(filters, TARGETS, now=NOW, detailed=detailed)
            _assert_same(_figures(report), _expected(chosen))
        for day, counts in report.per_day:
            assert vars(counts) == _expected([h for h in chosen if h.created_at.date() == day])["counts"]
        assert {group.key for group in report.per_agent} == {h.agent_id for h in chosen}
        for group in report.per_agent:
            mine = _expected([h for h in chosen if h.agent_id == group.key])
            assert vars(group.counts) == mine["counts"]
            got = (group.delivery.count, group.delivery.median, group.delivery.p90)
            assert got[0] == mine["accepted_to_delivered"][0]
            assert got[1:] == pytest.approx(mine["accepted_to_delivered"][1:], abs=1e-3)
