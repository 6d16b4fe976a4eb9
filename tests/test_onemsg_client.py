"""OneMsgClient against the emulator (and a tiny scripted 1MSG stand-in) over real HTTP."""

import base64
import json
import logging
import socket
import time

import pytest
from flask import Flask, Response

from onemsg.client import OneMsgClient, channel_id_from_token, clean_template_param
from onemsg.emulator import NAMESPACE, TEMPLATES, serve_in_thread
from onemsg.errors import (
    AuthenticationFailed,
    InvalidRecipient,
    OneMsgError,
    RateLimited,
    Rejected,
    UnknownOutcome,
    UpstreamError,
    UpstreamUnavailable,
    WindowClosed,
)
from onemsg.templates import build_params
from tests.helpers import wait_until

CUSTOMER = "+14155552671"
CARD = {
    "name": {"formatted_name": "Jane Specialist", "first_name": "Jane"},
    "phones": [{"phone": "+12025550199", "type": "CELL", "wa_id": "12025550199"}],
}


def faulty(code: str) -> str:
    """A customer number whose last four digits pick an emulator fault."""
    return f"+1415555{code}"


def make_client(emulator, **options) -> OneMsgClient:
    """A client for the emulator with test-sized timeouts, overridable."""
    settings = dict(connect_timeout=1.0, read_timeout=0.5, max_retries=2, max_retry_wait=5.0)
    return OneMsgClient(emulator.base_url, emulator.channel_id, emulator.token, **{**settings, **options})


def sends(emulator, method="sendContact") -> list[dict]:
    """The send requests the emulator received."""
    return [r for r in emulator.requests() if r["path"].endswith("/" + method)]


# ----- a scripted stand-in for answers the emulator has no fault number for -----


class ScriptedOneMsg:
    """A real HTTP server answering each 1MSG method with a scripted (status, body, headers)."""

    def __init__(self):
        self.answers = {}
        app = Flask("scripted_1msg")

        @app.route("/<channel>/<method>", methods=["GET", "POST"])
        def answer(channel, method):
            status, body, headers = self.answers[method]
            text = body if isinstance(body, str) else json.dumps(body)
            return Response(text, status=status, headers=headers, mimetype="application/json")

        self.server, self.base_url = serve_in_thread(app)

    def client(self, token="scripted-secret-token", **options) -> OneMsgClient:
        """A client for this stand-in."""
        return OneMsgClient(self.base_url, "100000", token, read_timeout=0.5, max_retries=0, **options)


@pytest.fixture(scope="module")
def scripted():
    stand_in = ScriptedOneMsg()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


@pytest.fixture
def logs(caplog):
    """caplog at DEBUG, with the onemsg and urllib3 loggers enabled.

    Alembic's fileConfig (run by the app's migrations) disables loggers that already exist,
    which would make a "no token in the logs" test pass vacuously.
    """
    loggers = [logging.getLogger(name) for name in ("onemsg", "urllib3", "urllib3.connectionpool")]
    was_disabled = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = False
    caplog.set_level(logging.DEBUG)
    yield caplog
    for logger, disabled in zip(loggers, was_disabled):
        logger.disabled = disabled


# ----- sending -----


@pytest.mark.parametrize("recipient", [CUSTOMER, "14155552671", "14155552671@c.us", "+1 415-555-2671"])
def test_send_contact_sends_the_strict_form_with_a_header_token(emulator, onemsg_client, recipient):
    emulator.open_window(CUSTOMER)
    result = onemsg_client.send_contact(recipient, CARD)
    assert result.id.startswith("wamid.")
    assert result.message == "Sent to 14155552671@c.us"
    [request] = sends(emulator)
    assert request["json"] == {"phone": "14155552671", "contacts": [CARD]}
    assert request["auth"] == "header"
    assert emulator.token not in request["path"] and request["query"] == {}


def test_send_message_returns_the_message_id(emulator, onemsg_client):
    emulator.open_window(CUSTOMER)
    result = onemsg_client.send_message(CUSTOMER, "Please reach our specialist below.")
    assert result.id.startswith("wamid.")
    assert sends(emulator, "sendMessage")[0]["json"]["body"] == "Please reach our specialist below."


@pytest.mark.parametrize("text", ["", "x" * 4097])
def test_send_message_refuses_a_bad_length_locally(emulator, onemsg_client, text):
    with pytest.raises(ValueError):
        onemsg_client.send_message(CUSTOMER, text)
    assert sends(emulator, "sendMessage") == []


