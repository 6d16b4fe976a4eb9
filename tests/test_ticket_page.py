"""The ticket page without a browser: the specialist picker, its type-ahead list and its errors."""
from bs4 import BeautifulSoup

from models import Handoff, db
from tests.history_factories import add_handoff

HX = {"HX-Request": "true"}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def names(page: BeautifulSoup) -> list[str]:
    return [row.find("strong").get_text(strip=True) for row in page.select(".specialist-option")]


def test_nobody_is_preselected_and_the_agents_recent_choices_come_first(client, auth, make_ticket, make_specialist):
    agent = auth.login("agent")
    ticket = make_ticket()
    make_specialist(display_name="Aaron First")
    used = make_specialist(display_name="Zoe Last", department="Billing", organisation="Acme Ltd")
    add_handoff(make_ticket(), used, agent, created_at=ticket.created_at)
    page = soup(client.get(f"/tickets/{ticket.id}"))
    assert names(page)[:2] == ["Zoe Last", "Aaron First"]
    assert page.select("input[name=specialist_id][checked]") == []
    assert "recently used by you" in page.select_one('[data-specialist="%d"]' % used.id).get_text()
    assert page.select_one("label[for=specialist-q]") and page.select_one("fieldset#specialist-options legend")


def test_type_ahead_matches_department_organisation_and_tags_and_keeps_the_choice(
        client, auth, make_ticket, make_specialist):
    auth.login("agent")
    ticket = make_ticket()
    acme = make_specialist(display_name="Ana Acme", organisation="Acme Ltd", tags="")
    routers = make_specialist(display_name="Rita Routers", tags="routers, wifi", department="Technical")
    url = f"/tickets/{ticket.id}/specialists"
    assert names(soup(client.get(url, query_string={"q": "acme"}, headers=HX))) == ["Ana Acme"]
    assert names(soup(client.get(url, query_string={"q": "wifi"}, headers=HX))) == ["Rita Routers"]
    fragment = soup(client.get(url, query_string={"q": "technical"}, headers=HX))
    assert names(fragment) == ["Rita Routers"]
    assert fragment.select_one("#specialist-count").get_text() == "1 specialist match."
    # What the agent already picked stays listed (and picked) whatever they type next.
    kept = soup(client.get(url, query_string={"q": "wifi", "specialist_id": acme.id}, headers=HX))
    assert names(kept) == ["Ana Acme", "Rita Routers"]
    assert kept.select_one("input[checked]")["value"] == str(acme.id)
    assert routers.id  # listed by tag, not picked
    # Without JavaScript the search reloads the whole page.
    assert client.get(url, query_string={"q": "wifi"}).status_code == 302


def test_sending_without_a_choice_says_so_and_sends_nothing(client, auth, make_ticket, make_specialist):
    auth.login("agent")
    ticket = make_ticket()
    make_specialist()
    response = client.post(f"/tickets/{ticket.id}/handoffs", data={"idempotency_key": "k" * 16},
                           follow_redirects=True)
    assert "Pick a specialist first: nobody was chosen, so nothing was sent." in response.get_data(as_text=True)
    assert db.session.query(Handoff).count() == 0
