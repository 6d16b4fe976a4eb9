"""The app's one 1MSG client, built from settings (one requests.Session per app)."""
import time

from flask import current_app

from onemsg.client import OneMsgClient
from onemsg.errors import OneMsgError

EMULATOR_CHANNEL_ID = "100000"
EMULATOR_TOKEN = "dev-token"


def connection_settings() -> tuple[str, str, str]:
    """(base URL, channel id, token): the real service, or the emulator's defaults."""
    config = current_app.config
    return (config["ONEMSG_API_URL"] or config.get("ONEMSG_EMULATOR_URL") or "http://127.0.0.1:5001",
            config["ONEMSG_CHANNEL_ID"] or EMULATOR_CHANNEL_ID,
            config["ONEMSG_TOKEN"] or EMULATOR_TOKEN)


def client() -> OneMsgClient:
    """The client for this app, created on first use."""
    app = current_app._get_current_object()
    existing = app.extensions.get("onemsg_client")
    if existing is None:
        config = app.config
        existing = OneMsgClient(
            *connection_settings(),
            connect_timeout=config["ONEMSG_CONNECT_TIMEOUT"],
            read_timeout=config["ONEMSG_READ_TIMEOUT"],
        )
        app.extensions["onemsg_client"] = existing
    return existing


def channel_status(max_age: float = 30.0) -> str:
    """1MSG's channel status, cached briefly so pages do not call 1MSG each time."""
    cache = current_app.extensions.setdefault("onemsg_status_cache", {})
    if cache and time.monotonic() - cache["at"] < max_age:
        return cache["status"]
    try:
        status = str(client().channel_status().get("status", "unknown"))
    except OneMsgError as exc:
        status = f"unreachable ({exc.code})"
    cache.update(status=status, at=time.monotonic())
    return status
