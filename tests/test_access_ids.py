"""Guessing ids does not open admin or lead data to agents; cookies carry their flags over HTTPS."""

import re

import pytest
from sqlalchemy import select

from models import ApiKey, Specialist, User, db
from services import api_keys
from tests.conftest import DEFAULT_PASSWORD


@pytest.fixture
def targets(make_user, make_specialist):
    admin, lead = make_user(role="admin", email="the-admin@example.com"), make_user(role="lead")
    key = api_keys.create("Helpdesk", "agent", label="test").api_key
    specialist = make_specialist(display_name="Kept Name")
    db.session.commit()
    return {"admin": admin.id, "lead": lead.id, "key": key.id, "specialist": specialist.id}


def attempts(ids):
    return [
        ("GET", f"/admin/users/{ids['admin']}", None),
        ("GET", f"/admin/users/{ids['lead']}", None),
        ("POST", f"/admin/users/{ids['admin']}", {"name": "Taken", "role": "agent", "active": ""}),
        ("POST", f"/admin/users/{ids['lead']}", {"name": "Taken", "role": "admin", "active": "y"}),
        ("POST", f"/admin/api-keys/{ids['key']}/revoke", {}),
        ("POST", f"/directory/{ids['specialist']}/edit", {"display_name": "Taken"}),
        ("GET", "/admin/outbox/", None),
        ("POST", "/admin/outbox/1/replay", {}),
        ("GET", "/history/export.csv", None),
        ("GET", "/history/audit", None),
        ("GET", "/admin/api-keys/", None),
    ]


@pytest.mark.parametrize("role, allowed_prefixes", [("agent", ()), ("lead", ("/history/",))])
def test_guessed_ids_are_refused_and_change_nothing(client, auth, targets, role, allowed_prefixes):
    auth.login(role)
    for method, path, data in attempts(targets):
        if path.startswith(allowed_prefixes):
            continue
        response = client.open(path, method=method, data=data)
        assert response.status_code == 403, (method, path, response.status_code)
        assert b"the-admin@example.com" not in response.data
    db.session.expire_all()
    admin, lead = db.session.get(User, targets["admin"]), db.session.get(User, targets["lead"])
    assert (admin.role, admin.active, lead.role) == ("admin", True, "lead")
    assert db.session.get(ApiKey, targets["key"]).revoked_at is None
    assert db.session.get(Specialist, targets["specialist"]).display_name == "Kept Name"


def test_an_id_that_exists_and_one_that_does_not_look_the_same(client, auth, targets):
    """No enumeration: an agent cannot tell which user ids exist."""
    auth.login("agent")
    existing = client.get(f"/admin/users/{targets['admin']}")
    missing = client.get("/admin/users/987654")
    assert existing.status_code == missing.status_code == 403
    assert without_csrf_token(existing.data) == without_csrf_token(missing.data)


def without_csrf_token(page: bytes) -> bytes:
    """The page's CSRF token is signed with a timestamp, so it differs from second to second
    (in the htmx header and in each form's hidden field)."""
    page = re.sub(rb'"X-CSRFToken": "[^"]*"', b"", page)
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", page)


def test_session_and_remember_cookies_are_secure_httponly_lax_over_https(make_app, make_user):
    app = make_app(SESSION_COOKIE_SECURE=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        response = client.post(
            "/login",
            base_url="https://localhost",
            data={"email": user.email, "password": DEFAULT_PASSWORD, "remember": "y"},
        )
        assert response.status_code == 302
        cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
        assert {"session", "remember_token"} <= set(cookies)
        for name in ("session", "remember_token"):
            flags = [part.strip() for part in cookies[name].split(";")]
            assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Lax" in flags, cookies[name]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert db.session.scalar(select(User.id).where(User.id == user.id))
