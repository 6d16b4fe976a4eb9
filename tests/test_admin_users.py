"""Admins create users, change roles and deactivate."""

from sqlalchemy import select

from models import AuditEntry, User, db


def test_admin_creates_a_user(client, auth):
    auth.login("admin")
    response = client.post(
        "/admin/users/new",
        data={"email": "fresh@example.com", "name": "Fresh", "role": "lead", "password": "a-long-password"},
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "fresh@example.com"))
    assert user.role == "lead"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create")).actor_id == auth.user.id


def test_duplicate_email_is_a_form_error(client, auth, make_user):
    existing = make_user()
    auth.login("admin")
    response = client.post(
        "/admin/users/new",
        data={"email": existing.email, "name": "Dup", "role": "agent", "password": "a-long-password"},
    )
    assert response.status_code == 400
    assert b"already exists" in response.data


def test_missing_fields_are_form_errors(client, auth):
    auth.login("admin")
    response = client.post("/admin/users/new", data={"email": "not-an-email", "role": "agent"})
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.data
    assert b"Enter a name." in response.data


def test_admin_changes_role_and_deactivates(client, auth, make_user):
    target = make_user(role="agent")
    auth.login("admin")
    asked = client.post(f"/admin/users/{target.id}", data={"name": target.name, "role": "lead"})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and f"Deactivate {target.name}?" in page
    # The safe choice comes first and is the primary button; the edit rides along.
    assert page.index("Keep the account active") < page.index(f"Deactivate {target.name}</button>")
    assert 'name="role" value="lead"' in page
    db.session.refresh(target)
    assert target.active is True and target.role == "agent"
    response = client.post(f"/admin/users/{target.id}", data={"name": target.name, "role": "lead", "confirm": "yes"})
    assert response.status_code == 302
    db.session.refresh(target)
    assert target.role == "lead" and target.active is False
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.update"))
    assert entry.before == {"role": "agent", "active": True}
    assert entry.after == {"role": "lead", "active": False}


def test_admin_cannot_demote_themself(client, auth):
    admin = auth.login("admin")
    response = client.post(f"/admin/users/{admin.id}", data={"name": admin.name, "role": "agent", "active": "y"})
    assert response.status_code == 400
    assert b"cannot change your own role" in response.data


def test_the_user_list_answers_with_and_without_the_slash(client, auth):
    auth.login("admin")
    assert client.get("/admin/users/").status_code == 200
    assert client.get("/admin/users").status_code in (301, 308)
