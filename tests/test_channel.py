"""The channel as the app uses it: header badge, emulated label, CLI commands, webhook registration."""

from tests.conftest import emulator_settings


def test_header_shows_the_channel_status_and_emulated_mode(client, auth, app, emulator):
    auth.login("agent")
    badge = client.get("/channel/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "connected" in badge
    page = client.get("/tickets/").get_data(as_text=True)
    assert "Emulated 1MSG channel" in page


def test_real_service_settings_drop_the_emulated_label(make_app, make_user):
    app = make_app(ONEMSG_API_URL="http://127.0.0.1:9", ONEMSG_CONNECT_TIMEOUT=0.3)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
        page = client.get("/tickets/").get_data(as_text=True)
        assert "Emulated 1MSG channel" not in page
        badge = client.get("/channel/status", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "unreachable" in badge


def test_cli_status_and_set_webhook_merge(make_app, emulator):
    app = make_app(**emulator_settings(emulator))
    runner = app.test_cli_runner()
    emulator.post("webhook", {"webhookUrl": ["https://other.example/hook"]})
    result = runner.invoke(args=["onemsg", "set-webhook", "https://handoff.example/webhooks/1msg/abc"])
    assert result.exit_code == 0, result.output
    status = runner.invoke(args=["onemsg", "status"])
    assert "connected" in status.output
    assert "https://other.example/hook" in status.output and "https://handoff.example" in status.output


def test_connect_registers_our_webhook_without_printing_the_secret(make_app, emulator):
    app = make_app(**emulator_settings(emulator), PUBLIC_BASE_URL="https://handoff.example")
    result = app.test_cli_runner().invoke(args=["onemsg", "connect"])
    assert result.exit_code == 0, result.output
    assert app.config["ONEMSG_WEBHOOK_SECRET"] not in result.output
    status = app.test_cli_runner().invoke(args=["onemsg", "status"])
    assert f"https://handoff.example/webhooks/1msg/{app.config['ONEMSG_WEBHOOK_SECRET']}" in status.output


def test_connect_with_the_real_service_needs_a_public_address(make_app):
    app = make_app(ONEMSG_API_URL="https://api.1msg.example", PUBLIC_BASE_URL="")
    result = app.test_cli_runner().invoke(args=["onemsg", "connect"])
    assert result.exit_code == 0
    assert "PUBLIC_BASE_URL is not set" in result.output
