"""Webhook bodies as the database can hold them, whatever was posted.

The request keeps the raw text (only what no database column can hold is replaced) and
checks that it is JSON; the applier loads it again through `load_clean`, which gives
values every column accepts: no lone surrogates or NUL in strings, no nesting past
MAX_DEPTH, no integer too long to convert.
"""

import json
import re
from dataclasses import dataclass

REPLACEMENT = "\ufffd"
# Events sit at most 7 levels down (entry, changes, value, statuses, item, errors, error_data):
# anything deeper is no event of ours, and is cut so walking the body stays cheap and safe.
MAX_DEPTH = 32
# Python refuses to turn integers over 4,300 digits into int (and that takes time): anything
# longer than a Unix time or an error code becomes a float (inf when huge), which the parser refuses.
MAX_INT_DIGITS = 30
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class StorableBody:
    text: str
    error: str | None = None  # set when the body is not JSON at all


def storable(raw: bytes) -> StorableBody:
    """The raw body as text any database stores, and whether it is JSON at all."""
    text = raw.decode("utf-8", errors="replace").replace("\x00", REPLACEMENT)
    try:
        json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        return StorableBody(text, f"body is nested deeper than we can read (keep it under {MAX_DEPTH} levels)")
    except ValueError as exc:
        return StorableBody(text, f"body is not JSON: {exc}")
    return StorableBody(text)


def load_clean(text: str):
    """Decode a stored body into values every column accepts; raises ValueError if not JSON."""
    try:
        value = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError("body is nested too deeply") from None
    return clean(value)


def clean(value, depth: int = 0):
    """Strip lone surrogates and NUL from strings (keys too) and cut nesting past MAX_DEPTH."""
    if isinstance(value, str):
        return clean_text(value)
    if depth >= MAX_DEPTH and isinstance(value, (list, dict)):
        return None
    if isinstance(value, list):
        return [clean(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): clean(item, depth + 1) for key, item in value.items()}
    return value


def clean_text(text: str) -> str:
    """Text PostgreSQL and UTF-8 accept: lone surrogates and NUL become U+FFFD."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    return _LONE_SURROGATE.sub(REPLACEMENT, text).replace("\x00", REPLACEMENT)


def _bounded_int(digits: str):
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)
