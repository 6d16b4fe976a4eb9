"""1MSG webhook parsing: every documented shape, malformed bodies, and a never-crash property."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onemsg.webhooks import (
    STATUS_RANK,
    InboundMessage,
    ParsedWebhook,
    StatusUpdate,
    WebhookFormatError,
    normalize_status,
    parse_body,
    parse_payload,
)

# A copy of shared/data/onemsg-webhooks.json kept with the tests, so a fresh clone has it.
SHARED_SAMPLES = Path(__file__).resolve().parent / "data" / "onemsg-webhooks.json"
WAMID_A = "wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1QUFB"
CUSTOMER = "14155552671"


def utc(seconds: int) -> datetime:
    """An aware UTC datetime from Unix seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


# Inline copies of three shared samples, so this file stands alone.
FAILED_ACK = {
    "instanceId": "371267300",
    "ack": [
        {
            "id": "wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1QkJC",
            "status": "failed",
            "chatId": "14155552671@c.us",
            "phone": "14155552671",
            "error": "User's number is part of an experiment",
        }
    ],
}
HOOKS_WITH_TIMESTAMP = {
    "instanceId": "371267300",
    "hooks": [{"id": WAMID_A, "status": "read", "timestamp": "1764080000", "chatId": "14155552671@c.us"}],
}
RAW_META = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "1029384756",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "12025550100", "phone_number_id": "5566778899"},
                        "statuses": [
                            {
                                "id": "wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1RUVF",
                                "status": "failed",
                                "timestamp": "1764079300",
                                "recipient_id": "14155552671",
                                "errors": [
                                    {
                                        "code": 131047,
                                        "title": "Re-engagement message",
                                        "message": "Re-engagement message",
                                        "error_data": {
                                            "details": "Message failed to send because "
                                            "more than 24 hours have passed since the "
                                            "customer last replied to this number."
                                        },
                                    }
                                ],
                            }
                        ],
                    },
                }
            ],
        }
    ],
}

RE_ENGAGEMENT_TEXT = (
    "Re-engagement message: Message failed to send because more than 24 hours "
    "have passed since the customer last replied to this number."
)

# What each shared sample must parse to, keyed by its "what".
EXPECTED = {
    "normalized status acks, one POST carrying two events": ParsedWebhook(
        "371267300",
        [StatusUpdate(WAMID_A, "sent", recipient=CUSTOMER), StatusUpdate(WAMID_A, "delivered", recipient=CUSTOMER)],
    ),
    "failed ack with a plain-text error and no code": ParsedWebhook(
        "371267300",
        [
            StatusUpdate(
                "wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1QkJC",
                "failed",
                error="User's number is part of an experiment",
                recipient=CUSTOMER,
            )
        ],
    ),
    "hooks[] naming, with a timestamp (seconds, as a string)": ParsedWebhook(
        "371267300", [StatusUpdate(WAMID_A, "read", occurred_at=utc(1764080000), recipient=CUSTOMER)]
    ),
    "older status values: viewed means read, undelivered means failed": ParsedWebhook(
        "371267300",
        [
            StatusUpdate("wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1Q0ND", "read", recipient=CUSTOMER),
            StatusUpdate("wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1RERE", "failed", recipient=CUSTOMER),
        ],
    ),
    "inbound customer message (opens the 24-hour window); time in Unix seconds": ParsedWebhook(
        "371267300",
        messages=[
            InboundMessage(
                "wamid.HBgNMTQxNTU1NTI2NzEVAgASGBQzQTlF",
                CUSTOMER,
                False,
                utc(1764079000),
                body="Hi, I still have the billing problem",
                type="chat",
                sender_name="Ana Ruiz",
            )
        ],
    ),
    "echo of our own outgoing message (fromMe as 1): does not open or extend the window": ParsedWebhook(
        "371267300", messages=[InboundMessage(WAMID_A, CUSTOMER, True, utc(1764079100), body="", type="contacts")]
    ),
    "inbound media message: body is a temporary file URL, text in caption": ParsedWebhook(
        "371267300",
        messages=[
            InboundMessage(
                "wamid.HBgNMTQxNTU1NTI2NzEVAgASGBQzQkZF",
                CUSTOMER,
                False,
                utc(1764079200),
                body="https://files.example/abc.jpg",
                type="image",
                caption="screenshot of the error",
            )
        ],
    ),
    "raw Meta format (channel setting rawHooks): statuses with codes": ParsedWebhook(
        None,
        [
            StatusUpdate(
                "wamid.HBgLMTQxNTU1NTI2NzEVAgARGBI1RUVF",
                "failed",
                occurred_at=utc(1764079300),
                error=RE_ENGAGEMENT_TEXT,
                error_code=131047,
                recipient=CUSTOMER,
            )
        ],
    ),
}


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (FAILED_ACK, "failed ack with a plain-text error and no code"),
        (HOOKS_WITH_TIMESTAMP, "hooks[] naming, with a timestamp (seconds, as a string)"),
        (RAW_META, "raw Meta format (channel setting rawHooks): statuses with codes"),
    ],
)
def test_inline_samples(body, what):
    assert parse_payload(body) == EXPECTED[what]
    assert parse_body(json.dumps(body).encode()) == EXPECTED[what]


