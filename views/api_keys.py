"""Admins create, list and revoke the helpdesk's API keys."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from forms.api_keys import NewApiKeyForm
from models import ApiKey, db
from services import api_keys
from views.access import requires_role

bp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys")


def _page(form: NewApiKeyForm, new_key: api_keys.NewKey | None = None) -> str:
    return render_template("api_keys/index.html", keys=api_keys.all_keys(), form=form, new_key=new_key)


@bp.route("/")
@requires_role("admin")
def index():
    """Every key with its role, state and last use, and the form for a new one."""
    return _page(NewApiKeyForm())


@bp.route("/", methods=["POST"])
@requires_role("admin")
def create():
    """Create a key and show it once (rendered, never flashed: flashes live in the cookie)."""
    form = NewApiKeyForm()
    if not form.validate_on_submit():
        return _page(form), 400
    try:
        new_key = api_keys.create(form.name.data, form.role.data, actor=current_user._get_current_object())
    except api_keys.ApiKeyError as exc:
        getattr(form, exc.field).errors.append(str(exc))
        return _page(form), 400
    db.session.commit()
    # The page holds the key: no cache may keep it.
    return _page(NewApiKeyForm(formdata=None), new_key), 201, {"Cache-Control": "no-store"}


@bp.route("/<int:key_id>/revoke", methods=["POST"])
@requires_role("admin")
def revoke(key_id: int):
    """Revoke a key: it stops working at the next request."""
    api_key = db.session.get(ApiKey, key_id) or abort(404)
    if api_keys.revoke(api_key, actor=current_user._get_current_object()):
        db.session.commit()
        flash(f"Revoked the key {api_key.name}.", "success")
    else:
        flash(f"The key {api_key.name} was already revoked.", "info")
    return redirect(url_for("api_keys.index"))
