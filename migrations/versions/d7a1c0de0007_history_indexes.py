"""indexes for the leads' history, SLA figures and audit trail at a million handoffs

Revision ID: d7a1c0de0007
Revises: c10a1c0de010
Create Date: 2026-11-25 21:10:00

"""

from alembic import op

revision = "d7a1c0de0007"
down_revision = "c10a1c0de010"
branch_labels = None
depends_on = None

SLA_COLUMNS = [
    "created_at",
    "status",
    "agent_id",
    "specialist_id",
    "failure_code",
    "ready_at",
    "accepted_at",
    "delivered_at",
    "read_at",
]


def upgrade():
    # Covers the SLA aggregates so they read the index, not the table.
    op.create_index("ix_handoffs_sla_cover", "handoffs", SLA_COLUMNS)
    op.create_index("ix_handoffs_failure_created", "handoffs", ["failure_code", "created_at"])
    op.create_index("ix_handoffs_phone_created", "handoffs", ["customer_phone", "created_at"])
    op.create_index("ix_status_events_received_id", "status_events", ["received_at", "id"])


def downgrade():
    op.drop_index("ix_status_events_received_id", table_name="status_events")
    op.drop_index("ix_handoffs_phone_created", table_name="handoffs")
    op.drop_index("ix_handoffs_failure_created", table_name="handoffs")
    op.drop_index("ix_handoffs_sla_cover", table_name="handoffs")
