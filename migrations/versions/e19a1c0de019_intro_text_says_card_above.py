"""the saved default introduction says the card is above: the card now goes first

Revision ID: e19a1c0de019
Revises: f20a1c0de020
Create Date: 2026-11-30 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "e19a1c0de019"
down_revision = "f20a1c0de020"
branch_labels = None
depends_on = None

OLD_DEFAULT = "Please reach our specialist using the contact card below."
NEW_DEFAULT = "Please reach our specialist using the contact card above."
settings = sa.table("app_settings", sa.column("key", sa.String), sa.column("value", sa.JSON))


def _replace(old: str, new: str) -> None:
    # Only the untouched old default: an admin's own wording is theirs to change.
    connection = op.get_bind()
    saved = connection.execute(sa.select(settings.c.value).where(settings.c.key == "intro_text")).scalar()
    if saved == old:
        connection.execute(settings.update().where(settings.c.key == "intro_text").values(value=new))


def upgrade():
    _replace(OLD_DEFAULT, NEW_DEFAULT)


def downgrade():
    _replace(NEW_DEFAULT, OLD_DEFAULT)
