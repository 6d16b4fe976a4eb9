"""Today's load per specialist (their own day) and the suggestion's ranking on a fixture with a known answer."""

from datetime import date, datetime

from models import Absence, db
from services import directory, specialist_board, suggestions
from tests.history_factories import add_handoff

NOW = datetime(2026, 11, 30, 13, 0)  # Monday, naive UTC: 13:00 in Lisbon, 14:00 in Berlin, 05:00 in LA
LISBON = dict(time_zone="Europe/Lisbon", working_hours="Mon-Fri 09:00-17:00")


def _handoffs(specialist, ticket, count: int, at: datetime = NOW, **fields) -> None:
    for _ in range(count):
        add_handoff(ticket, specialist, created_at=at, status="accepted", **fields)


def test_today_counts_cards_of_their_own_day_that_may_have_reached_someone(make_specialist, make_ticket):
    berlin = make_specialist(time_zone="Europe/Berlin", daily_capacity=3)
    utc_one = make_specialist()
    ticket = make_ticket()
    late_yesterday = datetime(2026, 11, 29, 23, 30)  # 00:30 on the 30th in Berlin, the 29th in UTC
    for specialist in (berlin, utc_one):
        _handoffs(specialist, ticket, 1, at=late_yesterday)
        _handoffs(specialist, ticket, 1)
        add_handoff(ticket, specialist, created_at=NOW, status="failed")  # refused before 1MSG took it
        add_handoff(ticket, specialist, created_at=NOW, status="failed", message_id=f"wamid.f{specialist.id}")
    board = specialist_board.board([berlin, utc_one], NOW)
    assert board[berlin.id].handoffs_today == 3 and board[berlin.id].load_text == "3 of 3 today"
    assert board[berlin.id].over_capacity and board[berlin.id].unavailable_reason == "over_capacity"
    assert board[utc_one.id].handoffs_today == 2 and board[utc_one.id].load_text == "2 today"
    assert board[utc_one.id].availability.text == "time zone not set"


def test_ranking_on_a_fixture_with_a_known_answer(make_specialist, make_ticket):
    ticket = make_ticket(subject="Tax on my invoice", language="pt-BR")
    ana = make_specialist(display_name="Ana Tax", tags="tax, invoice", languages="pt", daily_capacity=8, **LISBON)
    bruno = make_specialist(display_name="Bruno Busy", tags="tax", languages="pt", daily_capacity=2, **LISBON)
    carla = make_specialist(display_name="Carla Away", tags="tax, invoice", languages="pt, en", **LISBON)
    dieter = make_specialist(
        display_name="Dieter Tax",
        tags="tax, invoice",
        languages="de",
        time_zone="Europe/Berlin",
        working_hours="Mon-Fri 09:00-17:00",
    )
    eve = make_specialist(
        display_name="Eve Night",
        tags="tax",
        languages="pt-PT",
        time_zone="America/Los_Angeles",
        working_hours="Mon-Fri 09:00-17:00",
    )
    fran = make_specialist(display_name="Fran Generalist", tags="routers", languages="pt", **LISBON)
    db.session.add(
        Absence(specialist_id=carla.id, starts_on=date(2026, 11, 30), ends_on=date(2026, 12, 3), stand_in_id=ana.id)
    )
    db.session.commit()
    _handoffs(ana, ticket, 2)
    _handoffs(bruno, ticket, 2)
    board = specialist_board.board([fran, eve, dieter, carla, bruno, ana], NOW)

    ranked = suggestions.suggest(ticket, board)

    assert [(s.specialist.display_name, s.score) for s in ranked] == [
        ("Ana Tax", 13),
        ("Carla Away", 10),
        ("Dieter Tax", 9),
        ("Eve Night", 7),
        ("Fran Generalist", 7),
        ("Bruno Busy", 6),
    ]
    reasons = {s.specialist.display_name: s.reason for s in ranked}
    assert reasons["Ana Tax"] == "speaks pt, tax, invoice, available, 2 of 8 today"
    assert reasons["Carla Away"] == "speaks pt, tax, invoice, on leave until 3 Dec, stand-in: Ana Tax, 0 today"
    assert reasons["Eve Night"] == "speaks pt-PT, tax, back today 09:00 (their time), 0 today"
    # Last though at work and speaking pt: the reason says what cost the points.
    assert reasons["Bruno Busy"] == "speaks pt, tax, available, 2 of 2 today (at capacity)"
    assert suggestions.best(ticket, board).specialist == ana


def test_skills_match_whole_words_and_no_language_means_no_language_points(make_specialist, make_ticket):
    ticket = make_ticket(subject="Syntax error in the TAX form")
    specialist = make_specialist(tags="tax, syntax highlighting, forms", languages="pt")
    assert suggestions.matching_skills(specialist, ticket.subject) == ["tax", "forms"]
    router = make_specialist(tags="routers, account recovery, invoice")
    assert suggestions.matching_skills(router, "Router keeps dropping; recovery of my account; invoices") == [
        "routers",
        "account recovery",
        "invoice",
    ]
    [only] = suggestions.suggest(ticket, specialist_board.board([specialist], NOW))
    assert only.reason == "tax, forms, time zone not set, 0 today" and only.score == 3 * 2 + 1


def test_no_suggestion_when_nobody_matches_anything(make_specialist, make_ticket):
    ticket = make_ticket(subject="Something else", language="ja")
    make_specialist(tags="tax", languages="pt")
    board = specialist_board.board(directory.search(), NOW)
    assert suggestions.best(ticket, board) is None and suggestions.best(ticket, {}) is None


def test_a_tie_goes_to_the_lighter_day_also_without_a_capacity(make_specialist, make_ticket):
    ticket = make_ticket(subject="Tax question", language="pt")
    busy = make_specialist(display_name="Ana Busy", tags="tax", languages="pt", **LISBON)
    free = make_specialist(display_name="Zoe Free", tags="tax", languages="pt", **LISBON)
    _handoffs(busy, ticket, 5)
    ranked = suggestions.suggest(ticket, specialist_board.board([busy, free], NOW))
    assert [(s.specialist.display_name, s.score) for s in ranked] == [("Zoe Free", 10), ("Ana Busy", 10)]
