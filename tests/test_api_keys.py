"""API keys: stored hashed, shown once, revocable, last use shown; in the admin UI and the CLI."""

import re

import pytest
from sqlalchemy import func, select

from models import ApiKey, AuditEntry, db
from services import api_keys

KEY_PATTERN = re.compile(r"shk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_a_key_is_stored_only_as_a_hash(app):
    new_key = api_keys.create("Helpdesk", "agent")
    db.session.commit()
    assert KEY_PATTERN.fullmatch(new_key.secret)
    row = db.session.scalar(select(ApiKey))
    stored = " ".join(str(value) for value in (row.name, row.prefix, row.key_hash))
    assert new_key.secret.split("_", 2)[2] not in stored
    assert len(row.key_hash) == 64 and new_key.secret.split("_")[1] == row.prefix
    assert api_keys.verify(new_key.secret).id == row.id
    assert api_keys.verify(new_key.secret + "x") is None
    assert api_keys.verify("") is None and api_keys.verify("shk__") is None


@pytest.mark.parametrize(
    "name, role, field", [("", "agent", "name"), ("x" * 81, "agent", "name"), ("Helpdesk", "admin", "role")]
)
def test_bad_names_and_roles_are_refused(app, name, role, field):
    with pytest.raises(api_keys.ApiKeyError) as caught:
        api_keys.create(name, role)
    assert caught.value.field == field


def test_admin_creates_a_key_and_sees_it_once(client, auth):
    admin = auth.login("admin")
    created = client.post("/admin/api-keys/", data={"name": "Zendesk", "role": "lead"})
    assert created.status_code == 303 and created.headers["Location"].endswith("/admin/api-keys/")
    assert not KEY_PATTERN.findall(created.get_data(as_text=True))
    response = client.get("/admin/api-keys/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    [secret] = KEY_PATTERN.findall(page)
    assert "Copy the key for Zendesk now" in page and 'data-copy-target="new-api-key"' in page
    key = db.session.scalar(select(ApiKey))
    assert (key.name, key.role, key.created_by_id) == ("Zendesk", "lead", admin.id)
    listing = client.get("/admin/api-keys/").get_data(as_text=True)  # a reload: the key is gone
    assert "Zendesk" in listing and secret not in listing and f"shk_{key.prefix}_…" in listing
    assert "never" in listing  # not used yet
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_key.create"))
    assert entry.actor_id == admin.id and secret not in str(entry.after)


def test_the_list_shows_last_use(client, auth):
    new_key = api_keys.create("Freshdesk", "agent")
    db.session.commit()
    auth.login("admin")
    assert client.get("/api/v1/specialists", headers={"Authorization": f"Bearer {new_key.secret}"}).status_code == 200
    used = db.session.scalar(select(ApiKey)).last_used_at
    assert used is not None
    assert used.strftime("%Y-%m-%d %H:%M") in client.get("/admin/api-keys/").get_data(as_text=True)


def test_a_form_error_is_shown_and_nothing_is_made(client, auth):
    auth.login("admin")
    response = client.post("/admin/api-keys/", data={"name": "", "role": "agent"})
    assert response.status_code == 400
    assert "Name the key" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_admin_revokes_a_key(client, auth):
    new_key = api_keys.create("Old helpdesk", "agent")
    db.session.commit()
    key_id = new_key.api_key.id
    auth.login("admin")
    asked = client.get(f"/admin/api-keys/{key_id}/revoke").get_data(as_text=True)
    assert "Revoke the key Old helpdesk?" in asked
    assert asked.index("Keep the key") < asked.index("Revoke the key</button>")
    unconfirmed = client.post(f"/admin/api-keys/{key_id}/revoke")
    assert unconfirmed.status_code == 200 and db.session.get(ApiKey, key_id).revoked_at is None
    response = client.post(f"/admin/api-keys/{key_id}/revoke", data={"confirm": "yes"}, follow_redirects=True)
    assert response.status_code == 200 and "Revoked the key Old helpdesk" in response.get_data(as_text=True)
    assert db.session.get(ApiKey, key_id).revoked_at is not None
    assert api_keys.verify(new_key.secret) is None
    again = client.post(f"/admin/api-keys/{key_id}/revoke", data={"confirm": "yes"}, follow_redirects=True)
    assert "already revoked" in again.get_data(as_text=True)
    assert client.post("/admin/api-keys/999999/revoke").status_code == 404


def test_a_duplicate_name_asks_before_a_second_key(client, auth):
    auth.login("admin")
    assert client.post("/admin/api-keys/", data={"name": "Zendesk", "role": "agent"}).status_code == 303
    warned = client.post("/admin/api-keys/", data={"name": " zendesk ", "role": "agent"})
    assert warned.status_code == 409 and "An active key is already named Zendesk" in warned.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
    forced = client.post("/admin/api-keys/", data={"name": "Zendesk", "role": "agent", "save_anyway": "yes"})
    assert forced.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 2


def test_the_key_pages_are_for_admins_only(client, auth):
    auth.login("lead")
    assert client.get("/admin/api-keys/").status_code == 403
    assert client.post("/admin/api-keys/", data={"name": "x", "role": "agent"}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_cli_creates_lists_and_revokes_a_key(app, runner):
    result = runner.invoke(args=["api-keys", "create", "--name", "ServiceNow", "--role", "agent"])
    assert result.exit_code == 0, result.output
    [secret] = KEY_PATTERN.findall(result.stdout)
    assert api_keys.verify(secret).name == "ServiceNow"
    db.session.commit()
    listing = runner.invoke(args=["api-keys", "list"])
    assert "ServiceNow" in listing.output and secret not in listing.output and "active" in listing.output
    key_id = db.session.scalar(select(ApiKey.id))
    db.session.commit()
    assert runner.invoke(args=["api-keys", "revoke", str(key_id)]).exit_code == 0
    assert api_keys.verify(secret) is None


def test_cli_refuses_an_unknown_role(app, runner):
    result = runner.invoke(args=["api-keys", "create", "--name", "X", "--role", "admin"])
    assert result.exit_code != 0 and "admin" in result.output
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0
