"""The first run: registering the webhook waits for a 1MSG that is still starting, retries, and
says plainly (and in the header) when the webhook is not registered."""

import logging
import socket
import threading

from onemsg.emulator import create_emulator, serve_in_thread
from tests.conftest import LiveServer, emulator_settings
from tests.emulator_fixtures import CHANNEL_ID, TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RefusedTries(logging.Handler):
    """Counts the 1MSG client's logged failures ("1MSG GET /.../status failed: ConnectionError")."""

    def __init__(self, wanted: int):
        super().__init__(logging.WARNING)
        self.count, self.wanted, self.reached = 0, wanted, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("1MSG ") and " failed: " in record.getMessage():
            self.count += 1
            if self.count >= self.wanted:
                self.reached.set()


def test_connect_waits_for_an_emulator_that_starts_late_then_registers(make_app):
    port = free_port()
    app = make_app(
        ONEMSG_API_URL=f"http://127.0.0.1:{port}",
        ONEMSG_CHANNEL_ID=CHANNEL_ID,
        ONEMSG_TOKEN=TOKEN,
        ONEMSG_CONNECT_TIMEOUT=0.5,
        ONEMSG_READ_TIMEOUT=1.0,
        ONEMSG_EMULATED=True,
    )
    server = LiveServer(app)
    started = {}
    refused = RefusedTries(2)
    logging.getLogger("onemsg").addHandler(refused)

    def start_late():
        # The app answers; 1MSG starts only once the command has been refused twice (it retried).
        if refused.reached.wait(20):
            started["emulator"] = serve_in_thread(create_emulator(CHANNEL_ID, TOKEN, ack_delay=0.05), port=port)[0]

    threading.Thread(target=start_late, daemon=True).start()
    try:
        app.config["PUBLIC_BASE_URL"] = server.url
        result = app.test_cli_runner().invoke(args=["onemsg", "connect", "--wait", "20"])
        assert result.exit_code == 0, result.output
        assert "status notifications on" in result.output
        with app.app_context():
            from services.channel_setup import webhook_registered

            assert webhook_registered(max_age=0) is True
    finally:
        logging.getLogger("onemsg").removeHandler(refused)
        server.stop()
        if "emulator" in started:
            started["emulator"].shutdown()
            started["emulator"].server_close()


def test_connect_says_plainly_when_the_webhook_is_not_registered(make_app):
    app = make_app(
        ONEMSG_API_URL=f"http://127.0.0.1:{free_port()}",
        ONEMSG_CHANNEL_ID=CHANNEL_ID,
        ONEMSG_TOKEN=TOKEN,
        ONEMSG_CONNECT_TIMEOUT=0.3,
        ONEMSG_EMULATED=True,
    )
    server = LiveServer(app)
    try:
        app.config["PUBLIC_BASE_URL"] = server.url
        result = app.test_cli_runner().invoke(args=["onemsg", "connect", "--wait", "2"])
    finally:
        server.stop()
    assert result.exit_code != 0
    assert "NOT registered" in result.output and app.config["ONEMSG_WEBHOOK_SECRET"] not in result.output


def test_the_header_shows_a_webhook_that_is_not_registered(make_app, make_user, emulator):
    app = make_app(**emulator_settings(emulator), PUBLIC_BASE_URL="https://handoff.example")
    with app.app_context():
        user = make_user()
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
        badge = client.get("/channel/status", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "connected" in badge and "webhook not registered" in badge
        assert app.test_cli_runner().invoke(args=["onemsg", "connect"]).exit_code == 0
        badge = client.get("/channel/status", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "connected" in badge and "webhook not registered" not in badge
