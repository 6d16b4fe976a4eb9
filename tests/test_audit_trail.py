"""The audit trail: an entry for each kind of action, append-only, filtered and paged for leads."""

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from models import AuditEntry, StatusEvent, db
from models.audit_entry import AuditEntryIsAppendOnly
from services import audit, directory, handoffs, settings, tickets, users
from services.audit import AuditFilters, TrailCursor
from tests.history_factories import add_handoff

ROOT = Path(__file__).resolve().parent.parent


def actions() -> set[str]:
    db.session.rollback()
    return set(db.session.scalars(select(AuditEntry.action)))


def test_every_kind_of_action_leaves_an_entry(client, auth, make_user, make_specialist, make_ticket):
    """Logins, user changes, directory edits, ticket changes, settings and sends."""
    admin = auth.login("admin")
    client.post("/logout")
    client.post("/login", data={"email": admin.email, "password": "wrong-password-here"})
    user = users.create_user("new.person@example.com", "New Person", "agent", "a-long-password-1", actor=admin)
    users.update_user(user, name="New Person", role="lead", active=True, actor=admin)
    users.set_password(user, "another-long-password", actor=admin)
    specialist = directory.create({"display_name": "Dora Expert", "first_name": "Dora", "phone": "+12025550142"}, admin)
    directory.update(specialist, {"title": "Lead"}, admin)
    ticket = tickets.save(
        None,
        {
            "external_ref": "HD-AUD",
            "subject": "s",
            "customer_name": "c",
            "customer_phone": "+14155552671",
            "status": "closed",
        },
        actor=admin,
    )
    tickets.save(ticket, {"subject": "changed"}, actor=admin)
    settings.put("intro_text", "Hello there", admin)
    db.session.commit()
    # A closed ticket blocks the send before any call to 1MSG; the attempt is still audited.
    handoffs.send_card(ticket, specialist, admin, uuid.uuid4().hex)
    assert {
        "user.login",
        "user.login_failed",
        "user.create",
        "user.update",
        "user.password",
        "specialist.create",
        "specialist.update",
        "ticket.create",
        "ticket.update",
        "settings.update",
        "handoff.send",
    } <= actions()
    change = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.update"))
    assert change.before == {"role": "agent"} and change.after == {"role": "lead"}
    assert change.actor_id == admin.id and change.actor_label == admin.email


def test_the_orm_refuses_to_change_or_delete_an_entry(app):
    entry = audit.record("user.login", "user", 1, label="someone@example.com", summary="logged in")
    db.session.commit()
    entry.summary = "rewritten"
    with pytest.raises(AuditEntryIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AuditEntryIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEntry, entry.id).summary == "logged in"


@pytest.mark.parametrize(
    "statement",
    [
        lambda: update(AuditEntry).values(summary="rewritten"),
        lambda: delete(AuditEntry),
        lambda: text("UPDATE audit_entries SET actor_label = 'someone else'"),
        lambda: text("DELETE FROM audit_entries"),
    ],
    ids=["bulk update", "bulk delete", "SQL update", "SQL delete"],
)
def test_the_database_refuses_to_change_or_delete_an_entry(app, statement):
    """Bulk statements and plain SQL go around the ORM's guard; the database's trigger does not."""
    entry = audit.record("user.login", "user", 1, label="someone@example.com", summary="logged in")
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(statement())
    db.session.rollback()
    kept = db.session.get(AuditEntry, entry.id)
    assert (kept.summary, kept.actor_label) == ("logged in", "someone@example.com")


