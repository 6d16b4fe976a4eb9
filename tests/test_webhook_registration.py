"""Registering our webhook keeps every other URL, whatever form 1MSG lists them in (real HTTP)."""

import pytest
import requests

from tests.conftest import emulator_settings

BASE = "https://handoff.example"
INBOX = "https://inbox.1msg.io/webhook/371267300"  # 1MSG's own inbox URL on the channel
CRM = "https://crm.example/1msg"


def listed(emulator) -> list[str]:
    """The channel's URLs as the emulator holds them (asked in the array form)."""
    emulator.webhook_form("array")
    answer = requests.get(emulator.url("webhook"), headers={"Authorization": f"Bearer {emulator.token}"}, timeout=5)
    return answer.json()["webhookUrl"]


@pytest.fixture
def connect(make_app, emulator):
    """Run `flask onemsg connect` for an app at BASE; returns (app, result)."""

    def run(**overrides):
        app = make_app(**{**emulator_settings(emulator), "PUBLIC_BASE_URL": BASE, **overrides})
        return app, app.test_cli_runner().invoke(args=["onemsg", "connect"])

    return run


def ours(app, secret=None) -> str:
    return f"{BASE}/webhooks/1msg/{secret or app.config['ONEMSG_WEBHOOK_SECRET']}"


@pytest.mark.parametrize("form", ["legacy", "string", "array"])
def test_every_form_of_the_list_keeps_the_other_urls(connect, emulator, form):
    emulator.post("webhook", {"webhookUrl": [CRM, INBOX]})
    emulator.webhook_form(form)  # "legacy": "https://crm...,https://inbox..." as ONE string
    app, result = connect()
    assert result.exit_code == 0, result.output
    assert listed(emulator) == [CRM, INBOX, ours(app)]


@pytest.mark.parametrize("form", ["string", "legacy"])
def test_a_single_url_or_none_in_string_form(connect, emulator, form):
    emulator.webhook_form(form)
    app, result = connect()  # none yet: null
    assert result.exit_code == 0, result.output
    assert listed(emulator) == [ours(app)]
    emulator.post("webhook", {"webhookUrl": INBOX})
    emulator.webhook_form(form)  # one URL: a plain string
    _, again = connect()
    assert again.exit_code == 0 and listed(emulator) == [INBOX, ours(app)]


def test_the_list_before_and_after_is_printed_without_secrets(connect, emulator):
    emulator.post("webhook", {"webhookUrl": f"{CRM}?key=crm-private-key"})
    app, result = connect()
    assert result.exit_code == 0, result.output
    before, after = result.output.split("Webhook URLs after:")
    assert "Webhook URLs before:" in before and CRM in before and f"{BASE}/webhooks/1msg/" not in before
    assert CRM in after and f"{BASE}/webhooks/1msg/…" in after
    assert app.config["ONEMSG_WEBHOOK_SECRET"] not in result.output
    assert "crm-private-key" not in result.output


def test_a_sixth_url_is_refused_with_what_to_do_and_nothing_changes(connect, emulator):
    five = [f"https://hook{n}.example/h" for n in range(5)]
    emulator.post("webhook", {"webhookUrl": five})
    _, result = connect()
    assert result.exit_code != 0
    assert "at most 5" in result.output and "remove one" in result.output
    assert listed(emulator) == five
    assert emulator.post("webhook", {"webhookUrl": five + ["https://six.example/h"]}).status_code == 400


def test_registering_twice_keeps_one_url(connect, emulator):
    app, _ = connect()
    _, result = connect()
    assert result.exit_code == 0 and listed(emulator) == [ours(app)]


def test_a_rotated_away_secrets_url_is_removed(connect, emulator):
    old = "old-webhook-secret-0123456789abcdef0123456789"
    newer = "new-webhook-secret-0123456789abcdef0123456789"
    emulator.post("webhook", {"webhookUrl": [INBOX, f"{BASE}/webhooks/1msg/{old}"]})
    # While rotating, the old secret is still accepted: its URL stays.
    app, result = connect(ONEMSG_WEBHOOK_SECRET=newer, ONEMSG_WEBHOOK_SECRET_PREVIOUS=old)
    assert result.exit_code == 0, result.output
    assert listed(emulator) == [INBOX, f"{BASE}/webhooks/1msg/{old}", ours(app)]
    # The old secret is dropped: its URL goes, 1MSG's inbox and ours stay.
    app, result = connect(ONEMSG_WEBHOOK_SECRET=newer, ONEMSG_WEBHOOK_SECRET_PREVIOUS="")
    assert result.exit_code == 0, result.output
    assert listed(emulator) == [INBOX, ours(app)]
    assert "Removed 1 URL(s)" in result.output and old not in result.output


def test_connect_switches_status_notifications_on(connect, emulator):
    connect()
    answer = requests.get(emulator.url("settings"), headers={"Authorization": f"Bearer {emulator.token}"}, timeout=5)
    assert answer.json()["ackNotificationsOn"] is True
