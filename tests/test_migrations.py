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
