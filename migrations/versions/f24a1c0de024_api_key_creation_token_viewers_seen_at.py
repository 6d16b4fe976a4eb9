"""api_keys.creation_token (one key per form) and an index on ticket_viewers.seen_at

Two copies of one new-key form sent at once both passed the session's one-time-token check and
made two keys; the hashed token is now stored on the key, unique, so only one insert commits.
Pruning ticket_viewers deletes by seen_at alone, which the (ticket_id, seen_at) index cannot
serve: without an index of its own every pass scanned the table.

Revision ID: f24a1c0de024
Revises: d15a1c0de023
Create Date: 2026-11-30 21:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f24a1c0de024"
down_revision = "d15a1c0de023"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("creation_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_api_keys_creation_token"), ["creation_token"])
    op.create_index("ix_ticket_viewers_seen_at", "ticket_viewers", ["seen_at"])


def downgrade():
    op.drop_index("ix_ticket_viewers_seen_at", table_name="ticket_viewers")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_keys_creation_token"), type_="unique")
        batch_op.drop_column("creation_token")
