"""Password hashing with argon2id (memory-hard; Werkzeug's default is weaker), and the password policy."""

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MIN_STRENGTH_SCORE = 3  # zxcvbn's 0-4 scale


def _hasher() -> PasswordHasher:
    memory = current_app.config.get("PASSWORD_HASH_MEMORY_KIB", 65536)
    return PasswordHasher(time_cost=3, memory_cost=memory, parallelism=4)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a new password is not acceptable, or None.

    zxcvbn estimates how many guesses a password takes (dictionary words, names, keyboard
    patterns, dates, repeats, the person's own email and name); its list of the 30,000 most
    common passwords is refused outright. Score 3 or more means about 10^8 guesses or more."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if password.lower() in _common_passwords():
        return "This is one of the most common passwords: choose one nobody else is likely to use."
    inputs = [part for text in user_inputs for part in _words_of(text)]
    result = zxcvbn(password, user_inputs=inputs)
    if result["score"] < MIN_STRENGTH_SCORE:
        feedback = result["feedback"]
        advice = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
        advice = advice or "Add another word or two; uncommon words are better."
        return f"This password is too easy to guess. {advice}".strip()
    return None


def _words_of(text: str) -> list[str]:
    """An email or a name, and its parts: a password built from them is easy to guess."""
    text = (text or "").lower()
    return [text, *[part for part in re.split(r"[^a-z0-9]+", text) if len(part) > 2]]


def _common_passwords() -> frozenset[str]:
    global _COMMON
    if _COMMON is None:
        _COMMON = frozenset(FREQUENCY_LISTS["passwords"])
    return _COMMON


_COMMON: frozenset[str] | None = None
