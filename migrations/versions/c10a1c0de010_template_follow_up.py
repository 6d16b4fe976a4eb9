"""template handoffs can send the card automatically once the customer answers

Revision ID: c10a1c0de010
Revises: b6a1c0de0006
Create Date: 2026-11-25 21:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "c10a1c0de010"
down_revision = "b6a1c0de0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_on_reply", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("follow_up_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_handoffs_follow_up_id_handoffs"), "handoffs", ["follow_up_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_handoffs_follow_up_id_handoffs"), type_="foreignkey")
        batch_op.drop_column("follow_up_id")
        batch_op.drop_column("card_on_reply")
