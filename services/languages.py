"""BCP 47 language tags (RFC 5646): well-formed checks, the usual case, and matching.

A regex of the RFC's grammar, not the IANA registry: "xq" is well-formed though no language
has that code (the `langcodes` package would know; it is not among our dependencies). The
grandfathered tags (i-klingon, ...) are refused: nobody needs them for a customer's language.
"""

import re

_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)"
    r"(?P<extensions>(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*)"
    r"(?P<private>-x(?:-[a-z0-9]{1,8})+)?$",
    re.IGNORECASE,
)
_PRIVATE_ONLY = re.compile(r"^x(?:-[a-z0-9]{1,8})+$", re.IGNORECASE)
MAX_LENGTH = 35


class LanguageError(ValueError):
    """Not a BCP 47 language tag, with what to write instead."""


def normalise(code: str) -> str:
    """ "PT-br" -> "pt-BR", "zh-hant-tw" -> "zh-Hant-TW"; LanguageError when not well-formed."""
    code = (code or "").strip().replace("_", "-")
    match = _TAG.match(code) if len(code) <= MAX_LENGTH and code.isascii() else None
    if match is None or _PRIVATE_ONLY.match(code):
        raise LanguageError(f"{code[:40]!r} is not a language code: use BCP 47 codes such as pt, en-GB or zh-Hant.")
    # RFC 5646 2.1.1's case: region upper, script title, the rest lower; all lower after a singleton.
    out: list[str] = []
    for subtag in code.lower().split("-"):
        if not out or any(len(earlier) == 1 for earlier in out):
            out.append(subtag)
        elif len(subtag) == 2:
            out.append(subtag.upper())
        elif len(subtag) == 4 and subtag.isalpha():
            out.append(subtag.title())
        else:
            out.append(subtag)
    return "-".join(out)


def parse_list(text: str) -> list[str]:
    """ "pt, en-gb de" -> ["pt", "en-GB", "de"] (commas or spaces between, duplicates dropped)."""
    codes: list[str] = []
    for raw in re.split(r"[,\s]+", text or ""):
        if raw and (code := normalise(raw)) not in codes:
            codes.append(code)
    return codes


def primary(code: str) -> str:
    """The language without script or region: "pt-BR" -> "pt"."""
    return code.split("-")[0].lower()


def speaks(languages: list[str], wanted: str | None) -> str | None:
    """The specialist's code that serves a customer speaking `wanted` (same primary language)."""
    if not wanted:
        return None
    return next((code for code in languages if primary(code) == primary(wanted)), None)
