"""Phone numbers: turn what a person typed into E.164, or say plainly what to fix."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

__all__ = ["PhoneError", "normalize_phone", "to_recipient_digits", "format_for_display"]

# Longer input is never a phone number; refusing early keeps parsing cheap.
MAX_INPUT_LENGTH = 64
# E.164 allows at most 15 digits; the shortest numbers in use (e.g. Niue) have 7.
MIN_E164_DIGITS, MAX_E164_DIGITS = 7, 15

ASK_FOR_COUNTRY_CODE = "Add the country code, e.g. +1 202 555 0199."
_EXTENSION = re.compile(r"(?i)(?<![a-z])(?:ext(?:ension)?\.?|x|#)\s*\d+$")
# Separators people type between digit groups; anything else is not part of a number.
_SEPARATORS = frozenset(" -().,/\t\u00a0\u2010\u2011\u2012\u2013\u2212")
_PLUS_SIGNS = frozenset("+\uff0b")
_ASCII_DIGITS = frozenset("0123456789")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# Ofcom reserves +44 7700 900000-900999 for drama and demos; phonenumbers calls them invalid,
# but our samples and demo data use them, so they count as valid mobiles.
_FICTIONAL_MOBILE = re.compile(r"\+447700900\d{3}")


class PhoneError(ValueError):
    """A phone number we cannot use, with a message a person can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize_phone(raw: str, *, default_region: str | None = None, require_mobile: bool = False) -> str:
    """Return the number as E.164 (e.g. "+447700900123") or raise PhoneError."""
    text = _clean_text(raw)
    candidate = _international_candidate(text, default_region)
    number = _parse(candidate, text, default_region)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if not _is_valid(number, e164):
        message = _invalid_message(text, number)
        if default_region is None and not text.startswith(("+", "00")):
            # We guessed the digits carry a country code; most likely they did not.
            message = f"{message} {ASK_FOR_COUNTRY_CODE}"
        raise PhoneError(message)
    if require_mobile:
        _check_mobile(number, e164)
    return e164


def to_recipient_digits(e164: str) -> str:
    """Return the digits-only form 1MSG wants as `phone` (no plus)."""
    if not _looks_like_e164(e164):
        raise PhoneError(f"“{_shown(e164)}” is not a valid phone number in +<digits> form.")
    return e164[1:]


def format_for_display(e164: str) -> str:
    """Return the number in international format, e.g. "+44 7700 900123"."""
    if not _looks_like_e164(e164):
        raise PhoneError(f"“{_shown(e164)}” is not a valid phone number in +<digits> form.")
    return phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.INTERNATIONAL)


def _clean_text(raw: object) -> str:
    """Strip, refuse empty/extension/letters, and turn any script's digits into ASCII."""
    if not isinstance(raw, str) or not raw.strip():
        raise PhoneError("Enter a phone number.")
    text = _ascii_digits(raw.strip())
    if len(text) > MAX_INPUT_LENGTH:
        raise PhoneError(f"“{_shown(text)}” is not a valid phone number: it is far too long.")
    # Extensions are checked before letters because "ext." is made of letters.
    if _EXTENSION.search(text):
        raise PhoneError("Remove the extension: WhatsApp numbers have none.")
    if any(ch.isalpha() for ch in text):
        # phonenumbers would turn 1-800-MICROSOFT into digits; a WhatsApp number has none.
        raise PhoneError("A phone number has digits only: remove the letters.")
    return text


def _ascii_digits(text: str) -> str:
    """Replace decimal digits of any script (Arabic-Indic, Devanagari...) by ASCII ones."""
    # decimal() rather than digit(): it only takes true digits, not superscripts or circled.
    return "".join(
        str(unicodedata.decimal(ch))
        if unicodedata.decimal(ch, None) is not None
        else ("+" if ch in _PLUS_SIGNS else ch)
        for ch in text
    )


