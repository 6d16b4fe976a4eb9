"""specialist availability: time zone, weekly hours, languages, daily capacity, absences;
the ticket's customer language; the reason a handoff went to an unavailable specialist

Revision ID: f20a1c0de020
Revises: e16a5e550002
Create Date: 2026-11-30 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f20a1c0de020"
down_revision = "e16a5e550002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("specialists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("working_hours", sa.String(length=300), server_default="", nullable=False))
        batch_op.add_column(sa.Column("languages", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("daily_capacity", sa.Integer(), nullable=True))
        batch_op.create_check_constraint("daily_capacity", "daily_capacity IS NULL OR daily_capacity >= 1")
    op.create_table(
        "specialist_absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("stand_in_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_specialist_absences_dates_in_order")),
        sa.CheckConstraint(
            "stand_in_id IS NULL OR stand_in_id <> specialist_id", name=op.f("ck_specialist_absences_stand_in_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["specialist_id"], ["specialists.id"], name=op.f("fk_specialist_absences_specialist_id_specialists")
        ),
        sa.ForeignKeyConstraint(
            ["stand_in_id"], ["specialists.id"], name=op.f("fk_specialist_absences_stand_in_id_specialists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specialist_absences")),
    )
    op.create_index(op.f("ix_specialist_absences_specialist_id"), "specialist_absences", ["specialist_id"])
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=35), nullable=True))
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unavailable_reason", sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            "unavailable_reason",
            "unavailable_reason IS NULL OR unavailable_reason IN ('off_hours', 'on_leave', 'over_capacity')",
        )


def downgrade():
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_constraint("ck_handoffs_unavailable_reason", type_="check")
        batch_op.drop_column("unavailable_reason")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("language")
    op.drop_index(op.f("ix_specialist_absences_specialist_id"), table_name="specialist_absences")
    op.drop_table("specialist_absences")
    with op.batch_alter_table("specialists", schema=None) as batch_op:
        batch_op.drop_constraint("ck_specialists_daily_capacity", type_="check")
        batch_op.drop_column("daily_capacity")
        batch_op.drop_column("languages")
        batch_op.drop_column("working_hours")
        batch_op.drop_column("time_zone")
