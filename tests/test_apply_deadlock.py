"""Two appliers moving the same handoffs through different statuses at once (PostgreSQL).

Each applies in one transaction, kind by kind; without one lock order the first locks the even
handoffs then wants the odd ones while the second holds the odd ones and wants the even ones:
"deadlock detected", a traceback, and a retried body. Every round must end with no error and
every handoff at its last status.
"""

import threading

from sqlalchemy import select

from models import Handoff, db
from onemsg.webhooks import StatusUpdate
from services import status

ROUNDS, HANDOFFS = 15, 40


def accepted_handoffs(make_handoff, ticket, specialist, round_no: int) -> list[str]:
    ids = [f"wamid.LOCK{round_no:03d}{n:03d}" for n in range(HANDOFFS)]
    for message_id in ids:
        make_handoff(ticket=ticket, specialist=specialist, message_id=message_id)
    return ids


def apply_in_thread(app, updates, start: threading.Barrier, errors: list) -> threading.Thread:
    def run():
        with app.app_context():
            try:
                start.wait(5)
                status.record_statuses(updates)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
                errors.append(repr(exc))
                db.session.rollback()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_appliers_crossing_kinds_never_deadlock(app, make_ticket, make_specialist, make_handoff):
    ticket, specialist = make_ticket(), make_specialist()
    errors: list[str] = []
    for round_no in range(ROUNDS):
        ids = accepted_handoffs(make_handoff, ticket, specialist, round_no)
        evens, odds = ids[0::2], ids[1::2]
        # First: "sent" for the evens, "delivered" for the odds; second: the other way round.
        first = [StatusUpdate(m, "sent") for m in evens] + [StatusUpdate(m, "delivered") for m in odds]
        second = [StatusUpdate(m, "sent") for m in odds] + [StatusUpdate(m, "delivered") for m in evens]
        start = threading.Barrier(2)
        threads = [apply_in_thread(app, first, start, errors), apply_in_thread(app, second, start, errors)]
        for thread in threads:
            thread.join(30)
        assert errors == [], f"round {round_no}: {errors[:2]}"
        db.session.expire_all()
        ends = db.session.scalars(select(Handoff.status).where(Handoff.message_id.in_(ids))).all()
        assert ends == ["delivered"] * HANDOFFS, f"round {round_no}: {sorted(set(ends))}"