def test_every_shared_sample_parses_as_expected():
    samples = json.loads(SHARED_SAMPLES.read_text(encoding="utf-8"))["samples"]
    assert {sample["what"] for sample in samples} <= set(EXPECTED), "new sample: add it above"
    for sample in samples:
        assert parse_payload(sample["body"]) == EXPECTED[sample["what"]], sample["what"]


def test_occurred_at_is_utc_aware():
    update = parse_payload(HOOKS_WITH_TIMESTAMP).statuses[0]
    assert update.occurred_at.tzinfo is not None
    assert update.occurred_at.utcoffset().total_seconds() == 0
    assert update.occurred_at == datetime(2025, 11, 25, 14, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sent", "sent"),
        ("DELIVERED", "delivered"),
        (" Read ", "read"),
        ("failed", "failed"),
        ("viewed", "read"),
        ("played", "read"),
        ("Undelivered", "failed"),
        ("pending", None),
        ("deleted", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_normalize_status(raw, expected):
    assert normalize_status(raw) == expected


def test_status_rank_orders_progress():
    assert STATUS_RANK["sent"] < STATUS_RANK["delivered"] < STATUS_RANK["read"]
    assert "failed" not in STATUS_RANK  # failed is not a step forward; callers decide


def test_unknown_status_values_are_ignored_with_a_reason_not_raised():
    parsed = parse_payload(
        {"ack": [{"id": "a", "status": "queued"}, {"id": "b", "status": "Played"}, {"id": "c", "status": "deleted"}]}
    )
    assert parsed.statuses == [StatusUpdate("b", "read")]
    assert len(parsed.ignored) == 2
    assert "ack[0]" in parsed.ignored[0] and "'queued'" in parsed.ignored[0]
    assert "ack[2]" in parsed.ignored[1] and "'deleted'" in parsed.ignored[1]


@pytest.mark.parametrize("from_me", [True, 1, "1", "true"])
def test_from_me_variants_mean_ours(from_me):
    body = {"messages": [{"id": "m", "fromMe": from_me, "time": "1764079000", "chatId": "14155552671@c.us"}]}
    message = parse_payload(body).messages[0]
    assert message.from_me is True and message.sent_at == utc(1764079000)


@pytest.mark.parametrize("from_me", [False, 0, "0", "false"])
def test_from_me_variants_mean_customer(from_me):
    body = {"messages": [{"id": "m", "fromMe": from_me, "time": 1764079000, "phone": "14155552671"}]}
    assert parse_payload(body).messages[0].from_me is False


def test_chat_phone_falls_back_to_author():
    body = {"messages": [{"id": "m", "fromMe": False, "time": 1, "author": "447700900123@c.us"}]}
    assert parse_payload(body).messages[0].chat_phone == "447700900123"


def test_raw_meta_inbound_message_is_from_the_customer():
    body = {
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "contacts": [{"profile": {"name": "Ana Ruiz"}, "wa_id": "14155552671"}],
                            "messages": [
                                {
                                    "from": "14155552671",
                                    "id": "wamid.in",
                                    "timestamp": "1764079000",
                                    "type": "text",
                                    "text": {"body": "hello"},
                                }
                            ],
                        }
                    }
                ]
            }
        ]
    }
    assert parse_payload(body).messages == [
        InboundMessage("wamid.in", CUSTOMER, False, utc(1764079000), body="hello", type="text", sender_name="Ana Ruiz")
    ]


