"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import db


def test_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "run `flask db migrate` and commit the migration"


def test_one_head_only(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_the_untouched_old_introduction_is_reworded_for_the_card_first(app):
    """The card now goes before the introduction, so the old default's "card below" was wrong."""
    import os

    from flask_migrate import downgrade, upgrade

    from models import AppSetting

    directory = os.path.join(app.root_path, "migrations")
    old = "Please reach our specialist using the contact card below."
    for saved, expected in [
        (old, "Please reach our specialist using the contact card above."),
        ("Our expert's card is below.", "Our expert's card is below."),
    ]:
        db.session.commit()  # the migration writes on a connection of its own (SQLite's lock)
        downgrade(directory=directory, revision="e19a1c0de019-1")
        db.session.merge(AppSetting(key="intro_text", value=saved))
        db.session.commit()
        upgrade(directory=directory)
        db.session.expire_all()
        assert db.session.get(AppSetting, "intro_text").value == expected


def _later(rng, start, most: float):
    """Sometimes a time up to `most` seconds after `start` (or a second before: clocks disagree)."""
    from datetime import timedelta

    return start + timedelta(seconds=rng.uniform(-1, most)) if start and rng.random() < 0.7 else None


def test_existing_handoffs_get_their_durations_and_rollups(app, make_ticket, make_specialist):
    """Upgrading a database that has handoffs: the stored durations and the SLA rollups are filled
    in for them (f25's backfill by ranges of ids, f26's INSERT ... SELECT), as the writers and the
    triggers would have."""
    import os
    import random
    from datetime import datetime, timedelta

    from flask_migrate import downgrade, upgrade

    from models import Handoff
    from tests.test_sla_exact import _assert_rollups, _assert_stored_durations

    directory = os.path.join(app.root_path, "migrations")
    ticket, specialist, rng = make_ticket(), make_specialist(), random.Random(7)
    db.session.commit()
    downgrade(directory=directory, revision="f24a1c0de024")
    rows = []
    for n in range(60):
        created = datetime(2024, 5, 1) + timedelta(hours=rng.uniform(0, 24 * 20))
        accepted = created + timedelta(seconds=rng.uniform(0, 3)) if rng.random() < 0.8 else None
        rows.append(
            dict(
                ticket_id=ticket.id,
                specialist_id=specialist.id,
                idempotency_key=f"migrated-{n}",
                customer_phone=ticket.customer_phone,
                card_snapshot={},
                created_at=created,
                status=rng.choice(("accepted", "delivered", "read", "failed")) if accepted else "failed",
                ready_at=created - timedelta(seconds=rng.uniform(0, 2000)) if rng.random() < 0.8 else None,
                accepted_at=accepted,
                delivered_at=_later(rng, accepted, 400),
                read_at=_later(rng, accepted, 300_000),
                failure_code=rng.choice((None, "window_closed")),
            )
        )
    # Core, with only the columns the old schema has (the model already knows the new ones).
    db.session.execute(Handoff.__table__.insert(), rows)
    db.session.commit()
    upgrade(directory=directory)
    db.session.expire_all()
    handoffs = db.session.scalars(db.select(Handoff)).all()
    assert len(handoffs) == 60 and any(h.accepted_to_read_s for h in handoffs)
    _assert_stored_durations(handoffs)
    _assert_rollups(handoffs)
