"""API keys: stored hashed, shown once, revocable, last use shown; in the admin UI and the CLI."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
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


def form_token(client) -> str:
    """The one-time token of the new-key form, as a browser gets it with the page."""
    page = client.get("/admin/api-keys/").get_data(as_text=True)
    found = re.search(r'name="once" type="hidden" value="([^"]+)"', page)
    return found.group(1) if found else ""


def create_key(client, **data):
    return client.post("/admin/api-keys/", data={"role": "agent", "once": form_token(client), **data})


def test_admin_creates_a_key_and_sees_it_once(client, auth):
    admin = auth.login("admin")
    created = client.post("/admin/api-keys/", data={"name": "Zendesk", "role": "lead", "once": form_token(client)})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    page = created.get_data(as_text=True)
    [secret] = KEY_PATTERN.findall(page)
    assert "Copy the key for Zendesk now" in page and "shown this once" in page
    assert 'data-copy-target="new-api-key"' in page
    key = db.session.scalar(select(ApiKey))
    assert (key.name, key.role, key.created_by_id) == ("Zendesk", "lead", admin.id)
    listing = client.get("/admin/api-keys/").get_data(as_text=True)  # the list again: the key is gone
    assert "Zendesk" in listing and secret not in listing and f"shk_{key.prefix}_…" in listing
    assert "never" in listing  # not used yet
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_key.create"))
    assert entry.actor_id == admin.id and secret not in str(entry.after)
    assert client.get("/api/v1/specialists", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_the_new_key_never_enters_the_session_cookie(app, client, auth):
    # The session cookie is signed, not encrypted: whoever reads it can decode what it holds.
    auth.login("admin")
    created = create_key(client, name="Zendesk")
    answers = [created, client.get("/admin/api-keys/")]
    if created.status_code in (302, 303):  # how the key used to reach its page
        answers.append(client.get(created.headers["Location"]))
    [secret] = {found for answer in answers for found in KEY_PATTERN.findall(answer.get_data(as_text=True))}
    secret_part = secret.split("_", 2)[2]
    set_cookies = " ".join(header for answer in answers for header in answer.headers.getlist("Set-Cookie"))
    assert "session=" in set_cookies and secret_part not in set_cookies
    serializer = app.session_interface.get_signing_serializer(app)
    cookies = [header.split(";")[0].split("=", 1)[1] for header in set_cookies.split() if header.startswith("session=")]
    for cookie in cookies + [client.get_cookie("session").value]:
        assert secret_part not in str(serializer.loads(cookie))


def test_sending_the_form_again_makes_no_second_key(client, auth):
    auth.login("admin")
    data = {"name": "Zendesk", "role": "agent", "once": form_token(client)}
    assert client.post("/admin/api-keys/", data=data).status_code == 201
    again = client.post("/admin/api-keys/", data={**data, "save_anyway": "yes"})  # a reload of the answer
    assert again.status_code == 303 and again.headers["Location"].endswith("/admin/api-keys/")
    listing = client.get("/admin/api-keys/").get_data(as_text=True)
    assert "already used or is out of date" in listing and not KEY_PATTERN.findall(listing)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
    # A form the server never handed out makes nothing either.
    assert client.post("/admin/api-keys/", data={"name": "Other", "role": "agent"}).status_code == 303
    assert client.post("/admin/api-keys/", data={"name": "Other", "once": "made-up"}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1


def test_each_open_form_makes_one_key(client, auth):
    auth.login("admin")
    first_tab, second_tab = form_token(client), form_token(client)
    assert client.post("/admin/api-keys/", data={"name": "A", "role": "agent", "once": first_tab}).status_code == 201
    assert client.post("/admin/api-keys/", data={"name": "B", "role": "agent", "once": second_tab}).status_code == 201
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 2


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
    response = create_key(client, name="")
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
    assert create_key(client, name="Zendesk").status_code == 201
    data = {"name": " zendesk ", "role": "agent", "once": form_token(client)}
    warned = client.post("/admin/api-keys/", data=data)
    assert warned.status_code == 409 and "An active key is already named Zendesk" in warned.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
    forced = client.post("/admin/api-keys/", data={**data, "save_anyway": "yes"})  # the same form, sent on
    assert forced.status_code == 201
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


# "yes": the form sent again after the same-name warning, where no name check stands in the way.
@pytest.mark.parametrize("save_anyway", ["", "yes"])
def test_a_double_click_on_create_makes_one_key(live_server, make_user, save_anyway):
    """Two copies of one form (same cookie, same token) sent at once: one key, no error page."""
    admin = make_user(role="admin")
    browser = live_server.session_for(admin)
    page = browser.get(f"{live_server.url}/admin/api-keys/", timeout=10).text
    token = re.search(r'name="once" type="hidden" value="([^"]+)"', page).group(1)
    form = {"name": "Helpdesk", "role": "agent", "once": token, "save_anyway": save_anyway}
    clicks = []
    for _ in range(2):
        click = requests.Session()
        click.cookies.update(browser.cookies)
        clicks.append(click)
    both_ready = threading.Barrier(2)

    def send(click):
        both_ready.wait(timeout=10)
        return click.post(f"{live_server.url}/admin/api-keys/", data=form, allow_redirects=False, timeout=30)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, clicks))
    assert sorted(answer.status_code for answer in answers) == [201, 303], [a.text[:300] for a in answers]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
