"""Failure triage: each known code or text leads to its action; unknown reasons keep raw text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.triage import ACTION_LABELS, ACTIONS, TRIAGE_TABLE, Triage, explain_failure


@pytest.mark.parametrize(
    ("reason_code", "action", "retry_helps"),
    [
        ("window_closed", "send_template", False),
        ("invalid_recipient", "check_number", False),
        ("auth_failed", "tell_admin", False),
        ("rate_limited", "wait", True),
        ("upstream_error", "retry", True),
        ("upstream_unavailable", "retry", True),
        ("unknown_outcome", "wait", False),  # the card may have gone: never resend blindly
        ("rejected", "tell_admin", False),
        ("circuit_open", "wait", True),
        ("WINDOW_CLOSED", "send_template", False),
    ],
)
def test_client_reason_codes(reason_code, action, retry_helps):
    triage = explain_failure(reason_code, None, None)
    assert (triage.action, triage.retry_helps) == (action, retry_helps)
    assert triage.action_label == ACTION_LABELS[action]
    assert triage.raw == reason_code


@pytest.mark.parametrize(
    ("meta_code", "action", "retry_after"),
    [
        (131047, "send_template", None),
        (131026, "check_number", None),
        (131049, "wait", 24 * 3600),
        (130429, "wait", 60),
        (131056, "wait", 300),
        (130472, "wait", 24 * 3600),
        (131000, "retry", 60),
    ],
)
def test_meta_codes(meta_code, action, retry_after):
    triage = explain_failure(None, None, meta_code)
    assert (triage.action, triage.retry_after_seconds) == (action, retry_after)
    assert triage.raw == f"WhatsApp error {meta_code}"


def test_ecosystem_hold_says_not_now():
    triage = explain_failure(None, None, 131049)
    assert "now" in triage.explanation and triage.retry_after_seconds >= 12 * 3600


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("Dialog window is closed", "send_template"),
        ("dialog WINDOW is closed", "send_template"),
        ("Re-engagement message", "send_template"),
        ("invalid token", "tell_admin"),
        ("Wrong token abc for channel 371267300", "tell_admin"),
        ("Rate limit hit", "wait"),
        ("Too many requests, slow down", "wait"),
        ("(Business Account, Consumer Account) pair rate limit hit", "wait"),
        ("User's number is part of an experiment", "wait"),
        ("Message undeliverable", "check_number"),
        ("Something went wrong", "retry"),
    ],
)
def test_plain_text_errors(text, action):
    triage = explain_failure(None, text, None)
    assert triage.action == action
    assert triage.raw == text


def test_meta_code_wins_over_text_and_text_over_generic_code():
    assert explain_failure("rejected", "Dialog window is closed", None).action == "send_template"
    assert explain_failure("upstream_error", "Message undeliverable", 131047).action == "send_template"


@pytest.mark.parametrize(
    ("reason_code", "text", "meta_code"),
    [
        (None, "Flux capacitor misaligned", None),
        ("something_new", "Flux capacitor misaligned", 999999),
    ],
)
def test_unknown_reason_keeps_raw_text(reason_code, text, meta_code):
    triage = explain_failure(reason_code, text, meta_code)
    assert triage.title == "Not delivered"
    assert triage.raw == text
    assert triage.action == "retry" and triage.retry_helps
    assert "exactly as" in triage.explanation


def test_nothing_known_at_all():
    triage = explain_failure(None, None, None)
    assert (triage.title, triage.action, triage.raw) == ("Not delivered", "retry", None)
    assert "no reason was given" in triage.explanation


def test_retry_after_from_1msg_overrides_default_wait_only_when_retry_helps():
    assert explain_failure("rate_limited", None, None, retry_after_seconds=17).retry_after_seconds == 17
    assert explain_failure("window_closed", None, None, retry_after_seconds=17).retry_after_seconds is None


def test_table_is_consistent():
    assert len({rule.key for rule in TRIAGE_TABLE}) == len(TRIAGE_TABLE)
    codes = [code for rule in TRIAGE_TABLE for code in rule.meta_codes]
    reasons = [code for rule in TRIAGE_TABLE for code in rule.reason_codes]
    assert len(codes) == len(set(codes)) and len(reasons) == len(set(reasons))
    for rule in TRIAGE_TABLE:
        assert rule.action in ACTIONS
        assert all(marker == marker.lower() for marker in rule.text_markers)
        assert rule.reason_codes or rule.meta_codes or rule.text_markers


@settings(max_examples=300, deadline=None)
@given(
    reason_code=st.none() | st.text(max_size=20),
    text=st.none() | st.text(max_size=60),
    meta_code=st.none() | st.integers(),
)
def test_any_input_gives_a_complete_triage(reason_code, text, meta_code):
    triage = explain_failure(reason_code, text, meta_code)
    assert isinstance(triage, Triage)
    assert triage.action in ACTIONS and triage.action_label == ACTION_LABELS[triage.action]
    assert triage.title and triage.explanation
    if text and text.strip():
        assert triage.raw == text  # the reason as given is never lost


@pytest.mark.parametrize(
    "meta_code, text, key_words",
    [
        (132000, None, "map every placeholder"),
        (132001, None, "choose an approved template"),
        (132018, None, "new line, a tab"),
        (None, "Template is not defined", "choose an approved template"),
        (None, "Number of parameters does not match the expected number of params", "map every placeholder"),
        (None, "Param text cannot have new-line/tab characters or more than 4 consecutive spaces", "new line, a tab"),
    ],
)
def test_template_errors_say_what_the_admin_must_fix(meta_code, text, key_words):
    triage = explain_failure("rejected", text, meta_code)
    assert triage.action == "tell_admin" and not triage.retry_helps
    assert key_words in triage.explanation and "Settings" in triage.explanation


@pytest.mark.parametrize(
    "text",
    [
        "Dialog window is closed",
        "outside the allowed window",
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied",
    ],
)
def test_every_window_refusal_text_means_window_closed(text):
    from onemsg.errors import WindowClosed, error_from_refusal

    assert isinstance(error_from_refusal({"sent": False, "message": text}, status_code=200), WindowClosed)
    assert explain_failure("rejected", text, None).action == "send_template"
