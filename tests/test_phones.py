"""Phone normalization: the shared input table, messages a person can act on, properties."""

from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.phones import PhoneError, format_for_display, normalize_phone, to_recipient_digits

# A copy of shared/data/phone-inputs.tsv kept with the tests, so a fresh clone has it.
SHARED_TABLE = Path(__file__).resolve().parent / "data" / "phone-inputs.tsv"

# Inline copy of shared/data/phone-inputs.tsv so this file stands alone:
# (input, expected E.164 or None for "PhoneError").
TABLE_ROWS = [
    ("+1 202-555-0199", "+12025550199"),
    ("(202) 555-0199", None),
    ("0049 30 1234567", "+49301234567"),
    ("+44 7700 900123", "+447700900123"),
    ("+٤٤ ٧٧٠٠ ٩٠٠١٢٣", "+447700900123"),
    ("+1-800-MICROSOFT", None),
    ("+1 202 555 0199 ext. 12", None),
    ("+123", None),
    ("+1234567890123456789", None),
    ("12025550199", "+12025550199"),
    ("", None),
    ("+1 202 555 0199\n", "+12025550199"),
]


def _expectation(expected_column: str) -> str | None:
    """Read the TSV's expected column: an E.164 first word, or anything else = an error."""
    first = expected_column.split()[0] if expected_column.strip() else ""
    return first if first.startswith("+") else None


def _shared_rows() -> list[tuple[str, str | None]]:
    """Rows of the shared TSV, with its `\\n` marker turned into a real newline."""
    lines = SHARED_TABLE.read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t") for line in lines if line.strip()]
    return [(raw.replace("\\n", "\n"), _expectation(expected)) for raw, expected, *_ in rows]


def _check(raw: str, expected: str | None) -> None:
    """Assert the input normalizes to expected, or raises PhoneError when expected is None."""
    if expected is None:
        with pytest.raises(PhoneError):
            normalize_phone(raw)
    else:
        assert normalize_phone(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), TABLE_ROWS)
def test_inline_table_rows(raw, expected):
    _check(raw, expected)


def test_shared_table_file_rows():
    rows = _shared_rows()
    assert len(rows) >= len(TABLE_ROWS)
    for raw, expected in rows:
        _check(raw, expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter a phone number."),
        ("   \n", "Enter a phone number."),
        ("+1-800-MICROSOFT", "A phone number has digits only: remove the letters."),
        ("+1 202 555 0199 ext. 12", "Remove the extension: WhatsApp numbers have none."),
        ("+1 202 555 0199 x123", "Remove the extension: WhatsApp numbers have none."),
        ("+12025550199x1", "Remove the extension: WhatsApp numbers have none."),
        ("(202) 555-0199", "Add the country code, e.g. +1 202 555 0199."),
        ("020 7946 0018", "Add the country code, e.g. +1 202 555 0199."),
    ],
)
def test_messages_a_person_can_act_on(raw, message):
    with pytest.raises(PhoneError) as caught:
        normalize_phone(raw)
    assert str(caught.value) == message == caught.value.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("+123", "too short"),
        ("+1234567890123456789", "too long"),
        ("+1 202 555 0*199", "use digits, spaces"),
        ("+12+025550199", "not a valid phone number"),
    ],
)
def test_invalid_numbers_say_so(raw, words):
    with pytest.raises(PhoneError, match="is not a valid phone number"):
        normalize_phone(raw)
    with pytest.raises(PhoneError, match=words):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0199", "US", "+12025550199"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("07700 900123", "GB", "+447700900123"),
        ("12025550199", "GB", "+12025550199"),  # 1MSG's digits-with-country-code form still works
        ("0049 30 1234567", "US", "+49301234567"),
        ("+49 30 1234567", "GB", "+49301234567"),
    ],
)
def test_default_region_reads_national_formats(raw, region, expected):
    assert normalize_phone(raw, default_region=region) == expected


def test_other_scripts_and_separators():
    assert normalize_phone("+४४ ७७०० ९००१२३") == "+447700900123"  # Devanagari digits
    assert normalize_phone("＋44 7700 900123") == "+447700900123"  # full-width plus
    assert normalize_phone(" +1 (202) 555.0199\t\n") == "+12025550199"


def test_require_mobile_refuses_landlines_and_accepts_mobiles():
    with pytest.raises(PhoneError, match="landline/fixed number; WhatsApp needs a mobile"):
        normalize_phone("+44 20 7946 0018", require_mobile=True)
    with pytest.raises(PhoneError, match="WhatsApp needs a mobile number"):
        normalize_phone("+1 800 642 7676", require_mobile=True)  # toll free
    assert normalize_phone("+44 7700 900123", require_mobile=True) == "+447700900123"
    # US numbers cannot be told apart: FIXED_LINE_OR_MOBILE counts as acceptable.
    assert normalize_phone("+1 202 555 0199", require_mobile=True) == "+12025550199"


def test_recipient_digits_and_display():
    assert to_recipient_digits("+447700900123") == "447700900123"
    assert format_for_display("+447700900123") == "+44 7700 900123"
    assert format_for_display("+12025550199") == "+1 202-555-0199"
    for bad in ("447700900123", "+44 7700", "", "+١٢٣٤٥٦٧٨"):
        with pytest.raises(PhoneError):
            to_recipient_digits(bad)
        with pytest.raises(PhoneError):
            format_for_display(bad)


def _assert_e164_or_error(raw: str, **options) -> str | None:
    """Normalize; the only acceptable outcomes are valid E.164 text or PhoneError."""
    try:
        result = normalize_phone(raw, **options)
    except PhoneError as exc:
        assert str(exc)
        return None
    assert result.startswith("+") and result[1:].isascii() and result[1:].isdigit()
    assert 8 <= len(result) <= 16
    return result


REGIONS = st.sampled_from([None, "US", "GB", "DE", "IN", "BR", "EG"])
PHONEISH = st.text(alphabet="0123456789+ -().x٠١٢٣٤٥٦٧٨٩\n", max_size=24)


@settings(max_examples=300, deadline=None)
@given(raw=st.text() | PHONEISH, region=REGIONS, mobile=st.booleans())
def test_any_text_gives_e164_or_phone_error(raw, region, mobile):
    _assert_e164_or_error(raw, default_region=region, require_mobile=mobile)


@settings(max_examples=300, deadline=None)
@given(raw=PHONEISH | st.from_regex(r"\+?[1-9][0-9]{6,14}", fullmatch=True), region=REGIONS, mobile=st.booleans())
def test_normalizing_twice_changes_nothing(raw, region, mobile):
    first = _assert_e164_or_error(raw, default_region=region, require_mobile=mobile)
    if first is not None:
        assert normalize_phone(first) == first
        assert normalize_phone(first, default_region=region, require_mobile=mobile) == first
        assert normalize_phone(format_for_display(first)) == first
        assert "+" + to_recipient_digits(first) == first


@settings(max_examples=150, deadline=None)
@given(region=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
def test_every_countrys_example_mobile_is_accepted(region):
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return  # a few territories publish no mobile example
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalize_phone(international, require_mobile=True) == e164
    assert normalize_phone(e164[1:]) == e164  # digits only, as 1MSG writes them


def test_digits_without_plus_that_fit_no_country_ask_for_the_code():
    with pytest.raises(PhoneError, match=r"not a valid phone number.*Add the country code"):
        normalize_phone("2025550199")  # US national digits, read as +20 (Egypt): invalid
