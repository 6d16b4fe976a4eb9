"""The ticket page without a browser: availability per picker row, the suggestion and its reason,
on the page, in the type-ahead fragment and in the reloaded send panel."""

from bs4 import BeautifulSoup

from tests.test_unavailable_send import ALWAYS, off_now

HX = {"HX-Request": "true"}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_rows_show_availability_and_the_suggestion_names_its_reason(client, auth, make_ticket, make_specialist):
    auth.login("agent")
    ticket = make_ticket(subject="Tax on my invoice", language="pt-BR")
    ana = make_specialist(display_name="Ana Tax", tags="tax", languages="pt", daily_capacity=8, **ALWAYS)
    bea = make_specialist(display_name="Bea Off", tags="tax", languages="pt", **off_now())
    page = soup(client.get(f"/tickets/{ticket.id}"))
    suggestion = page.select_one("#suggestion").get_text(" ", strip=True)
    assert "Suggested: Ana Tax" in suggestion and "(speaks pt, tax, available, 0 of 8 today)" in suggestion
    assert "Customer's language: pt-BR" in suggestion
    assert (
        page.select_one(f"#availability-{ana.id}").get_text(" ", strip=True)
        == "Suggested · available now · 0 of 8 today · speaks pt"
    )
    assert page.select_one(f"#availability-{bea.id}").get_text(" ", strip=True).startswith("back ")
    radio = page.select_one(f"input#specialist-{bea.id}")
    assert radio["aria-describedby"] == f"availability-{bea.id}" and not radio.has_attr("checked")
    fragment = soup(client.get(f"/tickets/{ticket.id}/specialists", query_string={"q": "bea"}, headers=HX))
    assert fragment.select_one(f"#availability-{bea.id}").get_text(strip=True).startswith("back ")


def test_picking_the_suggestion_marks_it_and_sends_nothing(client, auth, make_ticket, make_specialist):
    auth.login("agent")
    ticket = make_ticket(subject="Router down", language="de")
    omar = make_specialist(display_name="Omar Haddad", tags="routers", languages="de", **ALWAYS)
    page = soup(client.get(f"/tickets/{ticket.id}"))
    link = page.select_one("[data-action=pick-suggestion]")
    assert link["href"].endswith(f"specialist_id={omar.id}#send-panel")
    panel = soup(client.get(f"/tickets/{ticket.id}/send-panel?specialist_id={omar.id}", headers=HX))
    assert panel.select_one(f"input#specialist-{omar.id}").has_attr("checked")
    assert panel.select_one("[data-action=pick-suggestion]") is None


def test_no_suggestion_when_nothing_matches(client, auth, make_ticket, make_specialist):
    auth.login("agent")
    ticket = make_ticket(subject="Something")
    make_specialist(tags="tax")
    assert "No suggestion" in soup(client.get(f"/tickets/{ticket.id}")).select_one("#suggestion").get_text()
