"""per-day SLA rollups (sla_days, sla_duration_days) kept by triggers on handoffs

Any period's SLA counts become sums over a few rows per day, and the duration histograms place
each percentile's rank in one bucket (services/sla_rollup.py). Triggers, not the writers: every
path that inserts or updates a handoff (send, status applier, reconciliation, seeding, tests)
keeps the rollups exact in its own statement. SQLite: row triggers. PostgreSQL: statement
triggers over the transition tables, each statement's changes summed per key and upserted in key
order, so two appliers writing the same days take the rollup rows' locks in the same order.
Handoffs are never deleted, so there is no DELETE trigger.

Revision ID: f26a1c0de026
Revises: f25a1c0de025
Create Date: 2026-11-30 23:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f26a1c0de026"
down_revision = "f25a1c0de025"
branch_labels = None
depends_on = None

KEY = ("day", "agent_id", "specialist_id", "status", "failure_code")
# The same regions as models/sla_rollup.py DURATION_REGIONS.
REGIONS = ((64, 0.25), (1024, 8), (16384, 128), (262144, 2048))
DURATIONS = ("ready_to_accepted_s", "accepted_to_delivered_s", "accepted_to_read_s")


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _day(dialect: str, row: str) -> str:
    return f"CAST({row}.created_at AS date)" if dialect == "postgresql" else f"date({row}.created_at)"


def _counts(dialect: str, row: str) -> dict:
    """{sla_days column: its value for one handoff `row`}."""
    delivered = f"({row}.delivered_at IS NOT NULL OR {row}.read_at IS NOT NULL)"
    return {
        "day": _day(dialect, row),
        "agent_id": f"COALESCE({row}.agent_id, 0)",
        "specialist_id": f"{row}.specialist_id",
        "status": f"{row}.status",
        "failure_code": f"COALESCE({row}.failure_code, '')",
        "total": "1",
        "delivered": _flag(delivered),
        "read": _flag(f"{row}.read_at IS NOT NULL"),
        "accepted": _flag(f"{row}.accepted_at IS NOT NULL"),
        "timed_ready": _flag(f"{row}.ready_to_accepted_s IS NOT NULL"),
        "timed_delivery": _flag(f"{row}.accepted_to_delivered_s IS NOT NULL"),
        "timed_read": _flag(f"{row}.accepted_to_read_s IS NOT NULL"),
        "undelivered": _flag(f"{row}.accepted_at IS NOT NULL AND NOT {delivered}"),
        "off_hours": _flag(f"{row}.unavailable_reason IN ('off_hours', 'on_leave')"),
        "over_capacity": _flag(f"{row}.unavailable_reason = 'over_capacity'"),
    }


VALUES = [column for column in _counts("sqlite", "r") if column not in KEY]


def _bucket(dialect: str, value: str) -> str:
    """models/sla_rollup.py duration_bucket in SQL (widths are powers of two: exact)."""
    floor = (
        (lambda x: f"CAST(floor({x}) AS integer)") if dialect == "postgresql" else (lambda x: f"CAST({x} AS INTEGER)")
    )
    parts, first, lower = [f"WHEN {value} < 0 THEN 0"], 1, 0
    for upper, width in REGIONS:
        parts.append(f"WHEN {value} < {upper} THEN {first - int(lower / width)} + {floor(f'{value} / {width}')}")
        first, lower = first + int((upper - lower) / width), upper
    return f"CASE {' '.join(parts)} ELSE {first} END"


def _contributions(dialect: str, row: str, source: str, sign: int) -> tuple[str, str]:
    """SELECTs of one side's contributions (sign +1 new, -1 old) to sla_days and sla_duration_days."""
    counts = _counts(dialect, row)
    days = (
        "SELECT "
        + ", ".join(
            f"{expression} AS {column}" if column in KEY else f"{sign} * {expression} AS {column}"
            for column, expression in counts.items()
        )
        + source
    )
    durations = " UNION ALL ".join(
        f"SELECT {i} AS span, {_day(dialect, row)} AS day, {_bucket(dialect, f'{row}.{column}')} AS bucket, "
        f"{sign} AS n{source} {'AND' if 'WHERE' in source else 'WHERE'} {row}.{column} IS NOT NULL"
        for i, column in enumerate(DURATIONS)
    )
    return days, durations


