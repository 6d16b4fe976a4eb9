"""WhatsApp templates as 1MSG lists them: components, placeholders and the `params` to send.

1MSG identifies a template by (name, language) and needs its `namespace` to send it. Its
`components` come as a list or, on some channels, as a JSON string; both are read here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


@dataclass(frozen=True)
class Slot:
    """One placeholder to fill: where it is (header, body or a URL button) and its number."""

    component: str  # "header", "body" or "button"
    number: int
    button_index: int | None = None

    @property
    def label(self) -> str:
        """How an admin reads it, e.g. "Body {{2}}" or "Button 1 {{1}}"."""
        where = {"header": "Header", "body": "Body"}.get(self.component)
        where = where or f"Button {(self.button_index or 0) + 1}"
        return f"{where} {{{{{self.number}}}}}"


def components_of(template: dict) -> list[dict]:
    """The template's components as a list, whether 1MSG sent a list or a JSON string."""
    raw = template.get("components")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError:
            return []
    return [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []


def language_code(template: dict) -> str:
    """The language code as listed: a string, or an object with `code`."""
    language = template.get("language")
    if isinstance(language, dict):
        language = language.get("code")
    return language if isinstance(language, str) else ""


def template_key(name: str, language: str) -> str:
    """One string for (name, language), the pair that identifies a template."""
    return f"{name}|{language}"


def is_approved(template: dict) -> bool:
    """Only approved templates can be sent."""
    return str(template.get("status") or "").lower() == "approved"


def _numbers(text: Any) -> list[int]:
    """The distinct placeholder numbers of a text, in order."""
    return sorted({int(n) for n in _PLACEHOLDER.findall(str(text or ""))})


def slots(template: dict) -> list[Slot]:
    """Every placeholder of the header, the body and the URL buttons, in sending order."""
    found: list[Slot] = []
    for component in components_of(template):
        kind = str(component.get("type") or "").upper()
        if kind == "HEADER" and str(component.get("format") or "TEXT").upper() == "TEXT":
            found += [Slot("header", n) for n in _numbers(component.get("text"))]
        elif kind == "BODY":
            found += [Slot("body", n) for n in _numbers(component.get("text"))]
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if isinstance(button, dict) and str(button.get("type") or "").upper() == "URL":
                    found += [Slot("button", n, index) for n in _numbers(button.get("url"))]
    return found


def build_params(template: dict, values: Iterable[str]) -> list[dict]:
    """WhatsApp components for `params`: one per header, body and URL button with placeholders."""
    values = list(values)
    template_slots = slots(template)
    if len(values) != len(template_slots):
        raise ValueError(f"The template takes {len(template_slots)} parameter(s), {len(values)} given")
    groups: dict[tuple, list[dict]] = {}
    for slot, value in zip(template_slots, values):
        groups.setdefault((slot.component, slot.button_index), []).append({"type": "text", "text": value})
    params = []
    for (component, index), parameters in groups.items():
        item: dict = {"type": component, "parameters": parameters}
        if component == "button":
            item.update(sub_type="url", index=index)
        params.append(item)
    return params


def rendered_text(template: dict, values: Iterable[str]) -> str:
    """The header and body the customer reads, placeholders filled (others left as written)."""
    by_slot = dict(zip(slots(template), values))
    parts = []
    for component in components_of(template):
        kind = str(component.get("type") or "").lower()
        if kind in ("header", "body") and component.get("text"):

            def fill(match: re.Match, kind: str = kind) -> str:
                return by_slot.get(Slot(kind, int(match.group(1))), match.group(0))

            parts.append(_PLACEHOLDER.sub(fill, str(component["text"])))
    return "\n".join(parts)
