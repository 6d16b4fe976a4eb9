"""the SLA covering index also holds unavailable_reason, so the off-hours column is read from it

Revision ID: f21a1c0de021
Revises: e19a1c0de019
Create Date: 2026-11-30 16:45:00

"""

from alembic import op

revision = "f21a1c0de021"
down_revision = "e19a1c0de019"
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
    op.drop_index("ix_handoffs_sla_cover", table_name="handoffs")
    op.create_index("ix_handoffs_sla_cover", "handoffs", SLA_COLUMNS + ["unavailable_reason"])


def downgrade():
    op.drop_index("ix_handoffs_sla_cover", table_name="handoffs")
    op.create_index("ix_handoffs_sla_cover", "handoffs", SLA_COLUMNS)
