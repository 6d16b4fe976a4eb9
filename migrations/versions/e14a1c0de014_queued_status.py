"""a send queued by 1MSG (jobId, no message id) has its own status

Revision ID: e14a1c0de014
Revises: e13a1c0de013
Create Date: 2026-11-30 13:50:00

"""

from alembic import op

revision = "e14a1c0de014"
down_revision = "e13a1c0de013"
branch_labels = None
depends_on = None

WITH_QUEUED = "status IN ('sending', 'unknown', 'queued', 'accepted', 'sent', 'failed', 'delivered', 'read')"
WITHOUT_QUEUED = "status IN ('sending', 'unknown', 'accepted', 'sent', 'failed', 'delivered', 'read')"


def _replace_status_check(condition: str) -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_handoffs_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_handoffs_status"), condition)


def upgrade():
    _replace_status_check(WITH_QUEUED)


def downgrade():
    op.execute("UPDATE handoffs SET status = 'unknown' WHERE status = 'queued'")
    _replace_status_check(WITHOUT_QUEUED)
