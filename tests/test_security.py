"""CSRF, the production secret check, cookies and security headers."""
import pytest

from app import InsecureConfiguration, create_app
from config import Config, DEFAULT_SECRET_KEY


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
        login = client.post("/login", data={"email": user.email, "password": "correct-horse-battery",
                                            "csrf_token": token})
        assert login.status_code == 302
        ok = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
        assert ok.status_code == 302


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, ""])
def test_production_refuses_the_default_secret(secret):
    settings = {"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    with pytest.raises(InsecureConfiguration, match="SECRET_KEY"):
        create_app(type("Prod", (Config,), settings))


def test_production_starts_with_a_real_secret():
    app = create_app(type("Prod", (Config,), {"SECRET_KEY": "s" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


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


REAL_1MSG = {"SECRET_KEY": "s" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://", "ONEMSG_API_URL": "https://api.1msg.example",
             "ONEMSG_TOKEN": "a-real-token", "ONEMSG_CHANNEL_ID": "371267300", "ONEMSG_WEBHOOK_SECRET": "w" * 40}


@pytest.mark.parametrize("override, message", [
    ({"ONEMSG_TOKEN": ""}, "ONEMSG_TOKEN"),
    ({"ONEMSG_WEBHOOK_SECRET": ""}, "ONEMSG_WEBHOOK_SECRET must be at least 32"),
    ({"ONEMSG_WEBHOOK_SECRET": "short-secret"}, "ONEMSG_WEBHOOK_SECRET must be at least 32"),
    ({"ONEMSG_WEBHOOK_SECRET_PREVIOUS": "old"}, "ONEMSG_WEBHOOK_SECRET_PREVIOUS must be at least 32"),
])
def test_production_with_real_1msg_refuses_weak_channel_settings(override, message):
    with pytest.raises(InsecureConfiguration, match=message):
        create_app(type("Prod", (Config,), {**REAL_1MSG, **override}))


def test_production_with_real_1msg_starts_with_good_settings():
    app = create_app(type("Prod", (Config,), REAL_1MSG))
    assert app.config["ONEMSG_API_URL"] == "https://api.1msg.example"
