"""Presence rows ("X is viewing"): the worker's pass forgets the ones nobody's page moves on."""

from datetime import timedelta

from sqlalchemy import select

from models import Ticket, TicketViewer, User, db, utcnow
from services import presence
from services.worker import run_pass


def test_the_worker_forgets_stale_viewers_and_keeps_recent_ones(app, make_user, make_ticket):
    alex, sam, first, second = make_user().id, make_user().id, make_ticket().id, make_ticket().id
    now = utcnow()
    ages = {
        (alex, first): timedelta(0),  # viewing now
        (sam, first): timedelta(minutes=10),  # gone a while ago, not for long
        (alex, second): timedelta(hours=2),
        (sam, second): timedelta(days=30),
    }
    for (user_id, ticket_id), age in ages.items():
        presence.seen(user_id, ticket_id, at=now - age)
    db.session.commit()
    run_pass()  # the worker's pass (it ends the session)
    left = {tuple(row) for row in db.session.execute(select(TicketViewer.user_id, TicketViewer.ticket_id))}
    assert left == {(alex, first), (sam, first)}
    # Who is viewing is unchanged: the row of a page open now still counts.
    viewing = presence.activity(db.session.get(Ticket, first), db.session.get(User, sam), None).viewers
    assert viewing == [db.session.get(User, alex).name]
    assert presence.FORGET_AFTER >= timedelta(seconds=100 * presence.VIEWING_SECONDS)
