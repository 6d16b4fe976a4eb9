"""The 1MSG emulator keeps the contract (shared/onemsg-contract.md) over real HTTP."""

import time

import pytest
import requests

from onemsg.emulator import FAULTS, NAMESPACE, TEMPLATE_REPLY, TEMPLATES
from tests.emulator_fixtures import SLOW_SECONDS
from tests.helpers import wait_until

CUSTOMER = "14155552671"
CARD = {
    "name": {"formatted_name": "Jane Specialist", "first_name": "Jane"},
    "phones": [{"phone": "+12025550199", "type": "CELL", "wa_id": "12025550199"}],
}


def faulty(code: str) -> str:
    """A customer number (digits) whose last four digits pick a fault."""
    return f"1415555{code}"


def send_card(emulator, phone=CUSTOMER, **extra) -> requests.Response:
    """POST a strict-form sendContact with the header token."""
    return emulator.post("sendContact", {"phone": phone, "contacts": [CARD], **extra})


@pytest.fixture
def hooked(emulator, webhook_receiver):
    """The emulator with the webhook receiver registered."""
    emulator.connect(webhook_receiver.url)
    return webhook_receiver


def acks_for(receiver, message_id, count, timeout=3.0) -> list[dict]:
    """Wait for `count` acks of one message and return them in arrival order."""

    def matching(_bodies):
        acks = [a for a in receiver.acks() if a["id"] == message_id]
        return acks if len(acks) >= count else None

    return receiver.wait_for(matching, timeout)


# ----- authentication -----


@pytest.mark.parametrize("placement", ["header", "query", "body"])
def test_every_token_placement_is_accepted(emulator, placement):
    response = emulator.post("settings", {"rawHooks": False}, auth=placement)
    assert response.status_code == 200
    assert emulator.requests()[-1]["auth"] == placement


@pytest.mark.parametrize("placement", ["header", "query", "body"])
def test_a_wrong_token_is_refused_without_echoing_it(emulator, placement):
    response = emulator.post("settings", {}, auth=placement, token="not-the-token")
    assert response.status_code == 401
    assert "Wrong token" in response.json()["error"]
    assert "not-the-token" not in response.text


def test_a_missing_token_is_refused(emulator):
    response = emulator.post("sendContact", {"phone": CUSTOMER, "contacts": [CARD]}, auth="none")
    assert response.status_code == 401
    assert emulator.requests()[-1]["auth"] == "none"


def test_an_unknown_channel_is_not_found(emulator):
    response = requests.get(
        f"{emulator.base_url}/999/status", headers={"Authorization": f"Bearer {emulator.token}"}, timeout=5
    )
    assert response.status_code == 404


def test_control_endpoints_need_the_token(emulator):
    response = requests.post(emulator.url("_emulator/reset"), timeout=5)
    assert response.status_code == 401


# ----- sendContact validation -----


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"contacts": [CARD]}, "exactly one of phone or chatId"),
        ({"phone": CUSTOMER, "chatId": f"{CUSTOMER}@c.us", "contacts": [CARD]}, "exactly one"),
        ({"phone": "+" + CUSTOMER, "contacts": [CARD]}, "Invalid phone"),
        ({"phone": "12345", "contacts": [CARD]}, "Invalid phone"),
        ({"chatId": CUSTOMER, "contacts": [CARD]}, "Invalid chatId"),
        ({"phone": CUSTOMER, "contacts": []}, "non-empty list"),
        ({"phone": CUSTOMER}, "non-empty list"),
        ({"phone": CUSTOMER, "contacts": [{"name": {"first_name": "Jane"}}]}, "formatted_name"),
        ({"phone": CUSTOMER, "contacts": [{"name": {"formatted_name": "Jane"}}]}, "besides"),
        ({"phone": CUSTOMER, "contacts": [{**CARD, "phones": [{"phone": 12025550199}]}]}, "must be a string"),
        (
            {"phone": CUSTOMER, "contacts": [{**CARD, "phones": [{"phone": "+12025550199", "type": "FAX"}]}]},
            "type must be",
        ),
        ({"phone": CUSTOMER, "contacts": [{**CARD, "phones": [{"phone": "12025550199"}]}]}, "E.164"),
        ({"phone": CUSTOMER, "contacts": [{**CARD, "phones": [{"phone": "+1 202 555"}]}]}, "E.164"),
        ({"phone": CUSTOMER, "contacts": [{**CARD, "phones": [{"phone": "+12025550199", "wa_id": "+1"}]}]}, "wa_id"),
        ({"phone": CUSTOMER, "contacts": [CARD], "contact": {"name": "Jane", "phone": "1"}}, "not both"),
        ({"phone": CUSTOMER, "contact": {"name": "Jane"}}, "name and phone"),
    ],
)
def test_send_contact_validation(emulator, body, problem):
    emulator.open_window(CUSTOMER)
    response = emulator.post("sendContact", body)
    assert response.status_code == 400
    assert problem in response.json()["error"]


