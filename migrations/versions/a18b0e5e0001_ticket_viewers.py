"""ticket_viewers: who has a ticket open now (the ticket page's poll moves seen_at on)

Revision ID: a18b0e5e0001
Revises: f21a1c0de021
Create Date: 2026-11-30 16:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a18b0e5e0001"
down_revision = "f21a1c0de021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ticket_viewers",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ticket_viewers_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_viewers_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "ticket_id", name=op.f("pk_ticket_viewers")),
    )
    op.create_index("ix_ticket_viewers_ticket_seen", "ticket_viewers", ["ticket_id", "seen_at"])


def downgrade():
    op.drop_index("ix_ticket_viewers_ticket_seen", table_name="ticket_viewers")
    op.drop_table("ticket_viewers")