def test_meta_change_without_events_is_noted():
    body = {"entry": [{"changes": [{"field": "account_update", "value": {"event": "x"}}]}]}
    parsed = parse_payload(body)
    assert parsed.statuses == [] and parsed.messages == []
    assert "account_update" in parsed.ignored[0]


def test_error_object_and_string_codes_are_read():
    body = {"ack": [{"id": "x", "status": "failed", "error": {"code": "131026", "title": "Message undeliverable"}}]}
    update = parse_payload(body).statuses[0]
    assert (update.error, update.error_code) == ("Message undeliverable", 131026)


def test_one_post_may_carry_several_arrays():
    body = {
        "instanceId": 371267300,
        "ack": [{"id": "a", "status": "sent"}],
        "messages": [{"id": "m", "fromMe": 0, "time": 5, "chatId": "1@c.us"}],
    }
    parsed = parse_payload(body)
    assert parsed.instance_id == "371267300"
    assert len(parsed.statuses) == 1 and len(parsed.messages) == 1


def test_empty_event_array_is_not_an_error():
    assert parse_payload({"ack": []}) == ParsedWebhook(None)


@pytest.mark.parametrize(
    "body",
    [
        {"instanceId": "1"},
        {"ack": None},
        {"instanceId": "1", "type": "calls", "data": {"id": "c", "from": "14155552671@c.us"}},
    ],
)
def test_a_body_with_no_event_array_is_kept_as_ignored(body):
    parsed = parse_payload(body)
    assert parsed.statuses == [] and parsed.messages == []
    assert len(parsed.ignored) == 1 and "no ack, hooks, messages or entry array" in parsed.ignored[0]


@pytest.mark.parametrize(
    "chat_id, kind, phone, bsuid",
    [
        ("14155552671@c.us", "phone", "14155552671", None),
        ("104729384756201@lid", "lid", None, "104729384756201"),
        ("120363041234567890@g.us", "group", None, None),
    ],
)
def test_chat_ids_are_told_apart(chat_id, kind, phone, bsuid):
    body = {"messages": [{"id": "m", "fromMe": False, "time": 5, "chatId": chat_id, "author": chat_id}]}
    [message] = parse_payload(body).messages
    assert (message.chat_kind, message.chat_phone, message.bsuid) == (kind, phone, bsuid)


