"""CSRF, the production refusals, cookies and security headers."""

import secrets

import pytest

from app import InsecureConfiguration, create_app
from config import DEFAULT_SECRET_KEY, Config


def test_post_without_csrf_token_is_refused(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        response = client.post("/login", data={"email": user.email, "password": "x" * 12})
        assert response.status_code == 400
        assert b"form expired" in response.data


def test_htmx_post_needs_the_csrf_header(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('"X-CSRFToken": "')[1].split('"')[0]
        no_header = client.post("/logout", headers={"HX-Request": "true"})
        assert no_header.status_code == 400
        login = client.post(
            "/login", data={"email": user.email, "password": "correct-horse-battery", "csrf_token": token}
        )
        assert login.status_code == 302
        token = _csrf_token(client.get("/tickets/").get_data(as_text=True))
        ok = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
        assert ok.status_code == 302


def _csrf_token(page: str) -> str:
    return page.split('"X-CSRFToken": "')[1].split('"')[0]


def test_login_renews_the_csrf_token_and_the_session(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        before = _csrf_token(client.get("/login").get_data(as_text=True))
        with client.session_transaction() as session:
            session["planted"] = "by an attacker before the login"
        assert (
            client.post(
                "/login", data={"email": user.email, "password": "correct-horse-battery", "csrf_token": before}
            ).status_code
            == 302
        )
        after = _csrf_token(client.get("/tickets/").get_data(as_text=True))
        assert after != before
        with client.session_transaction() as session:
            assert "planted" not in session, "nothing from before the login is carried over"
        stale = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": before})
        assert stale.status_code == 400, "the token from before the login no longer works"
        assert client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": after}).status_code == 302


GOOD_SECRET = "3f9a1c7e5b2d8f40a6c1e9b7d3f5a2c8e0b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1"
PRODUCTION = {"SECRET_KEY": GOOD_SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://", "ONEMSG_EMULATED": True}


def production(**overrides):
    return type("Prod", (Config,), {**PRODUCTION, **overrides})


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "", "x"])
def test_production_refuses_the_default_secret(secret):
    with pytest.raises(InsecureConfiguration, match="SECRET_KEY"):
        create_app(production(SECRET_KEY=secret))


@pytest.mark.parametrize(
    "secret, why",
    [
        ("x", "too weak"),
        ("correct-horse-battery-staple", "too weak"),
        (secrets.token_hex(16), "too weak"),  # 16 random bytes: 128 bits
        (secrets.token_urlsafe(24), "too weak"),  # 24 random bytes
        ("s" * 64, "repeated or low-variety"),
        ("ab" * 40, "repeated or low-variety"),
        ("0123456789abcdef" * 4, "repeated or low-variety"),
    ],
)
def test_production_refuses_a_secret_key_under_32_random_bytes(secret, why):
    with pytest.raises(InsecureConfiguration, match=why):
        create_app(production(SECRET_KEY=secret))


@pytest.mark.parametrize(
    "secret", [secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_hex(32).upper(), GOOD_SECRET]
)
def test_production_starts_with_32_random_bytes(secret):
    app = create_app(production(SECRET_KEY=secret))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_refuses_debug_mode(monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(InsecureConfiguration, match="Debug mode is on"):
        create_app(production())


def test_production_refuses_to_guess_between_the_real_1msg_and_the_emulator():
    with pytest.raises(InsecureConfiguration, match="ONEMSG_EMULATED=1"):
        create_app(production(ONEMSG_EMULATED=False))


def test_app_env_testing_is_refused_outside_the_test_suite(monkeypatch):
    """The environment of a deployment (gunicorn, flask) cannot switch CSRF and rate limits off."""
    monkeypatch.setenv("APP_ENV", "testing")
    with pytest.raises(InsecureConfiguration, match="APP_ENV=testing"):
        create_app()


def test_every_refusal_is_listed_at_once():
    with pytest.raises(InsecureConfiguration) as refused:
        create_app(production(SECRET_KEY="x", DEBUG=True, ONEMSG_EMULATED=False))
    message = str(refused.value)
    assert "SECRET_KEY" in message and "Debug mode" in message and "ONEMSG_API_URL" in message


def test_security_headers_and_vary(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]


def test_pages_carry_the_htmx_safety_config(client):
    page = client.get("/login").get_data(as_text=True)
    assert '"allowEval": false' in page and '"selfRequestsOnly": true' in page
    assert '"includeIndicatorStyles": false' in page


REAL_1MSG = {
    "SECRET_KEY": GOOD_SECRET,
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    "ONEMSG_API_URL": "https://api.1msg.example",
    "ONEMSG_TOKEN": "a-real-token",
    "ONEMSG_CHANNEL_ID": "371267300",
    "ONEMSG_WEBHOOK_SECRET": "w" * 40,
}


@pytest.mark.parametrize(
    "override, message",
    [
        ({"ONEMSG_TOKEN": ""}, "ONEMSG_TOKEN"),
        ({"ONEMSG_WEBHOOK_SECRET": ""}, "ONEMSG_WEBHOOK_SECRET must be at least 32"),
        ({"ONEMSG_WEBHOOK_SECRET": "short-secret"}, "ONEMSG_WEBHOOK_SECRET must be at least 32"),
        ({"ONEMSG_WEBHOOK_SECRET_PREVIOUS": "old"}, "ONEMSG_WEBHOOK_SECRET_PREVIOUS must be at least 32"),
    ],
)
def test_production_with_real_1msg_refuses_weak_channel_settings(override, message):
    with pytest.raises(InsecureConfiguration, match=message):
        create_app(type("Prod", (Config,), {**REAL_1MSG, **override}))


def test_production_with_real_1msg_starts_with_good_settings():
    app = create_app(type("Prod", (Config,), REAL_1MSG))
    assert app.config["ONEMSG_API_URL"] == "https://api.1msg.example"
