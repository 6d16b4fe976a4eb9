"""webhook bodies are stored first and applied later: applied_at and the pending index

Revision ID: e15a1c0de015
Revises: e14a1c0de014
Create Date: 2026-11-30 13:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "e15a1c0de015"
down_revision = "e14a1c0de014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_at", sa.DateTime(), nullable=True))
    # Bodies stored before this revision were applied in their own request.
    op.execute("UPDATE webhook_events SET applied_at = received_at")
    op.create_index(
        "ix_webhook_events_pending",
        "webhook_events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("applied_at IS NULL"),
        sqlite_where=sa.text("applied_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_webhook_events_pending", table_name="webhook_events")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_column("applied_at")