def test_the_database_refuses_to_truncate_the_trail(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE is refused above)")
    audit.record("user.login", "user", 1, label="someone@example.com", summary="logged in")
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("TRUNCATE audit_entries"))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_no_route_changes_the_trail(app):
    """The trail's pages only read, and no code outside services/audit.py writes audit rows."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("history."):
            assert rule.methods - {"GET", "HEAD", "OPTIONS"} == set(), rule
    writes = re.compile(
        r"(update|delete)\(\s*AuditEntry|query\(AuditEntry\)[^\n]*\.(update|delete)|"
        r"audit_entries[^\n]*(UPDATE|DELETE)|(UPDATE|DELETE FROM)\s+audit_entries",
        re.I,
    )
    for folder in ("views", "services", "cli.py", "models"):
        paths = [ROOT / folder] if folder.endswith(".py") else (ROOT / folder).rglob("*.py")
        for path in paths:
            assert not writes.search(path.read_text()), f"{path} changes audit entries"


def test_posting_to_the_trail_is_not_allowed(client, auth):
    auth.login("admin")
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/history/audit").status_code == 405


@pytest.fixture
def trail(make_user, make_ticket, make_specialist):
    """Five audit entries and three status events, interleaved, two sharing one timestamp."""
    lead = make_user(role="lead", email="lead.person@example.com")
    handoff = add_handoff(
        make_ticket(),
        make_specialist(),
        created_at=datetime(2024, 4, 1, 9, 0),
        status="read",
        accepted_at=datetime(2024, 4, 1, 9, 0),
        message_id="wamid.trail-1",
    )
    base = datetime(2024, 4, 1, 10, 0)
    for i in range(5):
        db.session.add(
            AuditEntry(
                at=base + timedelta(minutes=2 * i),
                actor_id=lead.id,
                actor_label=lead.email,
                action="ticket.update" if i % 2 else "user.login",
                subject_type="ticket" if i % 2 else "user",
                subject_id=str(i),
                summary=f"entry {i}",
            )
        )
    for i, status in enumerate(("sent", "delivered", "read")):
        # The first status event shares its timestamp with audit entry 0.
        db.session.add(
            StatusEvent(
                message_id="wamid.trail-1", status=status, received_at=base + timedelta(minutes=3 * i), applied=True
            )
        )
    db.session.commit()
    return lead, handoff


def walk(filters, size):
    pages, page = [], audit.trail_page(filters, size=size)
    while True:
        pages.append([(row.kind, row.summary) for row in page.rows])
        if page.older is None:
            return pages
        page = audit.trail_page(filters, before=page.older, size=size)


@pytest.mark.parametrize("size", [1, 2, 3, 8, 9])
def test_trail_pages_merge_entries_and_status_changes_newest_first(trail, size):
    pages = walk(AuditFilters(), size)
    flat = [item for page in pages for item in page]
    assert len(flat) == 8 and len(set(flat)) == 8
    assert flat[0] == ("audit", "entry 4")
    # Equal timestamps: the status change is listed before the audit entry.
    assert flat[-2:] == [("status", "1MSG reported sent"), ("audit", "entry 0")]
    assert len(pages) == -(-8 // size)


def test_trail_filters(trail):
    lead, handoff = trail
    only = lambda **kw: [row.summary for row in audit.trail_page(AuditFilters(**kw)).rows]  # noqa: E731
    assert only(action="user.login") == ["entry 4", "entry 2", "entry 0"]
    assert only(action="handoff.status") == ["1MSG reported read", "1MSG reported delivered", "1MSG reported sent"]
    assert only(actor="LEAD.person") == ["entry 4", "entry 3", "entry 2", "entry 1", "entry 0"]
    assert only(subject_type="ticket", subject_id="3") == ["entry 3"]
    assert len(only(subject_type="handoff", subject_id=str(handoff.id))) == 3
    assert only(date_from=datetime(2024, 4, 2).date()) == []
    assert only(actor="nobody") == []


def test_audit_page_for_leads(client, auth, trail):
    _, handoff = trail
    auth.login("lead")
    body = client.get("/history/audit?action=handoff.status").get_data(as_text=True)
    assert f'href="/handoffs/{handoff.id}"' in body and "1MSG reported delivered" in body
    assert "entry 4" not in body
    fragment = client.get(
        "/history/audit?actor=lead.person", headers={"HX-Request": "true", "HX-Target": "audit-table"}
    )
    assert fragment.get_data(as_text=True).startswith('<div id="audit-table">')
    assert client.get("/history/audit?date_from=01/04/2024").status_code == 400
    assert client.get("/history/audit?before=2024-04-01T10:00:00_other_3").status_code == 400


def test_cursor_round_trip():
    cursor = TrailCursor(datetime(2024, 4, 1, 10, 0, 0, 5), "status", 7)
    assert TrailCursor.decode(cursor.encode()) == cursor