def _upserts(parts: list[tuple[str, str]]) -> list[str]:
    """INSERT ... SELECT the summed contributions per key, in key order, adding to what is there."""
    days = " UNION ALL ".join(part[0] for part in parts)
    durations = " UNION ALL ".join(part[1] for part in parts)
    sums = ", ".join(f"SUM({column})" for column in VALUES)
    keys = ", ".join(KEY)
    return [
        f"INSERT INTO sla_days ({keys}, {', '.join(VALUES)}) SELECT {keys}, {sums} FROM ({days}) AS c "
        f"GROUP BY {keys} HAVING {' OR '.join(f'SUM({column}) <> 0' for column in VALUES)} ORDER BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET "
        + ", ".join(f"{column} = sla_days.{column} + excluded.{column}" for column in VALUES),
        f"INSERT INTO sla_duration_days (span, day, bucket, n) SELECT span, day, bucket, SUM(n) "
        f"FROM ({durations}) AS c GROUP BY span, day, bucket HAVING SUM(n) <> 0 ORDER BY span, day, bucket "
        f"ON CONFLICT (span, day, bucket) DO UPDATE SET n = sla_duration_days.n + excluded.n",
    ]


def _sqlite_triggers() -> list[str]:
    watched = ", ".join(["created_at", "agent_id", "specialist_id", "status", "failure_code", "accepted_at",
                         "delivered_at", "read_at", "unavailable_reason", *DURATIONS])  # fmt: skip
    single = " FROM (SELECT 1) AS one"
    inserted = _upserts([_contributions("sqlite", "NEW", single, 1)])
    updated = _upserts([_contributions("sqlite", "OLD", single, -1), _contributions("sqlite", "NEW", single, 1)])
    return [
        f"CREATE TRIGGER handoffs_sla_insert AFTER INSERT ON handoffs BEGIN {'; '.join(inserted)}; END",
        f"CREATE TRIGGER handoffs_sla_update AFTER UPDATE OF {watched} ON handoffs BEGIN {'; '.join(updated)}; END",
    ]


def _postgresql_triggers() -> list[str]:
    inserted = _upserts([_contributions("postgresql", "n", " FROM new_rows AS n", 1)])
    updated = _upserts(
        [
            _contributions("postgresql", "o", " FROM old_rows AS o", -1),
            _contributions("postgresql", "n", " FROM new_rows AS n", 1),
        ]
    )
    statements = []
    for name, body, event, tables in (
        ("handoffs_sla_insert", inserted, "INSERT", "NEW TABLE AS new_rows"),
        ("handoffs_sla_update", updated, "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        statements += [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{'; '.join(body)}; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER {event} ON handoffs REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def _backfill(dialect: str) -> None:
    """The rollups of the handoffs already there: the insert trigger's statements over the table."""
    for statement in _upserts([_contributions(dialect, "h", " FROM handoffs AS h", 1)]):
        op.execute(statement)


def upgrade():
    op.create_table(
        "sla_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("specialist_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("failure_code", sa.String(length=40), nullable=False),
        *(sa.Column(column, sa.Integer(), nullable=False) for column in VALUES),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_sla_days")),
    )
    op.create_table(
        "sla_duration_days",
        sa.Column("span", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("span", "day", "bucket", name=op.f("pk_sla_duration_days")),
    )
    op.create_index("ix_handoffs_accepted_at", "handoffs", ["accepted_at"])
    dialect = op.get_bind().dialect.name
    _backfill(dialect)
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in ("handoffs_sla_insert", "handoffs_sla_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON handoffs")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        op.execute("DROP TRIGGER IF EXISTS handoffs_sla_insert")
        op.execute("DROP TRIGGER IF EXISTS handoffs_sla_update")
    op.drop_index("ix_handoffs_accepted_at", table_name="handoffs")
    op.drop_table("sla_duration_days")
    op.drop_table("sla_days")
