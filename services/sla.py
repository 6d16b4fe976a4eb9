"""SLA figures for a filtered set of handoffs, computed by the database (SQLite and PostgreSQL).

Aggregates come back to Python: counts, failures by reason, and the few values that are the
median and p90 (on SQLite the chart page's per-person delivery percentiles excepted: each
group's durations come back as one string, see _delivery_per_person). No handoff row is
loaded. Every figure is exact (tests/test_sla_exact.py).

Two ways to the same figures:
- The per-day rollups kept by triggers (services/sla_rollup.py, models/sla_rollup.py) for any
  selection but a free-text search: counts are sums of a few rows per day, and for a date range
  the duration histograms place each percentile's rank in one bucket, whose rows alone are read.
- A pass over the matching rows (a search; and the percentiles of a selection filtered on
  agent, specialist, status or failure code, which the histograms do not key on):
  - PostgreSQL: the ordered-set aggregates percentile_cont(0.5) (the mean of the two middle
    values for an even count) and percentile_disc(0.9) (the value at rank ceil(0.9 n)), all
    three intervals in one statement;
  - SQLite has neither: the durations go into a materialised CTE and each wanted rank is read
    with ORDER BY ... LIMIT/OFFSET (n from the counting pass). For large selections a sample of
    ~4,000 handoffs first gives a narrow bracket of values around each rank, so only the rows
    inside it are sorted; the bracket is verified, and a miss falls back to sorting everything.
The durations are the stored columns (models/handoff.py DURATION_COLUMNS), not computed here.

Definitions (the tests pin them):
- delivered = COALESCE(delivered_at, read_at) is set (a message may go straight to "read");
- median = the middle value, or the mean of the two middle ones; p90 = nearest rank,
  the value at position ceil(0.9 n) in ascending order;
- a delivery breach = accepted, and delivered later than the target after acceptance, or not
  delivered although the target has passed; a ready breach = accepted later than the target
  after the ticket became ready. A missing "read" is never a breach: customers can turn
  read receipts off.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import BigInteger, and_, case, func, literal, or_, select, union_all

from models import Handoff, Specialist, User, db, utcnow
from services import sla_rollup
from services.history import PENDING_STATUSES, HistoryFilters, conditions

FIRST_DELIVERY = func.coalesce(Handoff.delivered_at, Handoff.read_at)
# Stored on the row by every writer (models/handoff.py DURATION_COLUMNS): read, not computed.
READY_TO_ACCEPTED = Handoff.ready_to_accepted_s
ACCEPTED_TO_DELIVERED = Handoff.accepted_to_delivered_s
ACCEPTED_TO_READ = Handoff.accepted_to_read_s
# The summary's intervals: (Counts field with how many have one, the interval). Every one starts
# or ends at acceptance, so rows never accepted are skipped before any duration is computed.
INTERVALS = {
    "ready_to_accepted": ("timed_ready", READY_TO_ACCEPTED),
    "accepted_to_delivered": ("timed_delivery", ACCEPTED_TO_DELIVERED),
    "accepted_to_read": ("timed_read", ACCEPTED_TO_READ),
}
# Delivery-time histogram: upper bounds in seconds; the last bucket is open-ended.
DELIVERY_BUCKETS = (
    (10, "< 10 s"),
    (30, "10–30 s"),
    (60, "30–60 s"),
    (120, "1–2 min"),
    (300, "2–5 min"),
    (900, "5–15 min"),
    (3600, "15–60 min"),
    (None, "≥ 1 h"),
)


@dataclass
class Targets:
    delivered_within: int
    ready_to_accepted: int

    @classmethod
    def from_config(cls) -> "Targets":
        config = current_app.config
        return cls(config["SLA_DELIVERED_WITHIN_SECONDS"], config["SLA_READY_TO_ACCEPTED_SECONDS"])


@dataclass
class Counts:
    total: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    pending: int = 0
    accepted: int = 0
    delivery_breaches: int = 0
    ready_breaches: int = 0
    # How many have each interval (the percentiles' n): presence tests, no duration computed.
    timed_ready: int = 0
    timed_delivery: int = 0
    timed_read: int = 0
    # Cards sent while the specialist was off work or on leave, and past their day's capacity.
    off_hours: int = 0
    over_capacity: int = 0

    def add(self, other: "Counts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def rate(self, name: str) -> float | None:
        return getattr(self, name) / self.total if self.total else None


@dataclass
class Percentiles:
    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass
class GroupRow:
    key: int | None
    label: str
    counts: Counts
    delivery: Percentiles


@dataclass
class SlaReport:
    targets: Targets
    totals: Counts
    failed_by_reason: list[tuple[str, int]]
    ready_to_accepted: Percentiles
    accepted_to_delivered: Percentiles
    accepted_to_read: Percentiles
    per_day: list[tuple[date, Counts]] = field(default_factory=list)
    delivery_histogram: list[tuple[str, int]] = field(default_factory=list)
    per_agent: list[GroupRow] = field(default_factory=list)
    per_specialist: list[GroupRow] = field(default_factory=list)


def sla_report(
    filters: HistoryFilters, targets: Targets | None = None, now: datetime | None = None, detailed: bool = True
) -> SlaReport:
    """The figures for the handoffs matching `filters`; `detailed` adds charts and per-person tables."""
    targets, now = targets or Targets.from_config(), now or utcnow()
    if sla_rollup.serves(filters):
        return _report_from_rollups(filters, targets, now, detailed)
    return _report_from_rows(filters, targets, now, detailed)


def _report_from_rollups(filters: HistoryFilters, targets: Targets, now: datetime, detailed: bool) -> SlaReport:
    """Counts from the per-day rollups; percentiles from the histograms when only dates are chosen."""
    where, by_histogram = conditions(filters), sla_rollup.histograms_serve(filters)
    if detailed:
        per_day = _rollup_counts(filters, targets, now, ("day",))
        totals = Counts()
        for counts in per_day.values():
            totals.add(counts)
    else:
        totals = _rollup_counts(filters, targets, now, ()).get((), Counts())
    found = _histogram_percentiles(filters, totals) if by_histogram else interval_percentiles(where, totals)
    report = SlaReport(targets=targets, totals=totals, failed_by_reason=sla_rollup.failed_by_reason(filters), **found)
    if detailed:
        report.per_day = _fill_days({key[0]: counts for key, counts in per_day.items()}, filters)
        report.delivery_histogram = _rollup_delivery_histogram(filters) if by_histogram else delivery_histogram(where)
        _add_per_person(report, _rollup_counts(filters, targets, now, ("agent", "specialist")), where)
    return report


def _report_from_rows(filters: HistoryFilters, targets: Targets, now: datetime, detailed: bool) -> SlaReport:
    """The same figures from a pass over the matching rows (a search is in no rollup)."""
    where = conditions(filters)
    counters = _counters(targets, now)
    if detailed:
        # Grouping by day gives the chart and, summed, the totals: one pass over the rows.
        per_day = _grouped_counts([func.date(Handoff.created_at)], where, counters)
        totals = Counts()
        for counts in per_day.values():
            totals.add(counts)
    else:
        totals = _totals(where, counters)
    report = SlaReport(
        targets=targets, totals=totals, failed_by_reason=failed_by_reason(where), **interval_percentiles(where, totals)
    )
    if detailed:
        report.per_day = _fill_days(per_day, filters)
        report.delivery_histogram = delivery_histogram(where)
        # One GROUP BY (agent, specialist) pass, rolled up both ways here (a few hundred groups).
        _add_per_person(report, _grouped_counts([Handoff.agent_id, Handoff.specialist_id], where, counters), where)
    return report


def _add_per_person(report: SlaReport, pairs: dict, where: list) -> None:
    """The per-agent and per-specialist tables from {(agent, specialist): Counts}."""
    by_agent, by_specialist = _delivery_per_person(where)
    report.per_agent = _per_group(_roll_up(pairs, 0), by_agent, _agent_labels)
    report.per_specialist = _per_group(_roll_up(pairs, 1), by_specialist, _specialist_labels)


def _delivery_per_person(where: list) -> tuple[dict, dict]:
    """({agent: Percentiles}, {specialist: Percentiles}) of the delivery time, exact.

    PostgreSQL: percentile_cont/percentile_disc per group. SQLite has no such aggregate, and
    ranking every value in SQL once per partition (ROW_NUMBER over each) sorted the selection
    twice (~200 ms each at 7 days of a million handoffs). Instead one pass over the covering
    index hands back each (agent, specialist) pair's durations as one string (printed with 17
    significant digits: the doubles come back bit for bit), and each group is sorted here."""
    if db.session.get_bind().dialect.name != "sqlite":  # group_concat and printf are SQLite's
        return (
            percentiles(ACCEPTED_TO_DELIVERED, where, partition=Handoff.agent_id),
            percentiles(ACCEPTED_TO_DELIVERED, where, partition=Handoff.specialist_id),
        )
    statement = (
        select(Handoff.agent_id, Handoff.specialist_id, func.group_concat(func.printf("%.17g", ACCEPTED_TO_DELIVERED)))
        .where(*where, ACCEPTED_TO_DELIVERED.is_not(None))
        .group_by(Handoff.agent_id, Handoff.specialist_id)
    )
    by_agent: dict = {}
    by_specialist: dict = {}
    for agent_id, specialist_id, joined in db.session.execute(statement):
        values = [float(value) for value in joined.split(",")]
        by_agent.setdefault(agent_id, []).extend(values)
        by_specialist.setdefault(specialist_id, []).extend(values)
    return _percentiles_of(by_agent), _percentiles_of(by_specialist)


def _percentiles_of(groups: dict) -> dict:
    """{key: Percentiles} of each group's values: the middle one(s) and rank ceil(0.9 n)."""
    found = {}
    for key, values in groups.items():
        values.sort()
        n = len(values)
        middle = values[(n - 1) // 2 : n // 2 + 1]
        found[key] = Percentiles(n, sum(middle) / len(middle), values[(9 * n + 9) // 10 - 1])
    return found


def _rollup_counts(filters: HistoryFilters, targets: Targets, now: datetime, groups: tuple) -> dict:
    """{group key: Counts} from the rollups; agent 0 (the rollup's "none") back to None."""
    found = sla_rollup.counts(filters, targets.delivered_within, targets.ready_to_accepted, now, groups)
    if "agent" in groups:
        at = groups.index("agent")
        found = {key[:at] + (key[at] or None,) + key[at + 1 :]: figures for key, figures in found.items()}
    return {key: Counts(**figures) for key, figures in found.items()}


def _histogram_percentiles(filters: HistoryFilters, totals: Counts) -> dict:
    """{interval: Percentiles}, each rank read inside the one histogram bucket that holds it."""
    histograms = sla_rollup.histograms(filters)
    found = {}
    for name, (timed, metric) in INTERVALS.items():
        n, histogram = getattr(totals, timed), histograms[metric.key]
        ranks = _ranks(n)
        values = {
            kind: [sla_rollup.value_at(filters, metric.key, histogram, rank + i) for i in range(count)]
            for kind, (rank, count) in ranks.items()
        }
        found[name] = _from_values(n, values)
    return found


def _rollup_delivery_histogram(filters: HistoryFilters) -> list[tuple[str, int]]:
    """The delivery-time chart from the histogram: values below each upper bound, differenced."""
    column = ACCEPTED_TO_DELIVERED.key
    histogram = sla_rollup.histograms(filters)[column]
    total = sum(histogram.values())
    below = [sla_rollup.count_below(filters, column, histogram, upper) for upper, _ in DELIVERY_BUCKETS[:-1]]
    edges = [0, *below, total]
    return [(label, edges[i + 1] - edges[i]) for i, (_, label) in enumerate(DELIVERY_BUCKETS)]


def _counters(targets: Targets, now: datetime) -> dict:
    """Named SUM(CASE ...) expressions, one per field of Counts."""
    overdue = now - timedelta(seconds=targets.delivered_within)
    late_delivery = or_(
        ACCEPTED_TO_DELIVERED > targets.delivered_within, and_(FIRST_DELIVERY.is_(None), Handoff.accepted_at < overdue)
    )
    flags = {
        "delivered": FIRST_DELIVERY.is_not(None),
        "read": Handoff.read_at.is_not(None),
        "failed": Handoff.status == "failed",
        "pending": Handoff.status.in_(PENDING_STATUSES),
        "accepted": Handoff.accepted_at.is_not(None),
        "delivery_breaches": and_(Handoff.accepted_at.is_not(None), late_delivery),
        "ready_breaches": READY_TO_ACCEPTED > targets.ready_to_accepted,
        "timed_ready": READY_TO_ACCEPTED.is_not(None),
        "timed_delivery": ACCEPTED_TO_DELIVERED.is_not(None),
        "timed_read": ACCEPTED_TO_READ.is_not(None),
        "off_hours": Handoff.unavailable_reason.in_(("off_hours", "on_leave")),
        "over_capacity": Handoff.unavailable_reason == "over_capacity",
    }
    sums = {name: func.coalesce(func.sum(case((flag, 1), else_=0)), 0).label(name) for name, flag in flags.items()}
    return {"total": func.count().label("total"), **sums}


def _totals(where: list, counters: dict) -> Counts:
    """Counts for the whole filtered set: one aggregate, no grouping (nothing to sort)."""
    row = db.session.execute(select(*counters.values()).where(*where)).one()._mapping
    return Counts(**{name: int(row[name] or 0) for name in counters})


def _grouped_counts(keys: list, where: list, counters: dict) -> dict:
    """{group key: Counts} for one GROUP BY over the filtered set."""
    labelled = [key.label(f"k{i}") for i, key in enumerate(keys)]
    statement = select(*labelled, *counters.values()).where(*where).group_by(*labelled)
    result = {}
    for row in db.session.execute(statement):
        mapping = row._mapping
        key = tuple(mapping[f"k{i}"] for i in range(len(keys)))
        result[key[0] if len(key) == 1 else key] = Counts(**{name: int(mapping[name]) for name in counters})
    return result


def interval_percentiles(where: list, totals: Counts) -> dict:
    """{interval name: Percentiles} for the summary, exact (PostgreSQL: one statement)."""
    where = [*where, Handoff.accepted_at.is_not(None)]
    if has_ordered_set_aggregates():
        return _ordered_set_percentiles(where)
    return _limit_offset_percentiles(where, totals)


def has_ordered_set_aggregates() -> bool:
    """percentile_cont/percentile_disc WITHIN GROUP: PostgreSQL yes, SQLite no."""
    return db.session.get_bind().dialect.name == "postgresql"


def _ordered_set_percentiles(where: list) -> dict:
    columns = []
    for _, metric in INTERVALS.values():
        columns += [
            func.count(metric),
            func.percentile_cont(0.5).within_group(metric),
            func.percentile_disc(0.9).within_group(metric),
        ]
    row = db.session.execute(select(*columns).where(*where)).one()
    return {
        name: Percentiles(int(row[3 * i]), _float(row[3 * i + 1]), _float(row[3 * i + 2]))
        for i, name in enumerate(INTERVALS)
    }


# SQLite, large selections: each rank is looked for inside a narrow bracket of values taken
# from a sample, so only ~5 % of the rows are sorted per rank instead of all of them. The
# bracket is checked (rows below it, rows found) and a miss falls back to the plain sort, so
# the figures stay exact.
BRACKET_FROM = 20_000  # intervals measured; below this a plain sort is as cheap
SAMPLE_SIZE = 4_000  # rows sampled (about one in k, by a hash of the id) to place the brackets
# Per mille of the sample on each side of the wanted fraction: ~5 standard errors of a sample
# quantile at 4,000 rows, so a miss (and its full sort) stays rare.
BRACKET_MARGIN = 40


def _limit_offset_percentiles(where: list, totals: Counts) -> dict:
    """The middle rank(s) and rank ceil(0.9 n) of each interval, read with ORDER BY/LIMIT/OFFSET.

    The n come from the counting statement: same filter, same snapshot (SQLite's read
    transaction spans the request's statements).
    """
    wanted = {name: _ranks(getattr(totals, timed)) for name, (timed, _) in INTERVALS.items()}
    large = [name for name, (timed, _) in INTERVALS.items() if getattr(totals, timed) >= BRACKET_FROM]
    brackets = _sample_brackets(where, totals, large) if large else {}
    found = _read_ranks(where, totals, wanted, brackets)
    missed = {key: ranks for key, ranks in wanted.items() if key not in found}
    if missed:  # a bracket that did not hold its rank: sort that interval in full
        found.update(_read_ranks(where, totals, missed, {}))
    return {name: _from_values(getattr(totals, INTERVALS[name][0]), found.get(name)) for name in INTERVALS}


def _ranks(n: int) -> dict:
    """{kind: (first rank, how many values)}: the one or two middle ranks, and ceil(0.9 n)."""
    if not n:
        return {}
    return {"median": ((n + 1) // 2, 1 if n % 2 else 2), "p90": ((9 * n + 9) // 10, 1)}


def _interval_values(where: list, *extra):
    values = select(*(metric.label(name) for name, (_, metric) in INTERVALS.items())).where(*where, *extra)
    return values.cte("interval_values").prefix_with("MATERIALIZED")  # each duration computed once


def _read_ranks(where: list, totals: Counts, wanted: dict, brackets: dict) -> dict:
    """{interval: {kind: values}} for the ranks whose bracket (if any) held them."""
    values, picks = _interval_values(where), []
    used = {key: bracket for key, bracket in brackets.items() if key[0] in wanted}
    # How many values lie below each bracket: one pass over the durations for all of them.
    below = (
        select(
            *(
                func.count(case((values.c[name] < lo, 1))).label(f"{name}:{kind}")
                for (name, kind), (lo, _) in used.items()
            )
        ).cte("below_brackets")
        if used
        else None
    )
    for name, ranks in wanted.items():
        n = getattr(totals, INTERVALS[name][0])
        for kind, (rank, count) in ranks.items():
            tag = f"{name}:{kind}"
            picks.append(
                _pick(values.c[name], tag, rank, count, used[name, kind], below.c[tag])
                if (name, kind) in used
                else _pick_unbracketed(values.c[name], tag, rank, count, n)
            )
    return _held_ranks(db.session.execute(union_all(*picks)) if picks else (), wanted)


def _held_ranks(result, wanted: dict) -> dict:
    rows: dict = {}
    for tag, under, value in result:
        rows.setdefault(tag, (under, []))[1].append(float(value))
    found: dict = {}
    for name, ranks in wanted.items():
        got = {kind: rows.get(f"{name}:{kind}", (0, [])) for kind in ranks}
        if all(_held(*got[kind], *ranks[kind]) for kind in ranks):
            found[name] = {kind: got[kind][1] for kind in ranks}
    return found


def _held(below: int, values: list, rank: int, count: int) -> bool:
    # Fewer rows below the bracket than the rank, and all the values found inside it.
    return below < rank and len(values) == count


def _pick(column, tag: str, rank: int, count: int, bracket: tuple, below_column):
    """`count` values from rank `rank` on, sorting only the rows inside `bracket` (lo, hi)."""
    below = select(below_column).scalar_subquery()
    offset = rank - 1 - below  # negative when the bracket starts above the rank (PostgreSQL refuses it)
    ranked = (
        select(column.label("v"))
        .where(column >= bracket[0], column <= bracket[1])
        .order_by(column)
        .limit(count)
        .offset(case((offset < 0, 0), else_=offset))
        .subquery()
    )
    return select(literal(tag).label("tag"), below.label("below"), ranked.c.v)


def _pick_unbracketed(column, tag: str, rank: int, count: int, n: int):
    """The same from a sort of every value; a rank in the top half is read from the top, so the
    sort (bounded by LIMIT + OFFSET) keeps fewer rows."""
    known = select(column.label("v")).where(column.is_not(None))
    if rank > n // 2:
        known = known.order_by(column.desc()).limit(count).offset(n - rank - count + 1)
    else:
        known = known.order_by(column).limit(count).offset(rank - 1)
    ranked = known.subquery()
    return select(literal(tag).label("tag"), literal(0).label("below"), ranked.c.v)


def _sample_brackets(where: list, totals: Counts, names: list) -> dict:
    """{(interval, kind): (lo, hi)} around each wanted fraction, from about one handoff in k."""
    stride = max(1, totals.total // SAMPLE_SIZE)
    # Scrambled ids: a plain id % k followed the seeding's patterns (a sample median 3.5
    # standard errors off at 1M rows). 2654435761 * id stays within 64 bits below 3e9 ids.
    sample = _interval_values(where, Handoff.id * literal(2654435761, BigInteger()) % 1000003 % stride == 0)
    edges = {
        kind: (fraction - BRACKET_MARGIN, fraction + BRACKET_MARGIN)
        for kind, fraction in (("median", 500), ("p90", 900))
    }
    parts = []
    for name in names:  # one ranking per interval, four ranks kept from it
        column = sample.c[name]
        ranked = (
            select(
                column.label("v"), func.row_number().over(order_by=column).label("rn"), func.count().over().label("n")
            )
            .where(column.is_not(None))
            .subquery()
        )
        at = or_(*(ranked.c.rn == ranked.c.n * pm // 1000 + 1 for pair in edges.values() for pm in pair))
        parts.append(select(literal(name).label("name"), ranked.c.rn, ranked.c.n, ranked.c.v).where(at))
    rows = db.session.execute(union_all(*parts)).all()
    values = {(name, rn): v for name, rn, _, v in rows}
    sizes = {name: n for name, _, n, _ in rows}
    return {
        (name, kind): (values[name, sizes[name] * low // 1000 + 1], values[name, sizes[name] * high // 1000 + 1])
        for name in sizes
        for kind, (low, high) in edges.items()
    }


def _from_values(n: int, values: dict | None) -> Percentiles:
    if not n or not values:
        return Percentiles(n)
    middle = values["median"]
    return Percentiles(n, sum(middle) / len(middle), values["p90"][0])


def percentiles(metric, where: list, partition=None) -> dict:
    """{partition value (None overall): Percentiles} of `metric`, ignoring NULLs: PostgreSQL's
    percentile_cont/percentile_disc per group (SQLite: `_delivery_per_person` sorts in Python)."""
    key = (partition if partition is not None else literal(0)).label("k")
    statement = (
        select(
            key,
            func.count(metric),
            func.percentile_cont(0.5).within_group(metric),
            func.percentile_disc(0.9).within_group(metric),
        )
        .where(*where, metric.is_not(None))
        .group_by(key)
    )
    return _collect(db.session.execute(statement), partition)


def _collect(rows, partition) -> dict:
    found = {
        (k if partition is not None else None): Percentiles(int(count), _float(median), _float(p90))
        for k, count, median, p90 in rows
    }
    if partition is None:
        found.setdefault(None, Percentiles())
    return found


def _float(value) -> float | None:
    return float(value) if value is not None else None


def failed_by_reason(where: list) -> list[tuple[str, int]]:
    """Failures per failure code, most frequent first."""
    # Grouped by an expression, not the column: SQLite would otherwise walk the whole
    # (failure_code, created_at) index to get the groups in order (265 ms at a million rows).
    code = func.coalesce(Handoff.failure_code, "").label("code")
    statement = (
        select(code, func.count())
        .where(*where, Handoff.status == "failed")
        .group_by(code)
        .order_by(func.count().desc(), code)
    )
    return [(code or "unspecified", int(count)) for code, count in db.session.execute(statement)]


def delivery_histogram(where: list) -> list[tuple[str, int]]:
    """How many cards reached the customer within each delivery-time bucket."""
    bucket = case(
        *[
            (ACCEPTED_TO_DELIVERED < upper, index)
            for index, (upper, _) in enumerate(DELIVERY_BUCKETS)
            if upper is not None
        ],
        else_=len(DELIVERY_BUCKETS) - 1,
    ).label("bucket")
    statement = select(bucket, func.count()).where(*where, ACCEPTED_TO_DELIVERED.is_not(None)).group_by(bucket)
    counts = dict(db.session.execute(statement).all())
    return [(label, int(counts.get(index, 0))) for index, (_, label) in enumerate(DELIVERY_BUCKETS)]


def _fill_days(per_day: dict, filters: HistoryFilters) -> list[tuple[date, Counts]]:
    """One entry per calendar day of the range, zero where nothing was sent."""
    days = {_as_date(key): counts for key, counts in per_day.items()}
    if not days and not (filters.date_from and filters.date_to):
        return []
    first = filters.date_from or min(days)
    last = filters.date_to or max(days)
    if days:
        first, last = min(first, min(days)), max(last, max(days))
    span = min((last - first).days, 366)  # a chart of more than a year would be unreadable
    return [(first + timedelta(days=i), days.get(first + timedelta(days=i), Counts())) for i in range(span + 1)]


def _as_date(value) -> date:
    # SQLite's date() returns text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _roll_up(pairs: dict, position: int) -> dict:
    rolled: dict = {}
    for key, counts in pairs.items():
        rolled.setdefault(key[position], Counts()).add(counts)
    return rolled


def _per_group(counts: dict, delivery: dict, labels) -> list[GroupRow]:
    names = labels([key for key in counts if key is not None])
    rows = [
        GroupRow(key, names.get(key, f"#{key}"), value, delivery.get(key, Percentiles()))
        for key, value in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row.counts.total, row.label))


def _agent_labels(ids: list[int]) -> dict:
    named = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    return {None: "Helpdesk API", **named}


def _specialist_labels(ids: list[int]) -> dict:
    if not ids:
        return {}
    return dict(db.session.execute(select(Specialist.id, Specialist.display_name).where(Specialist.id.in_(ids))).all())
