"""Contact cards: the WhatsApp `contacts[]` item 1MSG sends, and the same card as a vCard."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import vobject

PHONE_TYPES = frozenset({"CELL", "MAIN", "IPHONE", "HOME", "WORK"})
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


@dataclass
class CardData:
    """What a contact card says about a specialist."""

    formatted_name: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""  # E.164 with the leading +
    phone_type: str = "CELL"
    email: str | None = None
    company: str | None = None
    department: str | None = None
    title: str | None = None


def _check(card: CardData) -> None:
    """Refuse a card WhatsApp would refuse."""
    if not (card.formatted_name or "").strip():
        raise ValueError("A contact card needs a formatted name")
    if not ((card.first_name or "").strip() or (card.last_name or "").strip()):
        raise ValueError("A contact card needs a first or last name besides the formatted name")
    if card.phone and not _E164.match(card.phone):
        raise ValueError(f"Card phone must be E.164 with a leading +, got {card.phone!r}")
    if card.phone_type not in PHONE_TYPES:
        raise ValueError(f"Phone type must be one of {sorted(PHONE_TYPES)}")


def _present(**fields: str | None) -> dict:
    """Keep only the fields that have text."""
    return {key: value.strip() for key, value in fields.items() if value and value.strip()}


def contact_payload(card: CardData) -> dict:
    """Return the `contacts[]` item for 1MSG's sendContact (strict WhatsApp form)."""
    _check(card)
    payload: dict = {
        "name": _present(formatted_name=card.formatted_name, first_name=card.first_name, last_name=card.last_name)
    }
    if card.phone:
        # wa_id makes WhatsApp show a "Message" button on the card.
        payload["phones"] = [{"phone": card.phone, "type": card.phone_type, "wa_id": card.phone.lstrip("+")}]
    if card.email:
        payload["emails"] = [{"email": card.email.strip(), "type": "WORK"}]
    org = _present(company=card.company, department=card.department, title=card.title)
    if org:
        payload["org"] = org
    return payload


def vcard(card: CardData) -> str:
    """Return the card as vCard 3.0 text (vobject does the escaping)."""
    _check(card)
    v = vobject.vCard()
    v.add("fn").value = card.formatted_name.strip()
    v.add("n").value = vobject.vcard.Name(family=(card.last_name or "").strip(), given=(card.first_name or "").strip())
    if card.phone:
        tel = v.add("tel")
        tel.value = card.phone
        tel.type_param = card.phone_type
    if card.email:
        mail = v.add("email")
        mail.value = card.email.strip()
        mail.type_param = "INTERNET"
    if card.company or card.department:
        v.add("org").value = [(card.company or "").strip(), (card.department or "").strip()]
    if card.title:
        v.add("title").value = card.title.strip()
    return v.serialize()


def vcard_filename(card: CardData) -> str:
    """Return a safe download name such as "jane-specialist.vcf"."""
    ascii_name = unicodedata.normalize("NFKD", card.formatted_name or "")
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return f"{slug or 'contact'}.vcf"