def test_bsuids_beside_phones_are_read_from_acks_and_messages():
    parsed = parse_payload(
        {
            "ack": [
                {
                    "id": "a",
                    "status": "sent",
                    "chatId": "14155552671@c.us",
                    "phone": "14155552671",
                    "bsuid": "104729384756201",
                    "category": "utility",
                    "userName": "ana",
                }
            ],
            "messages": [
                {
                    "id": "m",
                    "fromMe": False,
                    "time": 5,
                    "chatId": "14155552671@c.us",
                    "authorBsuid": "104729384756201",
                    "authorUserName": "ana",
                }
            ],
        }
    )
    assert (parsed.statuses[0].bsuid, parsed.statuses[0].recipient) == ("104729384756201", "14155552671")
    assert (parsed.messages[0].bsuid, parsed.messages[0].chat_phone) == ("104729384756201", "14155552671")
    lid_ack = parse_payload({"ack": [{"id": "a", "status": "read", "chatId": "104729384756201@lid"}]})
    assert lid_ack.statuses[0].recipient is None, "a BSUID is never read as a phone"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "body is an array, not a JSON object"),
        ("ack", "body is text, not a JSON object"),
        ({"ack": {"id": "x"}}, "ack is an object, expected an array"),
        ({"ack": ["x"]}, "ack[0] is text, expected an object"),
        ({"ack": [{"status": "sent"}]}, "ack[0].id is missing"),
        ({"ack": [{"id": "", "status": "sent"}]}, "ack[0].id is missing"),
        ({"ack": [{"id": ["a"], "status": "sent"}]}, "ack[0].id is an array, expected text"),
        ({"hooks": [{"id": "a"}]}, "hooks[0].status is missing"),
        ({"ack": [{"id": "a", "status": "sent", "timestamp": "soon"}]}, "ack[0].timestamp 'soon' is not Unix seconds"),
        ({"ack": [{"id": "a", "status": "sent", "timestamp": 1764079000000}]}, "milliseconds?"),
        (
            {"ack": [{"id": "a", "status": "failed", "error": 5}]},
            "ack[0].error is a number, expected text or an object",
        ),
        ({"messages": [{"id": "m", "time": 1, "chatId": "1@c.us"}]}, "messages[0].fromMe is missing"),
        (
            {"messages": [{"id": "m", "fromMe": 2, "time": 1, "chatId": "1@c.us"}]},
            "messages[0].fromMe 2 is not true/false or 1/0",
        ),
        ({"messages": [{"id": "m", "fromMe": True, "chatId": "1@c.us"}]}, "messages[0].time is missing"),
        ({"messages": [{"id": "m", "fromMe": True, "time": 1}]}, "messages[0].chatId is missing"),
        ({"messages": [{"id": "m", "fromMe": True, "time": 1, "chatId": "x@c.us"}]}, "holds no phone digits"),
        ({"entry": [{"changes": {}}]}, "entry[0].changes is an object, expected an array"),
        (
            {"entry": [{"changes": [{"value": {"statuses": [{"id": "s"}]}}]}]},
            "entry[0].changes[0].value.statuses[0].status is missing",
        ),
        (
            {
                "entry": [
                    {
                        "changes": [
                            {"value": {"statuses": [{"id": "s", "status": "failed", "errors": [{"code": "bad"}]}]}}
                        ]
                    }
                ]
            },
            "entry[0].changes[0].value.statuses[0].errors[0].code 'bad' is not a numeric error code",
        ),
        ({"instanceId": ["x"], "ack": []}, "instanceId is an array, expected a string"),
    ],
)
def test_malformed_bodies_name_the_problem(body, reason):
    with pytest.raises(WebhookFormatError) as caught:
        parse_payload(body)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "body is empty"),
        (b"not json", "body is not JSON: "),
        (b"\xff\xfe\x00", "body is not UTF-8 text"),
        (b"[" * 100_000, "body is not JSON"),
        (b"12", "body is a number, not a JSON object"),
    ],
)
def test_parse_body_refuses_non_json(raw, reason):
    with pytest.raises(WebhookFormatError, match=reason.replace("?", r"\?")):
        parse_body(raw)


# --- property: any JSON value either parses or raises WebhookFormatError -------------------

