"""status_events: drop the two indexes no query needs, so the applier's bulk writes cost less

`ix_status_events_message_id` repeats the leading column of the unique (message_id, status)
index, which serves every lookup by message id; `ix_status_events_applied` indexes a boolean
that every query narrows by message id, received time or id first. Each row the applier
inserts wrote both, and its "applied" UPDATE could not be a heap-only update.

Revision ID: f22a1c0de022
Revises: a18b0e5e0001
Create Date: 2026-11-30 17:25:00

"""

from alembic import op

revision = "f22a1c0de022"
down_revision = "a18b0e5e0001"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_status_events_applied", table_name="status_events")
    op.drop_index("ix_status_events_message_id", table_name="status_events")


def downgrade():
    op.create_index("ix_status_events_message_id", "status_events", ["message_id"])
    op.create_index("ix_status_events_applied", "status_events", ["applied"])
