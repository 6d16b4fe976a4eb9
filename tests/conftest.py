"""Shared fixtures: the app on a real database, clients, an auth helper and factories.

SQLite (a temporary file) by default; PostgreSQL when TEST_DATABASE_URL is set.
"""

import contextlib
import itertools
import os
import threading
import uuid

import pytest
import requests
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from config import TestingConfig, normalise_database_url
from models import AppSetting, Base, Handoff, Specialist, Ticket, User, db, utcnow
from services import applier
from services.demo import DEMO_REOPEN_TEMPLATE
from services.passwords import hash_password
from tests.helpers import wait_until  # noqa: F401 (tests/test_webhook_race.py imports it from here)

pytest_plugins = ["tests.emulator_fixtures"]

DEFAULT_PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The test database, migrated once per session from an empty schema."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = normalise_database_url(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app({**_testing_settings(url)})
    with app.app_context():
        _drop_everything()
        upgrade(directory=os.path.join(app.root_path, "migrations"))
    return url


def _testing_settings(url: str) -> dict:
    settings = {k: getattr(TestingConfig, k) for k in dir(TestingConfig) if k.isupper()}
    settings["SQLALCHEMY_DATABASE_URI"] = url
    return settings


def _drop_everything() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


class FreshContextClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    Without this, requests would share the test's app context: its `g` (and so the
    logged-in user) and its database session would leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            # End the test's own transaction first: on SQLite it may hold the write lock.
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def make_app(database_url):
    """Build an app on the test database with extra settings; tables are emptied after."""
    apps = []

    def factory(**overrides):
        app = create_app({**_testing_settings(database_url), **overrides})
        app.test_client_class = FreshContextClient
        apps.append(app)
        return app

    yield factory
    for app in apps:
        applier.wait_idle(app)  # a webhook applied after the tables are emptied would break the next test
        with app.app_context():
            db.session.remove()
        with app.app_context():
            db.engine.dispose()
    if apps:
        cleaner = create_app(_testing_settings(database_url))
        with cleaner.app_context():
            _empty_tables()
            db.engine.dispose()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        with audit_trail_unlocked(conn):
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@contextlib.contextmanager
def audit_trail_unlocked(conn):
    """The database refuses to delete audit entries (a migration's triggers); between tests the
    schema owner lifts that inside the cleaning transaction, as a retention job would."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        yield
        conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        return
    triggers = conn.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'")
    ).all()
    for name, _ in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _, sql in triggers:
        conn.execute(text(sql))


@pytest.fixture
def app(make_app, request):
    """The app with its context pushed; pointed at the emulator when the test uses one."""
    overrides = {}
    if "emulator" in request.fixturenames:
        overrides = emulator_settings(request.getfixturevalue("emulator"))
    app = make_app(**overrides)
    with app.app_context():
        yield app


def emulator_settings(emulator) -> dict:
    return dict(
        ONEMSG_API_URL=emulator.base_url,
        ONEMSG_CHANNEL_ID=emulator.channel_id,
        ONEMSG_TOKEN=emulator.token,
        ONEMSG_READ_TIMEOUT=2.0,
        ONEMSG_CONNECT_TIMEOUT=1.0,
        ONEMSG_EMULATED=True,
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a user: make_user(role="lead", email=..., password=...)."""

    def factory(role: str = "agent", password: str = DEFAULT_PASSWORD, **overrides) -> User:
        n = next(_counter)
        user = User(
            email=overrides.pop("email", f"{role}{n}@example.com"),
            name=overrides.pop("name", f"{role.title()} {n}"),
            role=role,
            password_hash=hash_password(password),
            **overrides,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def make_specialist(app):
    def factory(**overrides) -> Specialist:
        n = next(_counter)
        fields = dict(
            display_name=f"Spec {n} Person",
            first_name=f"Spec{n}",
            last_name="Person",
            phone=f"+1202555{n % 10000:04d}",
            tags="billing",
        )
        fields.update(overrides)
        specialist = Specialist(**fields)
        db.session.add(specialist)
        db.session.commit()
        return specialist

    return factory


@pytest.fixture
def make_ticket(app):
    def factory(**overrides) -> Ticket:
        n = next(_counter)
        fields = dict(
            external_ref=f"T-{n}",
            subject=f"Subject {n}",
            customer_name=f"Customer {n}",
            customer_phone=f"+1415555{(2000 + n) % 10000:04d}",
            status="ready",
        )
        fields.update(overrides)
        ticket = Ticket(**fields)
        db.session.add(ticket)
        db.session.commit()
        return ticket

    return factory


@pytest.fixture
def make_handoff(make_ticket, make_specialist):
    """Create a handoff 1MSG has accepted (it has a message id, no status arrived yet), committed:
    make_handoff(ticket=..., specialist=..., message_id="wamid.AAA", any other column=...).
    A new ticket and specialist are made unless given."""

    def factory(ticket: Ticket | None = None, specialist: Specialist | None = None, **overrides) -> Handoff:
        ticket, specialist = ticket or make_ticket(), specialist or make_specialist()
        fields = dict(
            ticket_id=ticket.id,
            specialist_id=specialist.id,
            idempotency_key=uuid.uuid4().hex,
            customer_phone=ticket.customer_phone,
            card_snapshot={"name": {"formatted_name": specialist.display_name}},
            message_id=f"wamid.{uuid.uuid4().hex}",
            status="accepted",
            status_rank=2,
            accepted_at=utcnow(),
        )
        fields.update(overrides)
        handoff = Handoff(**fields)
        db.session.add(handoff)
        db.session.commit()
        return handoff

    return factory


@pytest.fixture
def reopen_template(app):
    """The demo's approved template set as the one that reopens a closed window."""
    db.session.add(AppSetting(key="reopen_template", value=DEMO_REOPEN_TEMPLATE))
    db.session.commit()


class AuthActions:
    """Log a test client in as a user of a role (created on demand)."""

    def __init__(self, client, make_user):
        self._client = client
        self._make_user = make_user
        self.user: User | None = None

    def login(self, role: str = "agent", user: User | None = None, password: str = DEFAULT_PASSWORD):
        self.user = user or self._make_user(role=role, password=password)
        response = self._client.post("/login", data={"email": self.user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return self.user

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client, make_user):
    return AuthActions(client, make_user)


@pytest.fixture
def emulated_app(app, emulator):
    """The app pointed at the emulator over real HTTP, with a short read timeout."""
    return app


class LiveServer:
    """The app served over real HTTP in a thread, so 1MSG's webhooks can reach it."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def webhook_url(self, app) -> str:
        return f"{self.url}/webhooks/1msg/{app.config['ONEMSG_WEBHOOK_SECRET']}"

    def session_for(self, user, password: str = DEFAULT_PASSWORD) -> requests.Session:
        """A logged-in browser-like session (CSRF is off in tests)."""
        email = user.email
        db.session.commit()  # end the read: on SQLite it holds the write lock the server needs
        session = requests.Session()
        response = session.post(
            f"{self.url}/login", data={"email": email, "password": password}, allow_redirects=False, timeout=10
        )
        assert response.status_code == 302, response.text[:300]
        return session

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_server(emulated_app, emulator):
    """The emulated app on a real port, its webhook registered with the emulator."""
    server = LiveServer(emulated_app)
    emulator.connect(server.webhook_url(emulated_app))
    yield server
    server.stop()


@pytest.fixture
def redis_url() -> str:
    """Redis for the tests that need it, with a db of their own (the app's counters use db 0).

    REDIS_URL when it is set (CI sets it: then a Redis that does not answer fails the test);
    otherwise the local server's db 15, and the test is skipped only if none is running."""
    import redis

    url = os.environ.get("REDIS_URL")
    try:
        redis.Redis.from_url(url or "redis://127.0.0.1:6379/15", socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if url:
            pytest.fail(f"REDIS_URL={url} is set but Redis does not answer: {exc}")
        pytest.skip("Redis is not running on 127.0.0.1:6379 and REDIS_URL is not set")
    return url or "redis://127.0.0.1:6379/15"