def _international_candidate(text: str, default_region: str | None) -> str:
    """Return the text rewritten with a leading '+' when it is clearly international."""
    bad = [ch for ch in text if not (ch in _ASCII_DIGITS or ch in _SEPARATORS or ch == "+")]
    if bad or "+" in text[1:]:  # a plus belongs only in front
        raise PhoneError(f"“{_shown(text)}” is not a valid phone number: use digits, spaces and an optional leading +.")
    digits = "".join(ch for ch in text if ch in _ASCII_DIGITS)
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if default_region is None:
        # A trunk 0 or brackets around an area code mean a national number: no country code.
        if digits.startswith("0") or "(" in text:
            raise PhoneError(ASK_FOR_COUNTRY_CODE)
        return "+" + digits  # 1MSG's own form: country code and digits, no plus
    return digits


def _parse(candidate: str, text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """Parse with phonenumbers, preferring the region but falling back to international."""
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise PhoneError(_parse_failure_message(text, exc, region)) from None
    if candidate.startswith("+") or phonenumbers.is_valid_number(number):
        return number
    # Digits without a plus that do not fit the region may still be 1MSG's country-code form.
    try:
        international = phonenumbers.parse("+" + candidate, None)
    except NumberParseException:
        return number
    return international if phonenumbers.is_valid_number(international) else number


def _parse_failure_message(text: str, exc: NumberParseException, region: str | None) -> str:
    """Explain a phonenumbers parse failure in words a support agent understands."""
    if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None and not text.startswith("+"):
        return ASK_FOR_COUNTRY_CODE
    if exc.error_type in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return f"“{_shown(text)}” is not a valid phone number: it is too short."
    if exc.error_type == NumberParseException.TOO_LONG:
        return f"“{_shown(text)}” is not a valid phone number: it is too long."
    return f"“{_shown(text)}” is not a valid phone number: check the country code and digits."


def _is_valid(number: phonenumbers.PhoneNumber, e164: str) -> bool:
    """True when the number exists in the numbering plan and fits E.164 length."""
    if not MIN_E164_DIGITS <= len(e164) - 1 <= MAX_E164_DIGITS or not e164[1:].isdigit():
        return False
    return phonenumbers.is_valid_number(number) or bool(_FICTIONAL_MOBILE.fullmatch(e164))


def _invalid_message(text: str, number: phonenumbers.PhoneNumber) -> str:
    """Say why a parsed number is not valid: length first, since that is easiest to fix."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    detail = {
        phonenumbers.ValidationResult.TOO_SHORT: "it is too short",
        phonenumbers.ValidationResult.TOO_LONG: "it is too long",
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "the country code is unknown",
    }.get(reason, "check the country code and digits")
    return f"“{_shown(text)}” is not a valid phone number: {detail}."


def _check_mobile(number: phonenumbers.PhoneNumber, e164: str) -> None:
    """Refuse numbers that cannot be mobiles, since WhatsApp runs on mobiles."""
    if _FICTIONAL_MOBILE.fullmatch(e164):
        return
    kind = phonenumbers.number_type(number)
    if kind in _MOBILE_TYPES:
        return
    shown = format_for_display(e164)
    if kind == PhoneNumberType.FIXED_LINE:
        raise PhoneError(f"{shown} is a landline/fixed number; WhatsApp needs a mobile number.")
    label = PhoneNumberType.to_string(kind).lower().replace("_", " ")
    raise PhoneError(f"{shown} is a {label} number; WhatsApp needs a mobile number.")


def _looks_like_e164(value: object) -> bool:
    """True for '+' followed by 7-15 ASCII digits."""
    return (
        isinstance(value, str)
        and value.startswith("+")
        and value[1:].isascii()
        and value[1:].isdigit()
        and MIN_E164_DIGITS <= len(value) - 1 <= MAX_E164_DIGITS
    )


def _shown(text: object) -> str:
    """Return the input cut short enough to quote back in a message."""
    text = str(text).replace("\n", " ")
    return text if len(text) <= 32 else text[:31] + "…"
