"""handoffs keep their SLA durations in seconds (ready→accepted, accepted→delivered, accepted→read)

Written by every writer in the statement that sets the timestamps, so the SLA figures read
numbers from an index instead of parsing timestamps of every row (docs/PERFORMANCE.md, issue 17).
Plain columns, not generated ones: SQLite adds those only as VIRTUAL (not read from an index)
or by rebuilding the table. ADD COLUMN leaves the table as it is; the backfill then updates the
accepted rows in ranges of ids, so no statement holds the table for long.

Revision ID: f25a1c0de025
Revises: f24a1c0de024
Create Date: 2026-11-30 23:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f25a1c0de025"
down_revision = "f24a1c0de024"
branch_labels = None
depends_on = None

DURATIONS = {
    "ready_to_accepted_s": ("ready_at", "accepted_at"),
    "accepted_to_delivered_s": ("accepted_at", "COALESCE(delivered_at, read_at)"),
    "accepted_to_read_s": ("accepted_at", "read_at"),
}
OLD_COVER = ["created_at", "status", "agent_id", "specialist_id", "failure_code", "ready_at", "accepted_at",
             "delivered_at", "read_at", "unavailable_reason"]  # fmt: skip
NEW_COVER = ["created_at", "status", "agent_id", "specialist_id", "failure_code", "accepted_at", "delivered_at",
             "read_at", "unavailable_reason", *DURATIONS]  # fmt: skip
BATCH = 50_000  # ids per UPDATE


def _seconds(dialect: str, start: str, end: str) -> str:
    # The same expressions as services/durations.py's seconds_between.
    if dialect == "postgresql":
        return f"date_part('epoch', {end} - {start})"
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _backfill() -> None:
    bind = op.get_bind()
    sets = ", ".join(f"{column} = {_seconds(bind.dialect.name, *ends)}" for column, ends in DURATIONS.items())
    last = bind.execute(sa.text("SELECT MAX(id) FROM handoffs")).scalar() or 0
    statement = sa.text(
        f"UPDATE handoffs SET {sets} WHERE id > :low AND id <= :high AND accepted_at IS NOT NULL"  # nosec B608
    )
    for low in range(0, last, BATCH):
        bind.execute(statement, {"low": low, "high": low + BATCH})


def upgrade():
    for column in DURATIONS:
        op.add_column("handoffs", sa.Column(column, sa.Double(), nullable=True))
    _backfill()
    op.drop_index("ix_handoffs_sla_cover", table_name="handoffs")
    op.create_index("ix_handoffs_sla_cover", "handoffs", NEW_COVER)
    for column in DURATIONS:
        op.create_index(f"ix_handoffs_{column}", "handoffs", [column, "created_at"])


def downgrade():
    for column in DURATIONS:
        op.drop_index(f"ix_handoffs_{column}", table_name="handoffs")
    op.drop_index("ix_handoffs_sla_cover", table_name="handoffs")
    op.create_index("ix_handoffs_sla_cover", "handoffs", OLD_COVER)
    with op.batch_alter_table("handoffs") as batch_op:
        for column in DURATIONS:
            batch_op.drop_column(column)
