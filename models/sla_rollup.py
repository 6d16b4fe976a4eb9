"""Per-day SLA rollups of the handoffs, kept by database triggers (migration f26a1c0de026).

Every insert or update of a handoff adds its contribution to its day's rows and takes back the
old one, in the same statement, whoever writes it (the send, the status applier, reconciliation,
the seeding, tests): the figures for a month or for all time are sums over these rows instead of a
pass over every handoff. A "day" is the UTC date of created_at, as the history filters bound
dates (services/history.py conditions). The counts do not depend on the configured targets or
on "now": breaches are counted from the duration indexes (services/sla_rollup.py).
"""

from datetime import date

from sqlalchemy import SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db

# Duration histogram buckets: (upper bound of a region in seconds, bucket width). Widths are powers
# of two, so floor(d / width) is exact on every database and in Python, and a bucket's bounds
# are exact multiples of its width. Bucket 0 holds negative durations (clocks disagree), the
# last one everything from 262,144 s (about 3 days) on.
DURATION_REGIONS = ((64, 0.25), (1024, 8), (16384, 128), (262144, 2048))
# The histogram's span numbers: the stored duration columns of models/handoff.py.
DURATION_INTERVALS = {"ready_to_accepted_s": 0, "accepted_to_delivered_s": 1, "accepted_to_read_s": 2}


def _regions():
    """(first bucket, lower bound, upper bound, width) of each region."""
    first, lower = 1, 0
    for upper, width in DURATION_REGIONS:
        yield first, lower, upper, width
        first, lower = first + int((upper - lower) / width), upper


LAST_BUCKET = 1 + sum(int((upper - lower) / width) for _, lower, upper, width in _regions())


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a duration (the triggers compute the same in SQL)."""
    if seconds < 0:
        return 0
    for first, lower, upper, width in _regions():
        if seconds < upper:
            return first + int(seconds // width) - int(lower / width)
    return LAST_BUCKET


def bucket_bounds(bucket: int) -> tuple[float | None, float | None]:
    """[low, high) of a bucket; None where it is open."""
    if bucket == 0:
        return None, 0.0
    if bucket == LAST_BUCKET:
        return float(DURATION_REGIONS[-1][0]), None
    for first, lower, upper, width in _regions():
        if bucket < first + int((upper - lower) / width):
            low = lower + (bucket - first) * width
            return float(low), float(low + width)
    raise ValueError(bucket)


class SlaDay(db.Model):
    """Handoffs created on one UTC day, per agent, specialist, status and failure code."""

    __tablename__ = "sla_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 0: the helpdesk API
    specialist_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(10), primary_key=True)
    failure_code: Mapped[str] = mapped_column(String(40), primary_key=True)  # '': none
    total: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    read: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    timed_ready: Mapped[int] = mapped_column(default=0)
    timed_delivery: Mapped[int] = mapped_column(default=0)
    timed_read: Mapped[int] = mapped_column(default=0)
    # Accepted and neither delivered nor read: a breach once the target has passed (a live count
    # of the recent ones is taken off at read time).
    undelivered: Mapped[int] = mapped_column(default=0)
    off_hours: Mapped[int] = mapped_column(default=0)
    over_capacity: Mapped[int] = mapped_column(default=0)


class SlaDurationDay(db.Model):
    """How many handoffs created on one UTC day have a duration in each histogram bucket."""

    __tablename__ = "sla_duration_days"

    span: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)
