"""Channel id from a JWT channel key, the token's place, and the production refusals (real HTTP)."""

import base64
import json
import logging

import pytest

from app import InsecureConfiguration, create_app
from config import Config
from onemsg.client import OneMsgClient
from onemsg.emulator import create_emulator, serve_in_thread
from services.onemsg_gateway import channel_status, client
from tests.emulator_fixtures import EmulatorHandle


def jwt_key(instance: str) -> str:
    """A channel key shaped like 1MSG's: a JWT whose payload names the instance."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'instanceId': instance, 'iat': 1})}.c2lnbmF0dXJl"


@pytest.fixture
def jwt_channel():
    """An emulator for channel 371267301 whose token is a JWT channel key."""
    token = jwt_key("instance371267301")
    server, url = serve_in_thread(create_emulator("371267301", token, ack_delay=0.05))
    yield EmulatorHandle(url, "371267301", token)
    server.shutdown()
    server.server_close()


def test_the_channel_id_comes_from_the_jwt_key_when_not_set(make_app, jwt_channel):
    app = make_app(
        ONEMSG_API_URL=jwt_channel.base_url, ONEMSG_CHANNEL_ID="", ONEMSG_TOKEN=jwt_channel.token, ONEMSG_EMULATED=True
    )
    with app.app_context():
        assert client().channel_id == "371267301"
        assert channel_status() == "connected"
    [call] = jwt_channel.requests()
    assert call["path"] == "/371267301/status", "not the emulator's default channel 100000"


def test_an_explicit_channel_id_wins_over_the_key(make_app, jwt_channel):
    app = make_app(
        ONEMSG_API_URL=jwt_channel.base_url,
        ONEMSG_CHANNEL_ID="371267301",
        ONEMSG_TOKEN=jwt_key("instance999999"),
        ONEMSG_EMULATED=True,
    )
    with app.app_context():
        assert client().channel_id == "371267301"


# 32 random bytes: production refuses weaker keys (config.secret_key_problem).
REAL_1MSG = {
    "SECRET_KEY": "3f9a1c7e5b2d8f40a6c1e9b7d3f5a2c8e0b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1",
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    "ONEMSG_API_URL": "https://api.1msg.example",
    "ONEMSG_WEBHOOK_SECRET": "w" * 40,
}


def test_production_refuses_to_start_without_a_channel_id():
    settings = {**REAL_1MSG, "ONEMSG_TOKEN": "a-plain-token", "ONEMSG_CHANNEL_ID": ""}
    with pytest.raises(InsecureConfiguration, match="ONEMSG_CHANNEL_ID"):
        create_app(type("Prod", (Config,), settings))


@pytest.mark.parametrize(
    "settings",
    [
        {"ONEMSG_TOKEN": jwt_key("instance371267300"), "ONEMSG_CHANNEL_ID": ""},
        {"ONEMSG_TOKEN": "a-plain-token", "ONEMSG_CHANNEL_ID": "371267300"},
    ],
)
def test_production_starts_with_a_channel_id_from_either_place(settings):
    assert create_app(type("Prod", (Config,), {**REAL_1MSG, **settings})).config["ONEMSG_API_URL"]


def test_production_refuses_an_unknown_token_place():
    settings = {**REAL_1MSG, "ONEMSG_TOKEN": "t", "ONEMSG_CHANNEL_ID": "1", "ONEMSG_TOKEN_IN": "cookie"}
    with pytest.raises(InsecureConfiguration, match="ONEMSG_TOKEN_IN"):
        create_app(type("Prod", (Config,), settings))


def test_token_in_query_reaches_the_gateway_and_no_log_line(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    query_client = OneMsgClient(emulator.base_url, emulator.channel_id, emulator.token, token_in="query")
    assert query_client.channel_status()["status"] == "connected"
    assert query_client.templates()
    [status_call, templates_call] = emulator.requests()
    assert status_call["auth"] == templates_call["auth"] == "query", "no Authorization header either"
    assert any("/status" in r.getMessage() for r in caplog.records), "the calls were logged"
    assert all(emulator.token not in r.getMessage() for r in caplog.records)


def test_token_in_header_by_default(emulator):
    OneMsgClient(emulator.base_url, emulator.channel_id, emulator.token).channel_status()
    [call] = emulator.requests()
    assert call["auth"] == "header" and "token" not in call["query"]
