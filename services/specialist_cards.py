"""From a directory entry to the card data the 1MSG library understands.

Views and other services ask here for a specialist's card (never `onemsg.cards` directly),
so the mapping from our model to 1MSG's payload has one owner.
"""

from models import Specialist
from onemsg.cards import CardData, contact_payload, vcard, vcard_filename


def card_for(specialist: Specialist) -> CardData:
    return CardData(
        formatted_name=specialist.display_name,
        first_name=specialist.first_name or "",
        last_name=specialist.last_name or "",
        phone=specialist.phone,
        phone_type=specialist.phone_type,
        email=specialist.email or None,
        company=specialist.organisation or None,
        department=specialist.department or None,
        title=specialist.title or None,
    )


def card_payload(specialist: Specialist) -> dict:
    """The `contacts[]` item sent for this specialist (also what previews and snapshots show)."""
    return contact_payload(card_for(specialist))


def vcard_file(specialist: Specialist) -> tuple[str, str]:
    """(vCard 3.0 text, file name) of the same card, for a download."""
    card = card_for(specialist)
    return vcard(card), vcard_filename(card)
