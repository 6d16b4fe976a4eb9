"""The status poll's one read: cheap, yet as strict as every other request about who is asking.

A poll is decided by one query (services/status_poll.py) that reads the live session's user with
the handoff, so there is no cached login to go stale: the poll after a deactivation, a logout
elsewhere or an expiry is refused, the very next one.
"""

import pytest
import requests
from sqlalchemy import event, update

from models import UserSession, db, utcnow
from services import sessions, users
from tests.conftest import DEFAULT_PASSWORD, LiveServer

HTMX = {"HX-Request": "true"}


@pytest.fixture
def handoff(make_handoff):
    return make_handoff(card_snapshot={"name": {"formatted_name": "Spec Poll"}}, message_id="wamid.POLL1")


def _poll(client, handoff, etag=None):
    headers = {**HTMX, "If-None-Match": etag} if etag else HTMX
    return client.get(f"/handoffs/{handoff.id}/status", headers=headers)


def _refused(response) -> bool:
    return response.status_code in (302, 401) and response.status_code != 304


def test_a_revalidated_poll_is_one_statement(app, client, auth, handoff):
    auth.login("agent")
    etag = _poll(client, handoff).headers["ETag"]
    handoff_id = handoff.id  # read here: the test's own session would refresh it inside the count
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        again = client.get(f"/handoffs/{handoff_id}/status", headers={**HTMX, "If-None-Match": etag})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert again.status_code == 304
    assert len(statements) == 1, "\n".join(s[:60] for s in statements)  # no BEGIN, no user load, no second read


def test_the_fragment_shows_the_handoff_in_the_users_zone(app, client, auth, handoff):
    user = auth.login("agent")
    users.set_time_zone(user, "Asia/Tokyo", actor=user)
    db.session.commit()
    body = _poll(client, handoff).get_data(as_text=True)
    assert "Card of <strong>Spec Poll</strong>" in body and 'data-status="accepted"' in body
    shown = handoff.accepted_at.replace(tzinfo=None)
    assert f"{(shown.hour + 9) % 24:02d}:{shown.minute:02d}" in body  # Tokyo is UTC+9, no summer time


def test_the_next_poll_after_a_deactivation_is_refused(app, client, auth, make_user, handoff):
    user = auth.login("agent")
    etag = _poll(client, handoff).headers["ETag"]
    assert _poll(client, handoff, etag).status_code == 304
    admin = make_user("admin")
    users.update_user(user, name=user.name, role=user.role, active=False, actor=admin)
    db.session.commit()
    assert _refused(_poll(client, handoff, etag))
    assert _refused(_poll(client, handoff))


def test_the_next_poll_after_logging_out_everywhere_is_refused(app, client, auth, handoff):
    user = auth.login("agent")
    etag = _poll(client, handoff).headers["ETag"]
    other_device = app.test_client()
    other_device.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    other_device.post("/logout/everywhere")
    assert _refused(_poll(client, handoff, etag))


def test_a_poll_on_an_expired_session_is_refused(app, client, auth, handoff):
    user = auth.login("agent")
    etag = _poll(client, handoff).headers["ETag"]
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id).values(expires_at=utcnow()))
    db.session.commit()
    assert _refused(_poll(client, handoff, etag))


def test_a_forged_session_token_opens_nothing(app, client, auth, handoff):
    user = auth.login("agent")
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:not-the-token"
    assert _refused(_poll(client, handoff))
    assert sessions.load(f"{user.id}:not-the-token") is None


def test_an_unknown_handoff_is_404(app, client, auth, handoff):
    auth.login("agent")
    assert client.get(f"/handoffs/{handoff.id + 1000}/status", headers=HTMX).status_code == 404


def test_polls_over_http_do_not_rewrite_the_session_cookie(app, make_user, handoff):
    """The browser's session cookie is signed once at login: a poll answer carries no Set-Cookie,
    not even when the poll's client differs from the login's (Flask-Login's session protection
    would mark the session not fresh, and so re-sign it, on every request of a client that does
    not keep the new cookie)."""
    email, handoff_id = make_user("agent").email, handoff.id
    db.session.commit()  # end the read: on SQLite it holds the write lock the server needs
    server = LiveServer(app)
    try:
        browser = requests.Session()
        browser.headers["User-Agent"] = "Browser/1.0"
        login = browser.post(
            f"{server.url}/login", data={"email": email, "password": DEFAULT_PASSWORD}, allow_redirects=False
        )
        assert login.status_code == 302
        url = f"{server.url}/handoffs/{handoff_id}/status"
        first = browser.get(url, headers=HTMX, timeout=10)
        assert first.status_code == 200 and "Set-Cookie" not in first.headers
        etag = first.headers["ETag"]
        for user_agent in ("Browser/1.0", "Another client/2.0"):
            answer = browser.get(url, headers={**HTMX, "If-None-Match": etag, "User-Agent": user_agent}, timeout=10)
            assert answer.status_code == 304 and "Set-Cookie" not in answer.headers
            answer = browser.get(url, headers={**HTMX, "User-Agent": user_agent}, timeout=10)
            assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    finally:
        server.stop()
