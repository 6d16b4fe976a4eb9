"""SLA figures from the per-day rollups kept by triggers (models/sla_rollup.py): exact, and the
cost of a period is a few rows per day, not a pass over its handoffs.

- Counts: sums of `sla_days` rows (day, agent, specialist, status, failure code).
- Breaches depend on the configured targets and, for "not delivered although the target has
  passed", on now; they are counted from the rows, but only the rows that can be one: durations
  above the target (an index range on the stored duration), and the undelivered handoffs accepted
  in the last minutes, taken off the rollup's undelivered count (an index range on accepted_at).
- Percentiles: the per-day histograms give how many values lie below each bucket, so the bucket
  holding a rank is known exactly; only that bucket's rows are read, in order, from the index on
  (duration, created_at). The histograms have no agent, specialist, status or failure key: a
  selection filtered on those ranks its rows as before (services/sla.py).
A free-text search is not in any rollup: services/sla.py scans the rows for it.
"""

from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from models import Handoff, SlaDay, SlaDurationDay, db
from models.sla_rollup import DURATION_INTERVALS, bucket_bounds, duration_bucket
from services.history import PENDING_STATUSES, HistoryFilters, conditions

ROLLUP_SUMS = ("total", "delivered", "read", "accepted", "timed_ready", "timed_delivery", "timed_read",
               "off_hours", "over_capacity", "undelivered")  # fmt: skip
# Group keys: (rollup column, the same on a handoff row).
GROUPS = {
    "day": (SlaDay.day, func.date(Handoff.created_at)),
    "agent": (SlaDay.agent_id, func.coalesce(Handoff.agent_id, 0)),
    "specialist": (SlaDay.specialist_id, Handoff.specialist_id),
}


def serves(filters: HistoryFilters) -> bool:
    """Whether the rollups hold this selection (a search is not in them)."""
    return not filters.search


def histograms_serve(filters: HistoryFilters) -> bool:
    """Whether the duration histograms hold it: a date range and nothing else."""
    return serves(filters) and not (filters.agent_id or filters.specialist_id or filters.status or filters.failure_code)


def _day_conditions(filters: HistoryFilters, day_column) -> list:
    # The history filters bound created_at by whole UTC days: the rollup's days are those.
    where = []
    if filters.date_from:
        where.append(day_column >= filters.date_from)
    if filters.date_to:
        where.append(day_column <= filters.date_to)
    return where


def _rollup_conditions(filters: HistoryFilters) -> list:
    where = _day_conditions(filters, SlaDay.day)
    for value, column in ((filters.agent_id, SlaDay.agent_id), (filters.specialist_id, SlaDay.specialist_id),
                          (filters.status, SlaDay.status), (filters.failure_code, SlaDay.failure_code)):  # fmt: skip
        if value:
            where.append(column == value)
    return where


def counts(filters: HistoryFilters, delivered_within: int, ready_within: int, now: datetime, groups: tuple) -> dict:
    """{group key tuple: {Counts field: int}} for the selection, grouped by `groups` (names of GROUPS)."""
    keys = [GROUPS[name][0].label(f"k{i}") for i, name in enumerate(groups)]
    sums = [func.sum(getattr(SlaDay, name)).label(name) for name in ROLLUP_SUMS]
    failed = func.sum(case((SlaDay.status == "failed", SlaDay.total), else_=0)).label("failed")
    pending = func.sum(case((SlaDay.status.in_(PENDING_STATUSES), SlaDay.total), else_=0)).label("pending")
    # A handoff that moved on (another status or failure code) leaves its old row at zero: a group
    # of such rows only is not in the selection, as the row scan would not list it.
    statement = (
        select(*keys, *sums, failed, pending)
        .where(*_rollup_conditions(filters))
        .group_by(*keys)
        .having(func.sum(SlaDay.total) > 0)
    )
    found = {}
    for row in db.session.execute(statement):
        mapping = row._mapping
        key = _key(mapping[f"k{i}"] for i in range(len(groups)))
        found[key] = {name: int(mapping[name] or 0) for name in (*ROLLUP_SUMS, "failed", "pending")}
    overdue = now - timedelta(seconds=delivered_within)
    late = _row_counts(filters, groups, Handoff.accepted_to_delivered_s > delivered_within)
    slow = _row_counts(filters, groups, Handoff.ready_to_accepted_s > ready_within)
    # Undelivered, but accepted less than the target ago: not (yet) a breach.
    # The planners took the created_at range of the selection instead of the last minutes'
    # acceptances (SQLite: a month of rows, 30 ms warm and 460 cold at a million handoffs): the
    # ids of those few come first, from ix_handoffs_accepted_at.
    accepted_lately = select(Handoff.id).where(
        Handoff.accepted_at >= overdue, Handoff.delivered_at.is_(None), Handoff.read_at.is_(None)
    )
    recent = _row_counts(filters, groups, Handoff.id.in_(accepted_lately))
    for key, figures in found.items():
        undelivered = figures.pop("undelivered")
        figures["delivery_breaches"] = late.get(key, 0) + undelivered - recent.get(key, 0)
        figures["ready_breaches"] = slow.get(key, 0)
    return found


