"""customer links (@lid users and their phone); handoffs.unconfirmed_at

Revision ID: e13a1c0de013
Revises: d7a1c0de0007
Create Date: 2026-11-30 14:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "e13a1c0de013"
down_revision = "d7a1c0de0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bsuid", sa.String(length=128), nullable=False),
        sa.Column("customer_phone", sa.String(length=16), nullable=True),
        sa.Column("last_message_id", sa.String(length=128), nullable=True),
        sa.Column("last_message_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_links")),
        sa.UniqueConstraint("bsuid", name=op.f("uq_customer_links_bsuid")),
    )
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unconfirmed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_column("unconfirmed_at")
    op.drop_table("customer_links")
