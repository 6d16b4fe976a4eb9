"""Login, logout, sessions that end, throttling and password storage."""

from sqlalchemy import select

from models import AuditEntry, User, db
from tests.conftest import DEFAULT_PASSWORD


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Log in" in response.data


def test_login_and_logout(client, make_user):
    user = make_user(role="agent")
    response = client.post("/login", data={"email": user.email.upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get("/tickets/").status_code == 200
    client.post("/logout")
    assert client.get("/tickets/").status_code == 302


def test_wrong_password_gets_a_clear_message(client, make_user):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": "wrong-password"})
    assert response.status_code == 401
    assert b"Wrong email or password" in response.data
    assert client.get("/tickets/").status_code == 302


def test_unknown_email_gets_the_same_message(client):
    response = client.post("/login", data={"email": "nobody@example.com", "password": "whatever-it-is"})
    assert response.status_code == 401
    assert b"Wrong email or password" in response.data


def test_missing_fields_are_named(client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    assert b"Enter your email." in response.data
    assert b"Enter your password." in response.data


def test_login_is_audited(client, make_user, app):
    user = make_user()
    client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    client.post("/logout")
    client.post("/login", data={"email": user.email, "password": "bad-password!"})
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "user.login" in actions and "user.login_failed" in actions


def test_deactivated_user_is_logged_out(client, auth, app):
    user = auth.login("agent")
    assert client.get("/tickets/").status_code == 200
    admin = User(email="boss@example.com", name="Boss", role="admin", password_hash="x")
    db.session.add(admin)
    from services.users import update_user

    update_user(db.session.get(User, user.id), name=user.name, role="agent", active=False, actor=admin)
    db.session.commit()
    response = client.get("/tickets/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions(app, make_user):
    user = make_user()
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        assert c.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 302
    response = first.post(
        "/account/password", data={"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-secret"}
    )
    assert response.status_code == 302
    assert first.get("/tickets/").status_code == 200, "the session that changed it stays"
    assert second.get("/tickets/").status_code == 302, "the other session ended"


def test_password_is_never_stored_in_clear(make_user, app):
    user = make_user(password="my-very-own-password")
    stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert "my-very-own-password" not in stored
    assert stored.startswith("$argon2id$")


def test_production_hash_parameters(make_app):
    """Production cost: argon2id with 64 MiB of memory."""
    from services.passwords import hash_password

    app = make_app(PASSWORD_HASH_MEMORY_KIB=65536)
    with app.app_context():
        assert hash_password("a-password-here").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_next_parameter_cannot_leave_the_site(client, make_user):
    user = make_user()
    response = client.post(
        "/login?next=https://evil.example/x", data={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/"
