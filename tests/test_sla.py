"""SLA figures against a fixture computed by hand (see the table in `fixture`)."""

from datetime import date, datetime, timedelta

import pytest

from models import db
from services import sla, sla_rollup
from services.history import HistoryFilters
from services.sla import Percentiles, Targets, sla_report
from tests.history_factories import add_handoff, seconds

NOW = datetime(2024, 5, 10, 12, 0, 0)
DAY = date(2024, 5, 10)
TARGETS = Targets(delivered_within=300, ready_to_accepted=900)


@pytest.fixture
def fixture(make_ticket, make_specialist, make_user):
    """Nine handoffs of 2024-05-10 (and one of the next day, outside the filter).

    #  agent  ready→acc  acc→delivered  acc→read  status     notes
    1  A      100        12             70        read
    2  A      200        20             -         delivered
    3  A      1000       33             130       read       ready breach (> 900)
    4  A      300        400            -         delivered  delivery breach (> 300)
    5  B      50         65 (via read)  65        read       straight to read, no delivered_at
    6  B      -          -              -         failed     window_closed, never accepted
    7  B      500        -              -         failed     delivery_failed 1 h after acceptance: breach
    8  B      10         -              -         accepted   accepted 100 s before NOW: not yet a breach
    9  API    -          -              -         failed     window_closed
    """
    agent_a, agent_b = make_user(name="Alice Agent"), make_user(name="Bob Agent")
    specialist, ticket = make_specialist(display_name="Jane Specialist"), make_ticket()

    def accepted(agent, acc_at, ready_before, **fields):
        return add_handoff(
            ticket,
            specialist,
            agent,
            created_at=acc_at - timedelta(seconds=1),
            ready_at=seconds(acc_at, -ready_before) if ready_before is not None else None,
            accepted_at=acc_at,
            **fields,
        )

    base = datetime(2024, 5, 10, 9, 0, 0)
    accepted(agent_a, base, 100, status="read", delivered_at=seconds(base, 12), read_at=seconds(base, 70))
    accepted(
        agent_a,
        base + timedelta(minutes=10),
        200,
        status="delivered",
        delivered_at=seconds(base + timedelta(minutes=10), 20),
    )
    t3 = base + timedelta(minutes=20)
    accepted(agent_a, t3, 1000, status="read", delivered_at=seconds(t3, 33), read_at=seconds(t3, 130))
    t4 = base + timedelta(minutes=30)
    accepted(agent_a, t4, 300, status="delivered", delivered_at=seconds(t4, 400))
    t5 = base + timedelta(minutes=40)
    accepted(agent_b, t5, 50, status="read", read_at=seconds(t5, 65))
    add_handoff(
        ticket,
        specialist,
        agent_b,
        created_at=base + timedelta(minutes=50),
        status="failed",
        ready_at=base,
        failed_at=base + timedelta(minutes=50),
        failure_code="window_closed",
    )
    t7 = NOW - timedelta(hours=1)
    accepted(agent_b, t7, 500, status="failed", failed_at=seconds(t7, 5), failure_code="delivery_failed")
    accepted(agent_b, NOW - timedelta(seconds=100), 10, status="accepted")
    add_handoff(
        ticket,
        specialist,
        None,
        created_at=NOW - timedelta(minutes=5),
        status="failed",
        failed_at=NOW - timedelta(minutes=5),
        failure_code="window_closed",
    )
    # Outside the filtered day: must change nothing.
    accepted(agent_a, datetime(2024, 5, 11, 9, 0), 5000, status="delivered", delivered_at=datetime(2024, 5, 11, 10, 0))
    return agent_a, agent_b, specialist


def report(**filters):
    return sla_report(HistoryFilters(date_from=DAY, date_to=DAY, **filters), TARGETS, now=NOW)


def test_counts_and_rates(fixture):
    totals = report().totals
    counts = (totals.total, totals.delivered, totals.read, totals.failed, totals.pending, totals.accepted)
    assert counts == (9, 5, 3, 3, 1, 7)
    assert totals.rate("delivered") == pytest.approx(5 / 9)
    assert totals.rate("failed") == pytest.approx(3 / 9)


def test_failed_by_reason(fixture):
    assert report().failed_by_reason == [("window_closed", 2), ("delivery_failed", 1)]


def test_median_and_p90_of_each_interval(fixture):
    figures = report()
    # ready→accepted sorted: 10 50 100 200 300 500 1000 → median 200, p90 = rank ceil(6.3) = 7th.
    assert figures.ready_to_accepted.count == 7
    assert figures.ready_to_accepted.median == pytest.approx(200, abs=0.01)
    assert figures.ready_to_accepted.p90 == pytest.approx(1000, abs=0.01)
    # accepted→delivered (delivered_at, else read_at): 12 20 33 65 400 → median 33, p90 5th.
    assert figures.accepted_to_delivered.count == 5
    assert figures.accepted_to_delivered.median == pytest.approx(33, abs=0.01)
    assert figures.accepted_to_delivered.p90 == pytest.approx(400, abs=0.01)
    # accepted→read: 65 70 130.
    to_read = figures.accepted_to_read
    assert (to_read.count, round(to_read.median), round(to_read.p90)) == (3, 70, 130)


