"""Health check and the command-line tasks."""

from sqlalchemy import func, select

from models import Specialist, Ticket, User, db


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(make_app):
    app = make_app(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}},
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_users_create_from_stdin(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "New@Example.com",
            "--name",
            "New Person",
            "--role",
            "lead",
            "--password-stdin",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user.role == "lead" and user.password_hash != "a-long-password"


def test_users_create_duplicate_email_is_a_clear_error(runner, make_user):
    user = make_user()
    result = runner.invoke(
        args=["users", "create", "--email", user.email, "--name", "X", "--role", "agent", "--password-stdin"],
        input="a-long-password\n",
    )
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_users_create_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["users", "create", "--email", "a@example.com", "--name", "A", "--role", "agent", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code != 0 and "at least 10" in result.output


def test_demo_seed_is_idempotent(runner, app):
    for _ in range(2):
        result = runner.invoke(args=["demo", "seed"])
        assert result.exit_code == 0, result.output
    assert "agent@example.com" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 3
    assert db.session.scalar(select(func.count()).select_from(Specialist)) >= 3
    assert db.session.scalar(select(func.count()).select_from(Ticket)) >= 3