def _key(values) -> tuple:
    return tuple(_as_date(value) for value in values)


def _as_date(value):
    # SQLite's date() gives text; the rollup's Date column and PostgreSQL's date() a date.
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        return datetime.fromisoformat(value).date()
    return value


def _row_counts(filters: HistoryFilters, groups: tuple, *condition) -> dict:
    """{group key: n} of the selected handoffs meeting `condition` (an index range: few rows)."""
    keys = [GROUPS[name][1].label(f"k{i}") for i, name in enumerate(groups)]
    statement = select(*keys, func.count()).where(*conditions(filters), *condition).group_by(*keys)
    return {_key(row[:-1]): row[-1] for row in db.session.execute(statement)}


def failed_by_reason(filters: HistoryFilters) -> list[tuple[str, int]]:
    """Failures per failure code, most frequent first, from the rollup."""
    n = func.sum(SlaDay.total)
    statement = (
        select(SlaDay.failure_code, n)
        .where(*_rollup_conditions(filters), SlaDay.status == "failed")
        .group_by(SlaDay.failure_code)
        .having(n > 0)
        .order_by(n.desc(), SlaDay.failure_code)
    )
    return [(code or "unspecified", int(count)) for code, count in db.session.execute(statement)]


def histograms(filters: HistoryFilters) -> dict:
    """{duration column: {bucket: n}} over the selected days."""
    statement = (
        select(SlaDurationDay.span, SlaDurationDay.bucket, func.sum(SlaDurationDay.n))
        .where(*_day_conditions(filters, SlaDurationDay.day))
        .group_by(SlaDurationDay.span, SlaDurationDay.bucket)
    )
    spans = {span: column for column, span in DURATION_INTERVALS.items()}
    found: dict = {column: {} for column in DURATION_INTERVALS}
    for span, bucket, n in db.session.execute(statement):
        if n:
            found[spans[span]][bucket] = int(n)
    return found


def value_at(filters: HistoryFilters, column: str, histogram: dict, rank: int) -> float:
    """The value at 1-based `rank` in ascending order: its bucket from the histogram, then that
    bucket's rows read in order from the (duration, created_at) index."""
    below = 0
    for bucket in sorted(histogram):
        if below + histogram[bucket] >= rank:
            return _read_in_bucket(filters, getattr(Handoff, column), bucket, rank - below - 1)
        below += histogram[bucket]
    raise LookupError(f"rank {rank} of {below} values")  # the histogram and the counts disagree


def _read_in_bucket(filters: HistoryFilters, column, bucket: int, offset: int) -> float:
    statement = (
        select(column)
        .where(*_bucket_range(column, bucket), *conditions(filters))
        .order_by(column)
        .limit(1)
        .offset(offset)
    )
    return float(db.session.scalar(statement))


def _bucket_range(column, bucket: int) -> list:
    low, high = bucket_bounds(bucket)
    where = [column.is_not(None)]
    if low is not None:
        where.append(column >= low)
    if high is not None:
        where.append(column < high)
    return where


def count_below(filters: HistoryFilters, column: str, histogram: dict, edge: float) -> int:
    """How many values are below `edge`: whole buckets from the histogram, the bucket the edge
    falls inside counted from its rows."""
    inside = duration_bucket(edge)
    whole = sum(n for bucket, n in histogram.items() if bucket < inside)
    low, _ = bucket_bounds(inside)
    if low == edge or not histogram.get(inside):
        return whole
    attribute = getattr(Handoff, column)
    partial = select(func.count()).where(*_bucket_range(attribute, inside), attribute < edge, *conditions(filters))
    return whole + int(db.session.scalar(partial))