def test_breaches_count_late_and_overdue_deliveries_but_never_a_missing_read(fixture):
    totals = report().totals
    assert totals.delivery_breaches == 2  # #4 delivered after 400 s, #7 undelivered after 1 h
    assert totals.ready_breaches == 1  # #3
    # With a looser target only the overdue undelivered one remains.
    loose = sla_report(HistoryFilters(date_from=DAY, date_to=DAY), Targets(500, 2000), now=NOW).totals
    assert (loose.delivery_breaches, loose.ready_breaches) == (1, 0)


def test_per_agent_table_with_an_even_count_median(fixture):
    agent_a, agent_b, _ = fixture
    rows = {row.label: row for row in report().per_agent}
    a = rows["Alice Agent"]
    assert (a.counts.total, a.counts.delivered, a.counts.read, a.counts.failed) == (4, 4, 2, 0)
    assert (a.counts.delivery_breaches, a.counts.ready_breaches) == (1, 1)
    # 12 20 33 400: the median is the mean of the two middle values; p90 = rank ceil(3.6) = 4th.
    assert a.delivery.median == pytest.approx(26.5, abs=0.01)
    assert a.delivery.p90 == pytest.approx(400, abs=0.01)
    b = rows["Bob Agent"]
    assert (b.counts.total, b.counts.failed, b.counts.delivery_breaches, round(b.delivery.median)) == (4, 2, 1, 65)
    assert rows["Helpdesk API"].counts.total == 1 and rows["Helpdesk API"].delivery.median is None


def test_per_specialist_day_and_histogram(fixture):
    figures = report()
    [row] = figures.per_specialist
    assert (row.label, row.counts.total, round(row.delivery.median)) == ("Jane Specialist", 9, 33)
    [(day, counts)] = figures.per_day
    assert (day, counts.total, counts.failed) == (DAY, 9, 3)
    assert dict(figures.delivery_histogram) == {
        "< 10 s": 0,
        "10–30 s": 2,
        "30–60 s": 1,
        "1–2 min": 1,
        "2–5 min": 0,
        "5–15 min": 1,
        "15–60 min": 0,
        "≥ 1 h": 0,
    }


def test_filters_narrow_the_figures(fixture):
    agent_a, _, _ = fixture
    only_a = report(agent_id=agent_a.id)
    assert only_a.totals.total == 4
    assert only_a.accepted_to_delivered.median == pytest.approx(26.5, abs=0.01)
    assert report(status="failed").totals.total == 3
    assert report(failure_code="window_closed").totals.total == 2


def test_empty_selection_has_no_figures(app):
    figures = report()
    assert figures.totals.total == 0
    assert figures.accepted_to_delivered.median is None and figures.accepted_to_delivered.p90 is None
    assert figures.per_day == [(DAY, figures.totals)] or all(c.total == 0 for _, c in figures.per_day)


def test_sla_page_shows_the_figures(client, auth, fixture):
    auth.login("lead")
    response = client.get("/history/sla?date_from=2024-05-10&date_to=2024-05-10")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Alice Agent" in body and "window closed" in body
    assert "33 s" in body and "6 min 40 s" in body  # median and p90 delivery
    assert "<svg" in body and "The same numbers as a table" in body