@pytest.mark.parametrize("recipient", ["+12", "not a number", "+1415555267112345678"])
def test_a_malformed_recipient_is_refused_before_any_request(emulator, onemsg_client, recipient):
    with pytest.raises(InvalidRecipient):
        onemsg_client.send_contact(recipient, CARD)
    assert sends(emulator) == []


def test_closed_window_raises_window_closed_not_rejected(emulator, onemsg_client):
    with pytest.raises(WindowClosed) as caught:
        onemsg_client.send_contact(CUSTOMER, CARD)
    assert caught.value.code == "window_closed"
    assert caught.value.status_code == 200
    assert caught.value.raw == {"sent": False, "message": "Dialog window is closed"}


def test_a_message_older_than_24_hours_leaves_the_window_closed(emulator, onemsg_client):
    emulator.inbound(CUSTOMER, "Hi", time=int(time.time()) - 25 * 3600)
    with pytest.raises(WindowClosed):
        onemsg_client.send_message(CUSTOMER, "Hello again")


def test_send_template_goes_out_while_the_window_is_closed(emulator, onemsg_client):
    params = [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": t} for t in ("Ana\nRuiz", "Jane\tSpecialist", "+1 202      555")],
        }
    ]
    result = onemsg_client.send_template(CUSTOMER, "specialist_intro", "en_US", params, namespace=NAMESPACE)
    assert result.id.startswith("wamid.")
    [request] = sends(emulator, "sendTemplate")
    assert request["json"]["language"] == {"policy": "deterministic", "code": "en_US"}
    assert request["json"]["namespace"] == NAMESPACE
    assert request["json"]["params"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ana Ruiz"},
                {"type": "text", "text": "Jane Specialist"},
                {"type": "text", "text": "+1 202    555"},
            ],
        }
    ]


@pytest.mark.parametrize(
    "language, namespace",
    [
        ("en", NAMESPACE),  # a code a person typed, not the template's own
        ("en_US", "wrong_namespace"),
        ("en_US", ""),  # no namespace at all
    ],
)
def test_a_template_is_refused_unless_name_language_and_namespace_match(emulator, language, namespace):
    body = {
        "phone": CUSTOMER[1:],
        "template": "reopen_chat",
        "language": {"policy": "deterministic", "code": language},
        "params": [],
    }
    if namespace:
        body["namespace"] = namespace
    answer = emulator.post("sendTemplate", body)
    assert answer.status_code == 200 and answer.json() == {"sent": False, "message": "Template is not defined"}
    assert not [m for m in emulator.requests() if m["path"].endswith("/_emulator/inbound")]


def test_the_client_refuses_to_send_a_template_without_namespace(emulator, onemsg_client):
    with pytest.raises(ValueError):
        onemsg_client.send_template(CUSTOMER, "reopen_chat", "en_US", [], namespace="")
    assert sends(emulator, "sendTemplate") == []


def test_template_parameters_are_counted_over_header_body_and_buttons(emulator, onemsg_client):
    followup = next(t for t in TEMPLATES if t["name"] == "handoff_followup")
    params = build_params(followup, ["HD-1", "Ana", "Jane", "HD-1"])
    assert [p["type"] for p in params] == ["header", "body", "button"]
    assert onemsg_client.send_template(CUSTOMER, "handoff_followup", "en_US", params, namespace=NAMESPACE).id
    body_only = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "Jane"}]}]
    with pytest.raises(Rejected) as caught:
        onemsg_client.send_template(CUSTOMER, "handoff_followup", "en_US", body_only, namespace=NAMESPACE)
    assert caught.value.meta_code == 132000


def test_the_reply_to_a_template_opens_the_window(emulator, onemsg_client, webhook_receiver):
    onemsg_client.set_webhooks([webhook_receiver.url])
    onemsg_client.update_settings(ackNotificationsOn=True)
    onemsg_client.send_template(CUSTOMER, "reopen_chat", "en_US", [], namespace=NAMESPACE)
    webhook_receiver.wait_for(lambda _: [m for m in webhook_receiver.messages() if m["fromMe"] is False])
    assert onemsg_client.send_contact(CUSTOMER, CARD).id.startswith("wamid.")


