"""Login throttling: per address and per account, growing waits, and no lock-out of the real user."""

import time
import uuid

import pytest

from tests.conftest import DEFAULT_PASSWORD


@pytest.fixture
def throttled(make_app):
    def build(**overrides):
        settings = dict(RATELIMIT_ENABLED=True, LOGIN_FREE_FAILURES=5, LOGIN_MAX_DELAY_SECONDS=900)
        settings.update(overrides)
        return make_app(**settings)

    return build


def _client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _attempt(client, email, password="wrong-password-here", **headers):
    return client.post("/login", data={"email": email, "password": password}, headers=headers)


def test_behind_a_proxy_a_guesser_does_not_lock_out_the_admin(throttled, make_user):
    """The probe: 45 bad logins with random emails from one client, then the admin's right password."""
    app = throttled(TRUSTED_PROXIES=1)
    with app.app_context():
        admin = make_user(role="admin")
        attacker, admin_browser = app.test_client(), app.test_client()
        codes = [
            _attempt(attacker, f"{uuid.uuid4().hex}@example.com", X_Forwarded_For="203.0.113.7").status_code
            for _ in range(45)
        ]
        assert codes[:20] == [401] * 20 and set(codes[21:]) == {429}, "the guessing client is slowed"
        response = _attempt(admin_browser, admin.email, DEFAULT_PASSWORD, X_Forwarded_For="198.51.100.2")
        assert response.status_code == 302


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(throttled, make_user):
    app = throttled()  # TRUSTED_PROXIES=0: the header is not believed
    with app.app_context():
        attacker = app.test_client()
        codes = [
            _attempt(attacker, f"{uuid.uuid4().hex}@example.com", X_Forwarded_For=f"192.0.2.{i}").status_code
            for i in range(25)
        ]
        assert codes[:20] == [401] * 20 and codes[21:] == [429] * 4


def test_a_known_device_logs_in_while_strangers_guess_at_the_account(throttled, make_user):
    app = throttled()
    with app.app_context():
        user = make_user()
        laptop = app.test_client()
        assert _attempt(laptop, user.email, DEFAULT_PASSWORD).status_code == 302
        assert laptop.get_cookie("known_device") is not None
        laptop.post("/logout")
        for i in range(12):  # strangers, each from their own address
            stranger = _client_at(app, f"192.0.2.{i + 1}")
            _attempt(stranger, user.email)
        new_browser = _client_at(app, "198.51.100.9")
        refused = _attempt(new_browser, user.email, DEFAULT_PASSWORD)
        assert refused.status_code == 429, "an unknown browser waits, even with the right password"
        assert int(refused.headers["Retry-After"]) >= 1
        assert b"Try again in" in refused.data
        assert _attempt(laptop, user.email, DEFAULT_PASSWORD).status_code == 302, "the known device is not held up"


def test_a_forged_device_cookie_is_not_a_known_device(throttled, make_user):
    app = throttled()
    with app.app_context():
        user = make_user()
        for _ in range(6):
            _attempt(_client_at(app, "192.0.2.50"), user.email)
        forger = _client_at(app, "198.51.100.10")
        forger.set_cookie("known_device", "eyJkZXZpY2UiOiJ4IiwiYWNjb3VudHMiOltdfQ.forged")
        assert _attempt(forger, user.email, DEFAULT_PASSWORD).status_code == 429


def test_waits_grow_with_each_further_failure(throttled, make_user):
    app = throttled(LOGIN_FREE_FAILURES=1)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        assert _attempt(client, user.email).status_code == 401  # the free one
        waits = []
        for _ in range(3):
            assert _attempt(client, user.email).status_code == 401
            blocked = _attempt(client, user.email)
            assert blocked.status_code == 429
            waits.append(int(blocked.headers["Retry-After"]))
            time.sleep(waits[-1] + 0.05)  # the throttle's own wait: polling would be more attempts
        assert waits == [1, 2, 4]


def test_a_success_clears_the_account_count(throttled, make_user):
    app = throttled(LOGIN_FREE_FAILURES=2)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        assert [_attempt(client, user.email).status_code for _ in range(2)] == [401, 401]
        assert _attempt(client, user.email, DEFAULT_PASSWORD).status_code == 302
        client.post("/logout")
        other = _client_at(app, "198.51.100.11")
        assert [_attempt(other, user.email).status_code for _ in range(2)] == [401, 401]