def test_summary_fragment_for_htmx(client, auth, fixture):
    auth.login("lead")
    response = client.get("/history/sla?date_from=2024-05-10&date_to=2024-05-10", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="sla-summary"') or 'id="sla-summary"' in body.split("\n", 3)[1]
    assert "<html" not in body and "33 s" in body


# --- the summary's fast paths (services/sla.py): same exact figures as the detailed report ---


def test_summary_without_charts_has_the_same_figures(fixture):
    quick = sla_report(HistoryFilters(date_from=DAY, date_to=DAY), TARGETS, now=NOW, detailed=False)
    full = report()
    assert quick.totals == full.totals
    assert quick.failed_by_reason == full.failed_by_reason
    for name in ("ready_to_accepted", "accepted_to_delivered", "accepted_to_read"):
        assert getattr(quick, name) == getattr(full, name)
    assert quick.accepted_to_delivered == Percentiles(5, pytest.approx(33, abs=0.01), pytest.approx(400, abs=0.01))
    assert quick.per_day == [] and quick.per_agent == []


def test_sampled_brackets_give_the_exact_ranks(fixture, monkeypatch):
    monkeypatch.setattr(sla_rollup, "histograms_serve", lambda filters: False)  # the ranking of rows
    # Force the bracketed search of large selections onto the fixture: every row is sampled.
    monkeypatch.setattr(sla, "BRACKET_FROM", 1)
    monkeypatch.setattr(sla, "SAMPLE_SIZE", 10_000)
    calls = spy_on_rank_reads(monkeypatch)
    figures = sla_report(HistoryFilters(date_from=DAY, date_to=DAY), TARGETS, now=NOW, detailed=False)
    assert len(calls) == 1 and len(calls[0]) == 6  # every rank found inside its bracket, no fallback
    assert figures.ready_to_accepted == Percentiles(7, pytest.approx(200, abs=0.01), pytest.approx(1000, abs=0.01))
    assert figures.accepted_to_delivered == Percentiles(5, pytest.approx(33, abs=0.01), pytest.approx(400, abs=0.01))
    assert figures.accepted_to_read == Percentiles(3, pytest.approx(70, abs=0.01), pytest.approx(130, abs=0.01))


def test_a_bracket_that_misses_its_rank_falls_back_to_the_full_sort(fixture, monkeypatch):
    monkeypatch.setattr(sla_rollup, "histograms_serve", lambda filters: False)  # the ranking of rows
    monkeypatch.setattr(sla, "BRACKET_FROM", 1)
    # Brackets far from the true values (above them all, and below them all).
    monkeypatch.setattr(
        sla,
        "_sample_brackets",
        lambda where, totals, names: {
            (name, kind): (1e6, 2e6) if kind == "median" else (-2.0, -1.0)
            for name in names
            for kind in ("median", "p90")
        },
    )
    calls = spy_on_rank_reads(monkeypatch)
    figures = sla_report(HistoryFilters(date_from=DAY, date_to=DAY), TARGETS, now=NOW, detailed=False)
    assert [len(brackets) for brackets in calls] == [6, 0]  # bracketed, then the full sort
    assert figures.accepted_to_delivered == Percentiles(5, pytest.approx(33, abs=0.01), pytest.approx(400, abs=0.01))
    assert figures.ready_to_accepted.median == pytest.approx(200, abs=0.01)


def spy_on_rank_reads(monkeypatch) -> list:
    """Records the brackets of each rank-reading statement (SQLite path; PostgreSQL needs none)."""
    calls, real = [], sla._read_ranks
    monkeypatch.setattr(sla, "has_ordered_set_aggregates", lambda: False)  # the portable path, on both

    def spy(where, totals, wanted, brackets):
        calls.append(brackets)
        return real(where, totals, wanted, brackets)

    monkeypatch.setattr(sla, "_read_ranks", spy)
    return calls


@pytest.mark.parametrize(
    "delivery_seconds, median, p90",
    [
        ([7], 7, 7),
        ([9, 3], 6, 9),
        ([5, 1, 3], 3, 5),
        ([4, 1, 3, 2], 2.5, 4),
        (list(range(1, 21)), 10.5, 18),
        (list(range(1, 22)), 11, 19),
    ],
)
def test_median_and_p90_for_small_odd_and_even_counts(
    make_ticket, make_specialist, make_user, monkeypatch, delivery_seconds, median, p90
):
    agent, specialist, ticket = make_user(), make_specialist(), make_ticket()
    start = datetime(2024, 5, 10, 8, 0, 0)
    for i, value in enumerate(delivery_seconds):
        accepted_at = start + timedelta(minutes=i)
        add_handoff(
            ticket,
            specialist,
            agent,
            created_at=accepted_at,
            status="delivered",
            accepted_at=accepted_at,
            delivered_at=seconds(accepted_at, value),
            commit=False,
        )
    db.session.commit()
    expected = Percentiles(len(delivery_seconds), pytest.approx(median, abs=0.01), pytest.approx(p90, abs=0.01))
    for detailed in (False, True):
        assert report_for_day(detailed).accepted_to_delivered == expected
    # PostgreSQL: the portable LIMIT/OFFSET path gives the same as percentile_cont/percentile_disc.
    spy_on_rank_reads(monkeypatch)
    assert report_for_day(False).accepted_to_delivered == expected


def report_for_day(detailed: bool):
    return sla_report(HistoryFilters(date_from=DAY, date_to=DAY), TARGETS, now=NOW, detailed=detailed)


def test_failures_without_a_code_are_listed_as_unspecified(make_ticket, make_specialist, make_user):
    agent, specialist, ticket = make_user(), make_specialist(), make_ticket()
    add_handoff(ticket, specialist, agent, created_at=datetime(2024, 5, 10, 8, 0), status="failed")
    add_handoff(
        ticket, specialist, agent, created_at=datetime(2024, 5, 10, 8, 5), status="failed", failure_code="rate_limited"
    )
    add_handoff(
        ticket, specialist, agent, created_at=datetime(2024, 5, 10, 8, 6), status="failed", failure_code="rate_limited"
    )
    assert report().failed_by_reason == [("rate_limited", 2), ("unspecified", 1)]
