"""Sessions end on the server: a cookie saved before logging out opens nothing afterwards."""

from datetime import timedelta

from sqlalchemy import select, update

from models import AuditEntry, UserSession, db, utcnow
from tests.conftest import DEFAULT_PASSWORD


def _login(client, user, remember=False):
    data = {"email": user.email, "password": DEFAULT_PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _cookie(client, name):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def test_a_session_cookie_saved_before_logout_is_refused_after_it(app, make_user):
    user = make_user()
    client = app.test_client()
    _login(client, user)
    saved = _cookie(client, "session")
    assert client.get("/tickets/").status_code == 200
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/tickets/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_remember_me_cookie_saved_before_logout_is_refused_after_it(app, make_user):
    user = make_user()
    client = app.test_client()
    _login(client, user, remember=True)
    remember = _cookie(client, "remember_token")
    assert remember
    client.post("/logout")
    assert _cookie(client, "remember_token") is None, "logout deletes the cookie in the browser"
    replay = app.test_client()
    replay.set_cookie("remember_token", remember)
    assert replay.get("/tickets/").status_code == 302


def test_the_remember_me_token_is_rotated_when_used_and_the_old_one_expires(app, make_user):
    user = make_user()
    first = app.test_client()
    _login(first, user, remember=True)
    old = _cookie(first, "remember_token")
    browser = app.test_client()  # the browser reopened: only the remember cookie is left
    browser.set_cookie("remember_token", old)
    assert browser.get("/tickets/").status_code == 200
    new = _cookie(browser, "remember_token")
    assert new and new != old, "a used remember token is replaced"
    grace = db.session.scalars(select(UserSession.expires_at).where(UserSession.user_id == user.id)).all()
    assert min(grace) <= utcnow() + timedelta(seconds=31), "the old token only lives a few seconds more"
    # After the grace period the old cookie opens nothing; the new one still does.
    db.session.execute(
        update(UserSession)
        .where(UserSession.expires_at < utcnow() + timedelta(minutes=1))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    thief = app.test_client()
    thief.set_cookie("remember_token", old)
    assert thief.get("/tickets/").status_code == 302
    reopened = app.test_client()
    reopened.set_cookie("remember_token", new)
    assert reopened.get("/tickets/").status_code == 200


def test_an_expired_session_opens_nothing(app, make_user):
    user = make_user()
    client = app.test_client()
    _login(client, user)
    db.session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/tickets/").status_code == 302


def test_log_out_everywhere_ends_every_device_of_the_user_only(app, make_user):
    user, other = make_user(), make_user()
    laptop, phone, colleague = app.test_client(), app.test_client(), app.test_client()
    _login(laptop, user)
    _login(phone, user, remember=True)
    _login(colleague, other)
    response = laptop.post("/logout/everywhere")
    assert response.status_code == 302
    assert laptop.get("/tickets/").status_code == 302
    assert phone.get("/tickets/").status_code == 302
    remembered = app.test_client()
    remembered.set_cookie("remember_token", _cookie(phone, "remember_token") or "")
    assert remembered.get("/tickets/").status_code == 302
    assert colleague.get("/tickets/").status_code == 200


def test_an_admin_logs_a_user_out_everywhere(app, make_user):
    agent, admin = make_user(), make_user(role="admin")
    agent_client, admin_client = app.test_client(), app.test_client()
    _login(agent_client, agent, remember=True)
    _login(admin_client, admin)
    page = admin_client.get(f"/admin/users/{agent.id}")
    assert b"1 live session(s)" in page.data
    response = admin_client.post(f"/admin/users/{agent.id}/logout-everywhere")
    assert response.status_code == 302
    assert agent_client.get("/tickets/").status_code == 302
    assert admin_client.get("/tickets/").status_code == 200, "the admin's own session stays"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.logout_everywhere"))
    assert entry.actor_id == admin.id and entry.subject_id == str(agent.id)


def test_only_admins_end_other_peoples_sessions(app, make_user):
    agent, lead = make_user(), make_user(role="lead")
    agent_client, lead_client = app.test_client(), app.test_client()
    _login(agent_client, agent)
    _login(lead_client, lead)
    assert lead_client.post(f"/admin/users/{agent.id}/logout-everywhere").status_code == 403
    assert agent_client.get("/tickets/").status_code == 200


def test_the_database_keeps_only_a_hash_of_the_token(app, make_user):
    import hashlib

    from services import sessions

    user = make_user()
    token = sessions.start(user, remember=False)
    db.session.commit()
    stored = db.session.scalars(select(UserSession.token_hash).where(UserSession.user_id == user.id)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    assert sessions.load(f"{user.id}:{token}") == user
    assert sessions.load(f"{user.id}:{stored[0]}") is None, "the stored hash is not a key"
