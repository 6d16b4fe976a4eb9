"""Admins create, list and revoke the helpdesk's API keys."""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from forms.api_keys import NewApiKeyForm
from models import ApiKey, db
from services import api_keys
from services.database import unit_of_work
from views.access import requires_role

bp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys")


# The new key waits in the session for the one GET that shows it (Post/Redirect/Get). The
# session cookie is signed, HttpOnly and Secure in production, and goes only to the admin
# whose page shows the key anyway; the GET removes it at once.
NEW_KEY_SESSION = "new_api_key"


def _page(form: NewApiKeyForm, new_key: dict | None = None, duplicates=()):
    return render_template(
        "api_keys/index.html", keys=api_keys.all_keys(), form=form, new_key=new_key, duplicates=duplicates
    )


@bp.route("/")
@requires_role("admin")
def index():
    """Every key with its role, state and last use, the form for a new one, and a new key once."""
    new_key = session.pop(NEW_KEY_SESSION, None)
    if new_key is None:
        return _page(NewApiKeyForm())
    # The page holds the key: no cache may keep it.
    return _page(NewApiKeyForm(formdata=None), new_key), 200, {"Cache-Control": "no-store"}


@bp.route("/", methods=["POST"])
@requires_role("admin")
def create():
    """Create a key, then redirect to the list that shows it once (a reload makes no second key)."""
    form = NewApiKeyForm()
    if not form.validate_on_submit():
        return _page(form), 400
    duplicates = [] if request.form.get("save_anyway") == "yes" else api_keys.active_with_name(form.name.data)
    if duplicates:
        return _page(form, duplicates=duplicates), 409
    try:
        with unit_of_work():
            new_key = api_keys.create(form.name.data, form.role.data, actor=current_user._get_current_object())
    except api_keys.ApiKeyError as exc:
        getattr(form, exc.field).errors.append(str(exc))
        return _page(form), 400
    session[NEW_KEY_SESSION] = {"name": new_key.api_key.name, "secret": new_key.secret}
    return redirect(url_for("api_keys.index"), 303)


@bp.route("/<int:key_id>/revoke", methods=["GET", "POST"])
@requires_role("admin")
def revoke(key_id: int):
    """Revoke a key after a confirmation: it stops working at the next request."""
    api_key = db.session.get(ApiKey, key_id) or abort(404)
    if api_key.active and request.form.get("confirm") != "yes":
        return render_template(
            "confirm.html",
            title=f"Revoke the key {api_key.name}?",
            message=f"Whatever uses it (the {api_key.role} key starting shk_{api_key.prefix}) stops working "
            "at its next request. This cannot be undone: a new key would have to be set up.",
            action=url_for("api_keys.revoke", key_id=key_id),
            fields=[],
            cancel_url=url_for("api_keys.index"),
            cancel_label="Keep the key",
            confirm_label="Revoke the key",
        )
    with unit_of_work():
        revoked = api_keys.revoke(api_key, actor=current_user._get_current_object())
    if revoked:
        flash(f"Revoked the key {api_key.name}.", "success")
    else:
        flash(f"The key {api_key.name} was already revoked.", "info")
    return redirect(url_for("api_keys.index"))