KEYS = st.sampled_from(
    [
        "instanceId",
        "ack",
        "hooks",
        "messages",
        "entry",
        "changes",
        "value",
        "statuses",
        "id",
        "status",
        "timestamp",
        "time",
        "fromMe",
        "chatId",
        "phone",
        "author",
        "recipient_id",
        "error",
        "errors",
        "code",
        "title",
        "message",
        "error_data",
        "details",
        "body",
        "type",
        "senderName",
        "caption",
        "from",
        "text",
        "contacts",
        "profile",
        "wa_id",
        "name",
        "field",
    ]
)
PLAUSIBLE = st.sampled_from(
    [
        "sent",
        "delivered",
        "read",
        "failed",
        "viewed",
        "played",
        "pending",
        "wamid.X",
        "1764079000",
        1764079000,
        1764079000000,
        -1,
        True,
        1,
        0,
        "1",
        "0",
        "14155552671@c.us",
        "@c.us",
        "",
        131047,
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | PLAUSIBLE
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), children, max_size=6),
    max_leaves=40,
)
FIELD = PLAUSIBLE | PLAUSIBLE | SCALARS | JSON_VALUES  # mostly plausible, to reach deep paths
NEAR_VALID_ID = st.just("wamid.X") | st.just("w2") | SCALARS
NEAR_VALID_ITEM = st.fixed_dictionaries(
    {"id": NEAR_VALID_ID},
    optional={
        key: FIELD
        for key in (
            "status",
            "timestamp",
            "time",
            "fromMe",
            "chatId",
            "phone",
            "author",
            "recipient_id",
            "error",
            "errors",
            "body",
            "type",
            "caption",
            "from",
            "text",
            "senderName",
        )
    },
)
EVENT_ITEM = NEAR_VALID_ITEM | st.dictionaries(KEYS, SCALARS | JSON_VALUES, max_size=8)
META_ENTRY = st.fixed_dictionaries(
    {
        "changes": st.lists(
            st.fixed_dictionaries(
                {
                    "value": st.fixed_dictionaries(
                        {},
                        optional={
                            "statuses": st.lists(EVENT_ITEM, max_size=3),
                            "messages": st.lists(EVENT_ITEM, max_size=3),
                            "contacts": JSON_VALUES,
                        },
                    )
                }
            ),
            max_size=3,
        )
    }
)
WEBHOOK_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "instanceId": st.just("371267300") | SCALARS,
        "ack": st.lists(EVENT_ITEM, max_size=4),
        "hooks": st.lists(EVENT_ITEM, max_size=4),
        "messages": st.lists(EVENT_ITEM, max_size=4),
        "entry": st.lists(META_ENTRY, max_size=2) | JSON_VALUES,
    },
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES | WEBHOOK_SHAPED)
def test_any_json_parses_or_raises_webhook_format_error(obj):
    try:
        parsed = parse_payload(obj)
    except WebhookFormatError as exc:
        assert exc.reason
        return
    assert isinstance(parsed, ParsedWebhook)
    assert all(update.status in ("sent", "delivered", "read", "failed") for update in parsed.statuses)
    assert all(message.sent_at.tzinfo is not None for message in parsed.messages)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_parse_or_raise_webhook_format_error(raw):
    try:
        assert isinstance(parse_body(raw), ParsedWebhook)
    except WebhookFormatError as exc:
        assert exc.reason


STATUS_SPELLINGS = st.sampled_from(["sent", "delivered", "read", "failed", "viewed", "played", "undelivered"]).flatmap(
    lambda s: st.sampled_from([s, s.upper(), s.title()])
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=10).filter(str.strip), "status": STATUS_SPELLINGS},
            optional={
                "timestamp": st.integers(0, 4_000_000_000) | st.integers(0, 4_000_000_000).map(str),
                "phone": st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True),
            },
        ),
        max_size=6,
    ),
    st.sampled_from(["ack", "hooks"]),
)
def test_well_formed_acks_keep_every_event_in_order(items, array):
    parsed = parse_payload({array: items})
    assert [u.message_id for u in parsed.statuses] == [item["id"] for item in items]
    assert [u.status for u in parsed.statuses] == [normalize_status(i["status"]) for i in items]
    assert [u.recipient for u in parsed.statuses] == [item.get("phone") for item in items]
    assert parsed.ignored == []
