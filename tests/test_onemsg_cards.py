"""Contact cards: the WhatsApp contacts[] payload and the vCard download."""

import pytest
import vobject

from onemsg.cards import CardData, contact_payload, vcard, vcard_filename

CUSTOMER = "+14155552671"


def full_card(**overrides) -> CardData:
    """A specialist card with every field set."""
    fields = dict(
        formatted_name="Jane Specialist",
        first_name="Jane",
        last_name="Specialist",
        phone="+12025550199",
        phone_type="WORK",
        email="jane@example.com",
        company="Acme",
        department="Billing",
        title="Senior specialist",
    )
    return CardData(**{**fields, **overrides})


def test_payload_has_every_field_in_the_strict_form():
    assert contact_payload(full_card()) == {
        "name": {"formatted_name": "Jane Specialist", "first_name": "Jane", "last_name": "Specialist"},
        "phones": [{"phone": "+12025550199", "type": "WORK", "wa_id": "12025550199"}],
        "emails": [{"email": "jane@example.com", "type": "WORK"}],
        "org": {"company": "Acme", "department": "Billing", "title": "Senior specialist"},
    }


def test_payload_omits_empty_fields():
    card = CardData("Jane Specialist", first_name="Jane", phone="+12025550199")
    assert contact_payload(card) == {
        "name": {"formatted_name": "Jane Specialist", "first_name": "Jane"},
        "phones": [{"phone": "+12025550199", "type": "CELL", "wa_id": "12025550199"}],
    }


def test_org_keeps_only_the_parts_given():
    assert contact_payload(full_card(company=None, department=""))["org"] == {"title": "Senior specialist"}


@pytest.mark.parametrize(
    "overrides, problem",
    [
        ({"formatted_name": " "}, "formatted name"),
        ({"first_name": "", "last_name": ""}, "first or last name"),
        ({"phone": "12025550199"}, "E.164"),
        ({"phone": "+1 202 555 0199"}, "E.164"),
        ({"phone_type": "MOBILE"}, "Phone type"),
    ],
)
def test_invalid_cards_are_refused(overrides, problem):
    with pytest.raises(ValueError, match=problem):
        contact_payload(full_card(**overrides))


def test_the_emulator_accepts_the_payload(emulator, onemsg_client):
    emulator.open_window(CUSTOMER)
    result = onemsg_client.send_contact(CUSTOMER, contact_payload(full_card()))
    assert result.id.startswith("wamid.")
    sent = [r for r in emulator.requests() if r["path"].endswith("/sendContact")]
    assert sent[0]["json"]["contacts"] == [contact_payload(full_card())]


def test_vcard_round_trips_through_a_parser():
    parsed = vobject.readOne(vcard(full_card()))
    assert parsed.version.value == "3.0"
    assert parsed.fn.value == "Jane Specialist"
    assert (parsed.n.value.family, parsed.n.value.given) == ("Specialist", "Jane")
    assert parsed.tel.value == "+12025550199"
    assert parsed.tel.type_param == "WORK"
    assert parsed.email.value == "jane@example.com"
    assert parsed.org.value == ["Acme", "Billing"]
    assert parsed.title.value == "Senior specialist"


def test_vcard_escapes_commas_semicolons_and_newlines():
    card = full_card(
        formatted_name="Doe, Jane; PhD",
        last_name="Doe; Jr",
        first_name="Jane, A",
        company="Acme, Inc.",
        department="Billing; East",
        title="Lead\nbilling, disputes",
    )
    text = vcard(card)
    assert "FN:Doe\\, Jane\\; PhD" in text
    assert "ORG:Acme\\, Inc.;Billing\\; East" in text
    parsed = vobject.readOne(text)
    assert parsed.fn.value == "Doe, Jane; PhD"
    assert (parsed.n.value.family, parsed.n.value.given) == ("Doe; Jr", "Jane, A")
    assert parsed.org.value == ["Acme, Inc.", "Billing; East"]
    assert parsed.title.value == "Lead\nbilling, disputes"


def test_vcard_without_optional_fields_has_no_empty_lines():
    text = vcard(CardData("Jane", first_name="Jane"))
    assert "ORG" not in text and "TEL" not in text and "EMAIL" not in text and "TITLE" not in text


@pytest.mark.parametrize(
    "name, filename",
    [
        ("Jane Specialist", "jane-specialist.vcf"),
        ("José Müller, PhD", "jose-muller-phd.vcf"),
        ("李雷", "contact.vcf"),
    ],
)
def test_vcard_filename_is_safe(name, filename):
    assert vcard_filename(CardData(name, first_name="x")) == filename