def test_a_non_json_body_is_a_bad_request(emulator):
    response = requests.post(
        emulator.url("sendContact"), data="phone=1", headers={"Authorization": f"Bearer {emulator.token}"}, timeout=5
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"chatId": f"{CUSTOMER}@c.us", "contacts": [CARD]},
        {"phone": CUSTOMER, "contact": {"name": "Jane Specialist", "phone": "+12025550199"}},
    ],
)
def test_chat_id_and_the_legacy_form_are_accepted(emulator, body):
    emulator.open_window(CUSTOMER)
    answer = emulator.post("sendContact", body).json()
    assert answer["sent"] is True
    assert answer["message"] == f"Sent to {CUSTOMER}@c.us"
    assert answer["description"] == "Message has been sent to the provider"


def test_the_window_opens_with_an_inbound_message_and_not_before(emulator):
    assert send_card(emulator).json() == {"sent": False, "message": "Dialog window is closed"}
    emulator.inbound("+" + CUSTOMER, "Hi")  # +E.164 is accepted too
    assert send_card(emulator).json()["sent"] is True


def test_an_old_inbound_message_does_not_open_the_window(emulator):
    emulator.inbound(CUSTOMER, "Hi", time=int(time.time()) - 24 * 3600 - 60)
    assert send_card(emulator).json()["sent"] is False


@pytest.mark.parametrize("text", ["", "x" * 4097, None])
def test_send_message_needs_a_body_of_1_to_4096_characters(emulator, text):
    emulator.open_window(CUSTOMER)
    assert emulator.post("sendMessage", {"phone": CUSTOMER, "body": text}).status_code == 400


# ----- templates -----


def template(name="specialist_intro", params=("Ana", "Jane", "+12025550199"), language="en_US", namespace=NAMESPACE):
    """A sendTemplate body, as 1MSG's own SDKs build it."""
    parameters = [{"type": "text", "text": p} for p in params]
    body = {
        "phone": CUSTOMER,
        "template": name,
        "namespace": namespace,
        "language": {"policy": "deterministic", "code": language},
        "params": [{"type": "body", "parameters": parameters}] if params else [],
    }
    return body if namespace else {k: v for k, v in body.items() if k != "namespace"}


def test_templates_are_listed_like_1msg_with_paging(emulator):
    response = requests.get(emulator.url("templates"), params={"token": emulator.token}, timeout=5)
    listed = response.json()
    assert listed["total"] == len(listed["templates"]) == len(TEMPLATES)
    for item in listed["templates"]:
        assert set(item) == {"name", "namespace", "language", "category", "status", "components", "rejected_reason"}, (
            "only fields 1MSG lists"
        )
    assert any(isinstance(t["components"], str) for t in listed["templates"])
    assert {(t["name"], t["language"]) for t in listed["templates"]} >= {
        ("specialist_intro", "en_US"),
        ("specialist_intro", "de"),
    }
    page = requests.get(
        emulator.url("templates"), params={"token": emulator.token, "limit": 2, "offset": 2}, timeout=5
    ).json()
    assert page["total"] == len(TEMPLATES) and page["templates"] == listed["templates"][2:4]


def test_a_template_goes_out_with_the_window_closed(emulator):
    answer = emulator.post("sendTemplate", template()).json()
    assert answer["sent"] is True
    history = requests.get(
        emulator.url("messages"),
        params={"chatId": f"{CUSTOMER}@c.us"},
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=5,
    )
    assert history.json()["messages"][0]["body"] == ("Hello Ana, our specialist Jane can help you: call +12025550199.")


@pytest.mark.parametrize(
    "body",
    [
        template(name="nope"),
        template(language="en"),  # typed by a person, not the template's own code
        template(language="fr"),  # a language the template does not exist in
        template(namespace=""),  # no namespace
        template(namespace="other_namespace"),
        template(name="spring_promo", params=()),  # listed, but rejected by Meta
    ],
)
def test_a_template_that_does_not_match_an_approved_one_is_not_defined(emulator, body):
    response = emulator.post("sendTemplate", body)
    assert response.status_code == 200
    assert response.json() == {"sent": False, "message": "Template is not defined"}