def test_templates_are_read_page_by_page_with_string_components(emulator, onemsg_client):
    listed = onemsg_client.templates(page_size=2)
    pages = [r["query"] for r in emulator.requests() if r["path"].endswith("/templates")]
    assert pages == [{"limit": "2", "offset": "0"}, {"limit": "2", "offset": "2"}, {"limit": "2", "offset": "4"}]
    assert [(t["name"], t["language"]) for t in listed] == [(t["name"], t["language"]) for t in TEMPLATES]
    assert any(isinstance(t["components"], str) for t in listed), "1MSG's string components"


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("a\nb\r\nc\td", "a b c d"),
        ("a" + " " * 9 + "b", "a    b"),
        ("  padded  ", "padded"),
    ],
)
def test_clean_template_param(raw, cleaned):
    assert clean_template_param(raw) == cleaned


# ----- faults scripted by the recipient's last four digits -----


@pytest.mark.parametrize(
    "code, error, status",
    [
        ("0002", RateLimited, 429),
        ("0003", UnknownOutcome, 500),
        ("0004", UnknownOutcome, None),
        ("0007", InvalidRecipient, 400),
        ("0008", UnknownOutcome, 200),
        ("0009", Rejected, 200),
        ("0012", UpstreamUnavailable, 503),
    ],
)
def test_each_fault_raises_its_typed_error(emulator, code, error, status):
    emulator.open_window(faulty(code))
    client = make_client(emulator, max_retries=0)
    with pytest.raises(error) as caught:
        client.send_contact(faulty(code), CARD)
    assert type(caught.value) is error
    assert caught.value.status_code == status


def test_rate_limit_carries_retry_after(emulator):
    emulator.open_window(faulty("0002"))
    with pytest.raises(RateLimited) as caught:
        make_client(emulator, max_retries=0).send_contact(faulty("0002"), CARD)
    assert caught.value.retry_after == 1.0
    assert caught.value.code == "rate_limited"


def test_queued_send_is_rejected_with_its_job_id(emulator, onemsg_client):
    emulator.open_window(faulty("0009"))
    with pytest.raises(Rejected) as caught:
        onemsg_client.send_contact(faulty("0009"), CARD)
    assert caught.value.job_id.startswith("job-")


