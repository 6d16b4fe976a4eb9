"""SLA figures for a filtered set of handoffs, computed by the database (SQLite and PostgreSQL).

Only aggregates come back to Python: counts grouped by day, agent and specialist, and
percentiles picked out of a window-function ranking. No handoff row is loaded.

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
from sqlalchemy import Float, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from models import Handoff, Specialist, User, db, utcnow
from services.history import PENDING_STATUSES, HistoryFilters, conditions


class seconds_between(FunctionElement):
    """Seconds from the first timestamp to the second, as a float (NULL if either is NULL)."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


FIRST_DELIVERY = func.coalesce(Handoff.delivered_at, Handoff.read_at)
READY_TO_ACCEPTED = seconds_between(Handoff.ready_at, Handoff.accepted_at)
ACCEPTED_TO_DELIVERED = seconds_between(Handoff.accepted_at, FIRST_DELIVERY)
ACCEPTED_TO_READ = seconds_between(Handoff.accepted_at, Handoff.read_at)
# Delivery-time histogram: upper bounds in seconds; the last bucket is open-ended.
DELIVERY_BUCKETS = ((10, "< 10 s"), (30, "10–30 s"), (60, "30–60 s"), (120, "1–2 min"),
                    (300, "2–5 min"), (900, "5–15 min"), (3600, "15–60 min"), (None, "≥ 1 h"))


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


def sla_report(filters: HistoryFilters, targets: Targets | None = None, now: datetime | None = None,
               detailed: bool = True) -> SlaReport:
    """The figures for the handoffs matching `filters`; `detailed` adds charts and per-person tables."""
    targets = targets or Targets.from_config()
    where = conditions(filters)
    counters = _counters(targets, now or utcnow())
    # Grouping by day gives the chart and, summed, the totals: one pass over the rows.
    per_day = _grouped_counts([func.date(Handoff.created_at)], where, counters)
    totals = Counts()
    for counts in per_day.values():
        totals.add(counts)
    report = SlaReport(
        targets=targets, totals=totals, failed_by_reason=failed_by_reason(where),
        ready_to_accepted=percentiles(READY_TO_ACCEPTED, where)[None],
        accepted_to_delivered=percentiles(ACCEPTED_TO_DELIVERED, where)[None],
        accepted_to_read=percentiles(ACCEPTED_TO_READ, where)[None],
    )
    if detailed:
        report.per_day = _fill_days(per_day, filters)
        report.delivery_histogram = delivery_histogram(where)
        # One GROUP BY (agent, specialist) pass, rolled up both ways here (a few hundred groups).
        pairs = _grouped_counts([Handoff.agent_id, Handoff.specialist_id], where, counters)
        report.per_agent = _per_group(Handoff.agent_id, _roll_up(pairs, 0), where, _agent_labels)
        report.per_specialist = _per_group(Handoff.specialist_id, _roll_up(pairs, 1), where, _specialist_labels)
    return report


def _counters(targets: Targets, now: datetime) -> dict:
    """Named SUM(CASE ...) expressions, one per field of Counts."""
    overdue = now - timedelta(seconds=targets.delivered_within)
    late_delivery = or_(ACCEPTED_TO_DELIVERED > targets.delivered_within,
                        and_(FIRST_DELIVERY.is_(None), Handoff.accepted_at < overdue))
    flags = {
        "delivered": FIRST_DELIVERY.is_not(None),
        "read": Handoff.read_at.is_not(None),
        "failed": Handoff.status == "failed",
        "pending": Handoff.status.in_(PENDING_STATUSES),
        "accepted": Handoff.accepted_at.is_not(None),
        "delivery_breaches": and_(Handoff.accepted_at.is_not(None), late_delivery),
        "ready_breaches": READY_TO_ACCEPTED > targets.ready_to_accepted,
    }
    sums = {name: func.coalesce(func.sum(case((flag, 1), else_=0)), 0).label(name) for name, flag in flags.items()}
    return {"total": func.count().label("total"), **sums}


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


def percentiles(metric, where: list, partition=None) -> dict:
    """{partition value (None overall): Percentiles} of `metric`, ignoring NULLs.

    ROW_NUMBER() and COUNT() OVER the same window rank every value; the outer query keeps
    the ranks that are the median (one or two middle ranks) and the p90 (rank ceil(0.9 n)).
    """
    key = (partition if partition is not None else literal(0)).label("k")
    values = select(metric.label("v"), key).where(*where, metric.is_not(None)).subquery()
    window = {"partition_by": values.c.k} if partition is not None else {}
    ranked = select(values.c.v, values.c.k,
                    func.row_number().over(order_by=values.c.v, **window).label("rn"),
                    func.count().over(**window).label("n")).subquery()
    rn, n = ranked.c.rn, ranked.c.n
    middle = or_(rn == (n + 1) // 2, rn == (n + 2) // 2)
    statement = (select(ranked.c.k, func.max(n), func.avg(case((middle, ranked.c.v))),
                        func.max(case((rn == (9 * n + 9) // 10, ranked.c.v))))
                 .where(or_(middle, rn == (9 * n + 9) // 10)).group_by(ranked.c.k))
    found = {(k if partition is not None else None): Percentiles(int(count), _float(median), _float(p90))
             for k, count, median, p90 in db.session.execute(statement)}
    if partition is None:
        found.setdefault(None, Percentiles())
    return found


def _float(value) -> float | None:
    return float(value) if value is not None else None


def failed_by_reason(where: list) -> list[tuple[str, int]]:
    """Failures per failure code, most frequent first."""
    statement = (select(Handoff.failure_code, func.count()).where(*where, Handoff.status == "failed")
                 .group_by(Handoff.failure_code).order_by(func.count().desc(), Handoff.failure_code))
    return [(code or "unspecified", int(count)) for code, count in db.session.execute(statement)]


def delivery_histogram(where: list) -> list[tuple[str, int]]:
    """How many cards reached the customer within each delivery-time bucket."""
    bucket = case(*[(ACCEPTED_TO_DELIVERED < upper, index)
                    for index, (upper, _) in enumerate(DELIVERY_BUCKETS) if upper is not None],
                  else_=len(DELIVERY_BUCKETS) - 1).label("bucket")
    statement = (select(bucket, func.count()).where(*where, ACCEPTED_TO_DELIVERED.is_not(None))
                 .group_by(bucket))
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


def _per_group(column, counts: dict, where: list, labels) -> list[GroupRow]:
    delivery = percentiles(ACCEPTED_TO_DELIVERED, where, partition=column)
    names = labels([key for key in counts if key is not None])
    rows = [GroupRow(key, names.get(key, f"#{key}"), value, delivery.get(key, Percentiles()))
            for key, value in counts.items()]
    return sorted(rows, key=lambda row: (-row.counts.total, row.label))


def _agent_labels(ids: list[int]) -> dict:
    named = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    return {None: "Helpdesk API", **named}


def _specialist_labels(ids: list[int]) -> dict:
    if not ids:
        return {}
    return dict(db.session.execute(select(Specialist.id, Specialist.display_name).where(Specialist.id.in_(ids))).all())