@pytest.mark.parametrize(
    "body, meta_code",
    [
        (template(params=("Ana",)), 132000),
        (template(params=("Ana", "Jane", "x", "y")), 132000),
        (template(name="handoff_followup", params=("Ana", "Jane")), 132000),  # header and button missing
        (template(params=("Ana\nRuiz", "Jane", "x")), 132018),
        (template(params=("Ana" + " " * 5 + "Ruiz", "Jane", "x")), 132018),
    ],
)
def test_bad_template_parameters_are_refused_with_meta_codes(emulator, body, meta_code):
    response = emulator.post("sendTemplate", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == meta_code


def test_the_german_template_is_its_own_template(emulator):
    answer = emulator.post("sendTemplate", template(language="de")).json()
    assert answer["sent"] is True
    history = api_get(emulator, "messages", chatId=f"{CUSTOMER}@c.us")["messages"]
    assert history[0]["body"].startswith("Hallo Ana")


def test_after_a_template_is_read_the_customer_replies(emulator, hooked):
    sent = emulator.post("sendTemplate", template("reopen_chat", params=())).json()
    acks_for(hooked, sent["id"], 3)
    reply = hooked.wait_for(lambda _: [m for m in hooked.messages() if m["fromMe"] is False])
    assert reply[0]["body"] == TEMPLATE_REPLY
    assert send_card(emulator).json()["sent"] is True  # the reply opened the window


# ----- webhooks: registration, acks, inbound, retries -----


def test_webhook_registration_replaces_the_list(emulator):
    emulator.post("webhook", {"webhookUrl": ["https://a.example/h", "https://b.example/h"]})
    emulator.post("webhook", {"webhookUrl": "https://c.example/h"})
    response = requests.get(emulator.url("webhook"), params={"token": emulator.token}, timeout=5)
    assert response.json() == {"webhookUrl": ["https://c.example/h"]}


@pytest.mark.parametrize("urls", [[f"https://{i}.example/h" for i in range(6)], ["ftp://x"], [42]])
def test_webhook_registration_is_validated(emulator, urls):
    assert emulator.post("webhook", {"webhookUrl": urls}).status_code == 400


def test_acks_flow_sent_delivered_read_after_an_echo(emulator, hooked):
    emulator.open_window(CUSTOMER)
    sent = send_card(emulator).json()
    acks = acks_for(hooked, sent["id"], 3)
    assert [a["status"] for a in acks] == ["sent", "delivered", "read"]
    assert all(a["chatId"] == f"{CUSTOMER}@c.us" and a["phone"] == CUSTOMER for a in acks)
    echo = [m for m in hooked.messages() if m["id"] == sent["id"]]
    assert echo[0]["fromMe"] == 1 and echo[0]["type"] == "contacts"
    assert all(b["instanceId"] == emulator.channel_id for b in hooked.bodies)


def test_inbound_messages_reach_the_webhook(emulator, hooked):
    stored = emulator.inbound("+" + CUSTOMER, "I still have the billing problem")
    [message] = hooked.wait_for(lambda _: hooked.messages())
    assert message["id"] == stored["id"]
    assert message["fromMe"] is False
    assert message["body"] == "I still have the billing problem"
    assert message["chatId"] == f"{CUSTOMER}@c.us"
    assert isinstance(message["time"], int)


def test_ack_notifications_can_be_switched_off(emulator, hooked):
    emulator.post("settings", {"ackNotificationsOn": False})
    emulator.open_window(CUSTOMER)
    sent = send_card(emulator).json()
    hooked.wait_for(lambda _: [m for m in hooked.messages() if m["id"] == sent["id"]])
    assert wait_until(lambda: emulator.pending() == 0), "the emulator's ack jobs never finished"
    assert hooked.acks() == []


def raw_statuses(bodies) -> list[dict]:
    """Every statuses[] item of raw Meta webhook bodies."""
    return [s for b in bodies for e in b.get("entry", []) for c in e["changes"] for s in c["value"]["statuses"]]


def test_raw_hooks_setting_posts_meta_statuses(emulator, hooked):
    emulator.post("settings", {"rawHooks": True})
    emulator.open_window(CUSTOMER)
    sent = send_card(emulator).json()
    statuses = hooked.wait_for(lambda bodies: len(raw_statuses(bodies)) >= 3 and raw_statuses(bodies))
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert statuses[0]["id"] == sent["id"] and statuses[0]["recipient_id"] == CUSTOMER
    assert hooked.acks() == []


def wait_for_deliveries(emulator, count, timeout=3.0) -> list[dict]:
    """Poll the emulator's delivery log until it holds `count` webhook POSTs."""
    wait_until(lambda: len(emulator.deliveries()) >= count, timeout, interval=0.02)
    return emulator.deliveries()


def test_failed_webhook_posts_are_retried(emulator, hooked):
    hooked.fail_next = 2
    emulator.inbound(CUSTOMER, "Hi")
    hooked.wait_for(lambda _: hooked.messages())
    attempts = [(d["attempt"], d["status"]) for d in wait_for_deliveries(emulator, 3)]
    assert attempts == [(1, 500), (2, 500), (3, 200)]


def test_unreachable_webhooks_are_recorded_as_errors(emulator):
    emulator.post("webhook", {"webhookUrl": "http://127.0.0.1:9/nowhere"})
    emulator.inbound(CUSTOMER, "Hi")
    deliveries = wait_for_deliveries(emulator, 4)
    assert [d["attempt"] for d in deliveries] == [1, 2, 3, 4]
    assert all(d["status"] is None and d["error"] for d in deliveries)


# ----- history, hookInfo, status, reset -----


def api_get(emulator, method, **params):
    """GET a 1MSG method with the header token and return the JSON."""
    return requests.get(
        emulator.url(method), params=params, timeout=5, headers={"Authorization": f"Bearer {emulator.token}"}
    ).json()


def test_hook_info_reports_the_latest_status(emulator, hooked):
    emulator.open_window(CUSTOMER)
    sent = send_card(emulator).json()
    acks_for(hooked, sent["id"], 3)
    [hook] = api_get(emulator, "hookInfo", messageId=sent["id"])["hooks"]
    assert hook["status"] == "read" and hook["type"] == "message"
    assert hook["timestamp"].isdigit() and hook["recipient_id"] == CUSTOMER
    assert api_get(emulator, "hookInfo", messageId="wamid.nope") == {"hooks": []}


def test_messages_history_is_newest_first_with_a_limit(emulator):
    emulator.inbound(CUSTOMER, "one", time=int(time.time()) - 60)
    emulator.inbound(CUSTOMER, "two")
    emulator.post("sendMessage", {"phone": CUSTOMER, "body": "three"})
    history = api_get(emulator, "messages", chatId=f"{CUSTOMER}@c.us", last="true", limit=2)
    assert [(m["body"], m["fromMe"]) for m in history["messages"]] == [("three", True), ("two", False)]


def test_status_is_connected(emulator):
    assert api_get(emulator, "status") == {"status": "connected"}


def test_reset_clears_state(emulator):
    emulator.post("webhook", {"webhookUrl": "https://a.example/h"})
    emulator.post("settings", {"rawHooks": True})
    emulator.inbound(CUSTOMER, "Hi")
    emulator.reset()
    assert emulator.requests() == [] and emulator.deliveries() == []
    assert api_get(emulator, "webhook") == {"webhookUrl": []}
    assert api_get(emulator, "settings")["rawHooks"] is False
    assert send_card(emulator).json()["sent"] is False  # the inbound message is gone


# ----- scripted faults -----


def test_the_fault_table_documents_0001_to_0015():
    assert sorted(FAULTS) == [f"{n:04d}" for n in range(1, 16)]


@pytest.mark.parametrize(
    "code, status, retry_after",
    [
        ("0002", 429, "1"),
        ("0003", 500, None),
        ("0012", 503, "1"),
    ],
)
def test_transport_faults_answer_before_the_window_and_send_nothing(emulator, code, status, retry_after):
    response = send_card(emulator, faulty(code))  # window closed: the fault still wins
    assert response.status_code == status
    assert response.headers.get("Retry-After") == retry_after
    assert api_get(emulator, "messages", chatId=f"{faulty(code)}@c.us")["messages"] == []


def test_0003_says_internal_error(emulator):
    assert send_card(emulator, faulty("0003")).json() == {"error": "Internal error"}


def test_0004_answers_late_but_the_card_went(emulator, hooked):
    emulator.open_window(faulty("0004"))
    started = time.monotonic()
    answer = send_card(emulator, faulty("0004")).json()
    assert time.monotonic() - started >= SLOW_SECONDS * 0.9
    assert answer["sent"] is True
    assert [a["status"] for a in acks_for(hooked, answer["id"], 3)] == ["sent", "delivered", "read"]


@pytest.mark.parametrize(
    "code, error",
    [
        ("0007", "Phone number is not a valid WhatsApp number"),
    ],
)
def test_0007_is_an_invalid_recipient(emulator, code, error):
    emulator.open_window(faulty(code))
    response = send_card(emulator, faulty(code))
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_0008_garbles_the_answer_but_the_card_went(emulator):
    emulator.open_window(faulty("0008"))
    response = send_card(emulator, faulty("0008"))
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    history = api_get(emulator, "messages", chatId=f"{faulty('0008')}@c.us")["messages"]
    assert [m["type"] for m in history if m["fromMe"]] == ["contacts"]


def test_0009_is_queued_without_an_id(emulator):
    emulator.open_window(faulty("0009"))
    answer = send_card(emulator, faulty("0009")).json()
    assert answer["sent"] is False and answer["jobId"].startswith("job-") and "id" not in answer


def test_0010_reports_131026_in_a_later_failed_status_not_in_the_answer(emulator, hooked):
    emulator.open_window(faulty("0010"))
    response = send_card(emulator, faulty("0010"))
    assert response.status_code == 200 and response.json()["sent"] is True
    [status] = hooked.wait_for(raw_statuses)
    assert (status["id"], status["status"]) == (response.json()["id"], "failed")
    assert status["errors"][0]["code"] == 131026


def test_0013_is_a_429_without_retry_after_once(emulator):
    emulator.open_window(faulty("0013"))
    first = send_card(emulator, faulty("0013"))
    assert first.status_code == 429 and "Retry-After" not in first.headers
    assert send_card(emulator, faulty("0013")).json()["sent"] is True


def test_0014_says_sent_as_a_string(emulator):
    emulator.open_window(faulty("0014"))
    assert send_card(emulator, faulty("0014")).json()["sent"] == "true"


def test_0015_refuses_a_closed_window_with_re_engagement_and_no_code(emulator):
    assert send_card(emulator, faulty("0015")).json() == {"sent": "false", "message": "Re-engagement message"}


def test_acks_flow_only_after_ack_notifications_are_switched_on(emulator, webhook_receiver):
    emulator.post("webhook", {"webhookUrl": webhook_receiver.url})
    assert api_get(emulator, "settings")["ackNotificationsOn"] is False, "as on a new channel"
    emulator.open_window(CUSTOMER)
    sent = send_card(emulator).json()
    webhook_receiver.wait_for(lambda _: [m for m in webhook_receiver.messages() if m["fromMe"]])
    assert wait_until(lambda: emulator.pending() == 0), "the emulator's ack jobs never finished"
    assert [a for a in webhook_receiver.acks() if a["id"] == sent["id"]] == []
    emulator.post("settings", {"ackNotificationsOn": True})
    later = send_card(emulator).json()
    assert [a["status"] for a in acks_for(webhook_receiver, later["id"], 3)] == ["sent", "delivered", "read"]


@pytest.mark.parametrize("code", ["0007", "0009", "0010"])
def test_recipient_faults_come_after_the_window_check(emulator, code):
    assert send_card(emulator, faulty(code)).json() == {"sent": False, "message": "Dialog window is closed"}


def test_0001_fails_after_sent(emulator, hooked):
    emulator.open_window(faulty("0001"))
    sent = send_card(emulator, faulty("0001")).json()
    acks = acks_for(hooked, sent["id"], 2)
    assert [a["status"] for a in acks] == ["sent", "failed"]
    assert acks[1]["error"] == "User's number is part of an experiment"
    assert api_get(emulator, "hookInfo", messageId=sent["id"])["hooks"][0]["status"] == "failed"


def test_0005_delivers_every_ack_twice(emulator, hooked):
    emulator.open_window(faulty("0005"))
    sent = send_card(emulator, faulty("0005")).json()
    acks = acks_for(hooked, sent["id"], 6)
    assert [a["status"] for a in acks] == ["sent", "sent", "delivered", "delivered", "read", "read"]


def test_0006_sends_acks_out_of_order(emulator, hooked):
    emulator.open_window(faulty("0006"))
    sent = send_card(emulator, faulty("0006")).json()
    assert [a["status"] for a in acks_for(hooked, sent["id"], 3)] == ["read", "sent", "delivered"]
    # A status never moves backwards: hookInfo still says read.
    assert api_get(emulator, "hookInfo", messageId=sent["id"])["hooks"][0]["status"] == "read"


def test_0011_fails_through_a_raw_meta_webhook(emulator, hooked):
    emulator.open_window(faulty("0011"))
    sent = send_card(emulator, faulty("0011")).json()
    [status] = hooked.wait_for(raw_statuses)
    assert (status["id"], status["status"]) == (sent["id"], "failed")
    assert status["errors"][0]["code"] == 131047
    assert status["errors"][0]["title"] == "Re-engagement message"
    assert [a["status"] for a in hooked.acks()] == ["sent"]