def test_meta_error_keeps_its_code(emulator, onemsg_client):
    bad_text = [{"type": "body", "parameters": [{"type": "text", "text": "a\tb"}] * 3}]
    body = {
        "phone": CUSTOMER[1:],
        "template": "specialist_intro",
        "namespace": NAMESPACE,
        "language": {"policy": "deterministic", "code": "en_US"},
        "params": bad_text,
    }
    answer = emulator.post("sendTemplate", body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 132018


@pytest.mark.parametrize("code", ["0002", "0012"])
def test_retry_after_is_honoured_then_gives_up(emulator, code):
    emulator.open_window(faulty(code))
    client = make_client(emulator, max_retries=1, max_retry_wait=5.0)
    started = time.monotonic()
    with pytest.raises((RateLimited, UpstreamUnavailable)):
        client.send_contact(faulty(code), CARD)
    assert len(sends(emulator)) == 2  # max_retries + 1
    assert time.monotonic() - started >= 1.0  # waited the Retry-After


def test_retries_stop_when_the_wait_would_exceed_the_budget(emulator):
    emulator.open_window(faulty("0002"))
    with pytest.raises(RateLimited):
        make_client(emulator, max_retries=5, max_retry_wait=0.5).send_contact(faulty("0002"), CARD)
    assert len(sends(emulator)) == 1


def test_server_error_is_never_retried_for_a_send(emulator, onemsg_client):
    emulator.open_window(faulty("0003"))
    with pytest.raises(UnknownOutcome):
        onemsg_client.send_contact(faulty("0003"), CARD)
    assert len(sends(emulator)) == 1


def test_slow_answer_is_an_unknown_outcome_but_the_card_went(emulator, onemsg_client):
    emulator.open_window(faulty("0004"))
    with pytest.raises(UnknownOutcome):
        onemsg_client.send_contact(faulty("0004"), CARD)
    assert len(sends(emulator)) == 1  # a read timeout is never retried
    # Reconcile: the chat history shows our card, and hookInfo follows its acks.
    [card] = [m for m in onemsg_client.messages(faulty("0004")) if m["fromMe"]]
    assert card["type"] == "contacts"
    assert wait_for_status(onemsg_client, card["id"]) == "read"


def wait_for_status(client, message_id, wanted="read", timeout=2.0):
    """Poll hookInfo until the message reaches `wanted`; return the last status seen."""

    def status():
        hooks = client.hook_info(message_id)
        return hooks[0]["status"] if hooks else None

    wait_until(lambda: status() == wanted, timeout, interval=0.02)
    return status()


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_upstream_unavailable_after_retries(logs):
    client = OneMsgClient(
        f"http://127.0.0.1:{closed_port()}", "100000", "t0k3n-secret", connect_timeout=0.5, max_retries=2
    )
    with pytest.raises(UpstreamUnavailable) as caught:
        client.send_contact(CUSTOMER, CARD)
    assert caught.value.code == "upstream_unavailable"
    assert logs.text.count("sendContact failed") == 3  # max_retries + 1 attempts
    assert "t0k3n-secret" not in logs.text


@pytest.fixture
def silent_server():
    """A socket that accepts connections but never answers (read timeouts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_read_timeout_on_a_send_is_unknown_outcome(silent_server):
    client = OneMsgClient(silent_server, "100000", "tok", read_timeout=0.2)
    with pytest.raises(UnknownOutcome):
        client.send_message(CUSTOMER, "hello")


def test_read_timeout_on_a_read_is_upstream_error(silent_server):
    client = OneMsgClient(silent_server, "100000", "tok", read_timeout=0.2)
    with pytest.raises(UpstreamError) as caught:
        client.channel_status()
    assert type(caught.value) is UpstreamError


# ----- answers only the scripted stand-in gives -----


@pytest.mark.parametrize(
    "status, body, error, meta_code",
    [
        (200, {"sent": False, "message": "invalid token"}, AuthenticationFailed, None),
        (200, {"sent": False, "message": "Rate limit exceeded"}, RateLimited, None),
        (200, {"sent": False, "message": "Unsupported content"}, Rejected, None),
        (200, {"sent": False, "message": "DIALOG WINDOW is closed"}, WindowClosed, None),
        (400, {"error": {"message": "Re-engagement message", "code": 131047}}, WindowClosed, 131047),
        (400, {"error": {"message": "Rate limit hit", "code": 130429}}, RateLimited, 130429),
        (400, {"error": {"message": "Spam rate limit", "code": 131056}}, RateLimited, 131056),
        (400, {"error": {"message": "Generic", "code": 131000}}, Rejected, 131000),
        (400, {"message": "Body is not valid"}, Rejected, None),
        (400, {"error": "Invalid phone number"}, InvalidRecipient, None),
        (429, {"error": "Too many"}, RateLimited, None),
        (502, "<html>bad gateway</html>", UnknownOutcome, None),
        (200, {"sent": True}, UnknownOutcome, None),
    ],
)
def test_send_answers_map_to_typed_errors(scripted, status, body, error, meta_code):
    scripted.answers["sendContact"] = (status, body, {})
    with pytest.raises(error) as caught:
        scripted.client().send_contact(CUSTOMER, CARD)
    assert type(caught.value) is error
    assert caught.value.meta_code == meta_code


@pytest.mark.parametrize("status, body", [(500, {"error": "boom"}), (200, "not json{")])
def test_read_failures_are_upstream_errors(scripted, status, body):
    scripted.answers["status"] = (status, body, {})
    with pytest.raises(UpstreamError) as caught:
        scripted.client().channel_status()
    assert type(caught.value) is UpstreamError


def test_a_send_answer_without_the_sent_key_but_with_an_id_is_accepted(scripted):
    scripted.answers["sendMessage"] = (200, {"id": "wamid.X", "message": "ok"}, {})
    assert scripted.client().send_message(CUSTOMER, "hi").id == "wamid.X"


def test_a_token_quoted_by_1msg_is_redacted(scripted):
    token = "quoted-secret-token-123"
    scripted.answers["sendContact"] = (401, {"error": f"Wrong token {token} for channel 1"}, {})
    with pytest.raises(AuthenticationFailed) as caught:
        scripted.client(token=token).send_contact(CUSTOMER, CARD)
    assert token not in str(caught.value) and token not in repr(caught.value)
    assert token not in json.dumps(caught.value.raw)


# ----- authentication and secrecy -----


def test_wrong_token_raises_authentication_failed(emulator):
    client = OneMsgClient(emulator.base_url, emulator.channel_id, "wrong-token-value")
    with pytest.raises(AuthenticationFailed) as caught:
        client.channel_status()
    assert caught.value.status_code == 401
    assert "wrong-token-value" not in str(caught.value)


def test_the_token_never_appears_in_repr_errors_or_logs(emulator, logs):
    client = make_client(emulator, max_retries=0)
    assert emulator.token not in repr(client) and emulator.token not in str(client)
    emulator.open_window(faulty("0007"))
    errors = []
    for recipient in (CUSTOMER, faulty("0002"), faulty("0003"), faulty("0007"), faulty("0008")):
        try:
            client.send_contact(recipient, CARD)
        except OneMsgError as exc:
            errors.append(exc)
    assert len(errors) == 5
    for exc in errors:
        assert emulator.token not in str(exc) and emulator.token not in repr(exc)
    assert "POST /371267300/sendContact -> 200" in logs.text  # the log shows the calls...
    assert "connectionpool" in logs.text  # ...urllib3's request lines included...
    assert emulator.token not in logs.text  # ...but never the token
    assert all(r["auth"] == "header" for r in emulator.requests())


# ----- reads, webhooks and settings -----


def test_channel_status(onemsg_client):
    assert onemsg_client.channel_status() == {"status": "connected"}


def test_set_webhooks_keeps_the_urls_already_registered(emulator, onemsg_client):
    existing = ["https://other.example/hook", "https://crm.example/1msg"]
    emulator.post("webhook", {"webhookUrl": existing})
    saved = onemsg_client.set_webhooks(["https://ours.example/webhooks/1msg/s3cret", "https://crm.example/1msg"])
    assert saved == existing + ["https://ours.example/webhooks/1msg/s3cret"]
    assert onemsg_client.get_webhooks() == saved


def test_set_webhooks_refuses_to_drop_any_url(emulator, onemsg_client):
    existing = [f"https://app{i}.example/hook" for i in range(5)]
    emulator.post("webhook", {"webhookUrl": existing})
    with pytest.raises(ValueError, match="at most 5 webhook URLs") as caught:
        onemsg_client.set_webhooks("https://ours.example/webhooks/1msg/s3cret")
    assert "s3cret" not in str(caught.value), "the message may be printed: no secret in it"
    assert onemsg_client.get_webhooks() == existing


def test_settings_read_and_update(onemsg_client):
    assert onemsg_client.settings()["ackNotificationsOn"] is False
    assert onemsg_client.update_settings(ackNotificationsOn=True)["ackNotificationsOn"] is True
    assert onemsg_client.update_settings(rawHooks=True)["rawHooks"] is True
    assert onemsg_client.settings()["rawHooks"] is True


def test_hook_info_follows_the_acks(emulator, onemsg_client, webhook_receiver):
    onemsg_client.set_webhooks([webhook_receiver.url])
    onemsg_client.update_settings(ackNotificationsOn=True)
    emulator.open_window(CUSTOMER)
    sent = onemsg_client.send_contact(CUSTOMER, CARD)
    webhook_receiver.wait_for(lambda _: [a for a in webhook_receiver.acks() if a["status"] == "read"])
    [hook] = onemsg_client.hook_info(sent.id)
    assert (hook["id"], hook["status"], hook["recipient_id"]) == (sent.id, "read", "14155552671")
    assert onemsg_client.hook_info("wamid.unknown") == []


def test_messages_are_newest_first(emulator, onemsg_client):
    emulator.inbound(CUSTOMER, "first")
    emulator.inbound(CUSTOMER, "second")
    sent = onemsg_client.send_message(CUSTOMER, "third")
    history = onemsg_client.messages(CUSTOMER)
    assert [m["body"] for m in history] == ["third", "second", "first"]
    assert [m["fromMe"] for m in history] == [True, False, False]
    assert history[0]["id"] == sent.id
    assert len(onemsg_client.messages(CUSTOMER, limit=1)) == 1


# ----- channel id from a JWT key -----


def jwt_with(payload: dict) -> str:
    """An unsigned JWT-shaped key carrying payload."""

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(payload)}.signature"


@pytest.mark.parametrize(
    "token, channel",
    [
        (jwt_with({"instanceId": "instance371267300"}), "371267300"),
        (jwt_with({"instanceId": "371267300"}), "371267300"),
        (jwt_with({"sub": "x"}), None),
        ("plain-token", None),
        ("a.!!!.c", None),
    ],
)
def test_channel_id_from_token(token, channel):
    assert channel_id_from_token(token) == channel


def test_client_takes_the_channel_from_a_jwt_key():
    client = OneMsgClient("http://127.0.0.1:1", None, jwt_with({"instanceId": "instance42000"}))
    assert client.channel_id == "42000"
    with pytest.raises(ValueError):
        OneMsgClient("http://127.0.0.1:1", None, "plain-token")


# ----- the `onemsg` command group -----


def test_cli_status_and_set_webhook_use_the_given_client(emulator, onemsg_client):
    from click.testing import CliRunner

    from onemsg.cli import onemsg_cli

    emulator.post("webhook", {"webhookUrl": "https://other.example/hook"})
    runner = CliRunner()
    result = runner.invoke(onemsg_cli, ["set-webhook", "https://ours.example/hook"], obj=onemsg_client)
    assert result.exit_code == 0, result.output
    assert "https://other.example/hook, https://ours.example/hook" in result.output
    result = runner.invoke(onemsg_cli, ["status"], obj=onemsg_client)
    assert "status: connected" in result.output
    assert "webhook: https://ours.example/hook" in result.output


def test_cli_reads_the_environment_when_no_client_is_given(emulator, monkeypatch):
    from click.testing import CliRunner

    from onemsg.cli import onemsg_cli

    monkeypatch.setenv("ONEMSG_API_URL", emulator.base_url)
    monkeypatch.setenv("ONEMSG_CHANNEL_ID", emulator.channel_id)
    monkeypatch.setenv("ONEMSG_TOKEN", "wrong-token")
    result = CliRunner().invoke(onemsg_cli, ["status"])
    assert result.exit_code == 1
    assert "auth_failed" in result.output and "wrong-token" not in result.output


# ----- answers that vary in the wild -----


def test_a_429_without_retry_after_is_retried_after_a_jittered_back_off(emulator):
    emulator.open_window(faulty("0013"))
    assert make_client(emulator, max_retry_wait=5.0).send_contact(faulty("0013"), CARD).id
    first, second = [r["time"] for r in sends(emulator)]
    assert 0.25 <= second - first < 2.0, "0.5 s doubled per try, times 50-100 % jitter"


def test_a_429_back_off_never_overruns_the_sends_time_budget(emulator):
    emulator.open_window(faulty("0013"))
    with pytest.raises(RateLimited) as caught:
        make_client(emulator, max_retry_wait=0.1).send_contact(faulty("0013"), CARD)
    assert caught.value.retry_after is None
    assert len(sends(emulator)) == 1


def test_sent_as_the_string_true_is_accepted(emulator, onemsg_client):
    emulator.open_window(faulty("0014"))
    assert onemsg_client.send_contact(faulty("0014"), CARD).id.startswith("wamid.")


def test_re_engagement_with_sent_as_the_string_false_is_a_closed_window(emulator, onemsg_client):
    with pytest.raises(WindowClosed):
        onemsg_client.send_contact(faulty("0015"), CARD)


# ----- the call_wrapper hook (where the app puts its circuit breaker) -----


def test_call_wrapper_runs_around_every_call_and_sees_its_typed_error(scripted):
    seen = []

    def wrapper(call):
        try:
            response = call()
        except UpstreamError as exc:
            seen.append(type(exc).__name__)
            raise
        seen.append(response.status_code)
        return response

    client = scripted.client(call_wrapper=wrapper)
    scripted.answers["sendMessage"] = (200, {"sent": True, "id": "wamid.W", "message": "ok"}, {})
    scripted.answers["status"] = (500, {"error": "boom"}, {})
    assert client.send_message(CUSTOMER, "hi").id == "wamid.W"
    with pytest.raises(UpstreamError):
        client.channel_status()
    assert seen == [200, "UpstreamError"]


def test_a_call_wrapper_may_refuse_a_call_before_it_goes_out(emulator):
    class Paused(OneMsgError):
        code = "paused"

    def refuse(call):
        raise Paused("not now")

    client = OneMsgClient(emulator.base_url, emulator.channel_id, emulator.token, call_wrapper=refuse)
    with pytest.raises(Paused):
        client.send_message(CUSTOMER, "hi")
    assert not [r for r in emulator.requests() if r["path"].endswith("/sendMessage")]
