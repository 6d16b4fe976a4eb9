"""From a directory entry to the card data the 1MSG library understands."""
from models import Specialist
from onemsg.cards import CardData


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
