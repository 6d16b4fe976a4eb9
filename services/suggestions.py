"""Who should get this ticket's customer: a ranking with its reason. The agent decides; nothing is sent.

Points, highest first (ties: the lighter day, as a share of capacity then as a count, then the name):
- speaks the customer's language (same primary language: pt serves pt-BR): +4;
- each of their skills (tags) found in the ticket's subject (whole words, a plural -s/-es
  ignored: "routers" matches "Router keeps dropping"): +3, at most two counted;
- available now: +3; hours not known: +1; off or on leave: 0;
- at or past today's capacity: -4.
Language first because a specialist who cannot talk with the customer cannot help at all; a
matching skill counts about as much as being at work now.
"""

import re
from dataclasses import dataclass

from models import Specialist, Ticket
from services import languages, specialist_board
from services.specialist_board import SpecialistNow

LANGUAGE_POINTS, SKILL_POINTS, MAX_SKILLS_COUNTED = 4, 3, 2
AVAILABILITY_POINTS = {"available": 3, "unknown": 1, "off_hours": 0, "on_leave": 0}
OVER_CAPACITY_POINTS = -4


@dataclass(frozen=True)
class Suggestion:
    specialist: Specialist
    score: int
    reason: str  # "speaks pt, tax, available, 2 of 8 today"
    now: SpecialistNow
    spoken: str | None = None  # their language code that serves the customer's, if any


def _forms(word: str) -> set[str]:
    """A word and what it may be the plural of: "invoices" -> invoices, invoice, invoic."""
    forms = {word}
    if len(word) > 3 and word.endswith("s"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
    return forms


def _words(text: str) -> list[set[str]]:
    return [_forms(word) for word in re.findall(r"\w+", (text or "").lower())]


def matching_skills(specialist: Specialist, subject: str) -> list[str]:
    """The specialist's tags whose every word is in the subject (case and plural -s/-es ignored)."""
    in_subject = _words(subject)
    return [
        tag
        for tag in specialist.tag_list
        if _words(tag) and all(any(word & other for other in in_subject) for word in _words(tag))
    ]


def _short_availability(now: SpecialistNow) -> str:
    state = now.availability
    return "available" if state.state == "available" else state.text


def suggest(ticket: Ticket, board: dict[int, SpecialistNow]) -> list[Suggestion]:
    """Every specialist on the board, best first, each with the reason for its place."""
    ranked = []
    for now in board.values():
        specialist = now.specialist
        spoken = languages.speaks(specialist.language_list, ticket.language)
        skills = matching_skills(specialist, ticket.subject)
        score = (
            (LANGUAGE_POINTS if spoken else 0)
            + SKILL_POINTS * min(len(skills), MAX_SKILLS_COUNTED)
            + AVAILABILITY_POINTS[now.availability.state]
            + (OVER_CAPACITY_POINTS if now.over_capacity else 0)
        )
        load = f"{now.load_text} (at capacity)" if now.over_capacity else now.load_text  # why it ranks low
        parts = ([f"speaks {spoken}"] if spoken else []) + skills + [_short_availability(now), load]
        ranked.append(Suggestion(specialist, score, ", ".join(parts), now, spoken))
    ranked.sort(key=lambda s: (-s.score, _share_of_day(s.now), s.now.handoffs_today, s.specialist.display_name.lower()))
    return ranked


def _share_of_day(now: SpecialistNow) -> float:
    """How full their day is (no capacity set: counted as empty)."""
    return now.handoffs_today / now.capacity if now.capacity else 0.0


def best(ticket: Ticket, board: dict[int, SpecialistNow]) -> Suggestion | None:
    """The one to suggest, if anyone scores above an unknown stranger (hours unknown, nothing matching)."""
    ranked = suggest(ticket, board)
    return _worth_suggesting(ranked)


def _worth_suggesting(ranked: list[Suggestion]) -> Suggestion | None:
    return ranked[0] if ranked and ranked[0].score > AVAILABILITY_POINTS["unknown"] else None


@dataclass(frozen=True)
class TicketView:
    """What the ticket page shows beside the picker: each specialist's now, and the suggestion."""

    ranked: dict[int, Suggestion]  # by specialist id
    suggestion: Suggestion | None


def for_ticket(ticket: Ticket, specialists: list[Specialist]) -> TicketView:
    """Ranks `specialists` (the active directory, and whoever the picker shows) for the ticket."""
    board = specialist_board.board(specialists)
    ranked = suggest(ticket, board)
    return TicketView({s.specialist.id: s for s in ranked}, _worth_suggesting(ranked))
