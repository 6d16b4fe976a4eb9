"""Admins create, list and revoke the helpdesk's API keys."""

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from forms.api_keys import NewApiKeyForm
from models import ApiKey, db
from services import api_keys
from services.database import unit_of_work
from views.access import requires_role

bp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys")


# The new key is shown in the answer to the POST that made it, never put in the session: the
# session is a signed cookie, readable by anyone who sees the cookie. So that a reload or
# Back-then-Forward (which send the POST again) cannot make a second key, each form carries a
# one-time token that the session lists until a key is made with it.
FORM_TOKENS_SESSION = "api_key_form_tokens"
FORM_TOKENS_KEPT = 10  # one per open tab is plenty; the oldest go first


def _new_form() -> NewApiKeyForm:
    """An empty form for a new key, carrying a fresh one-time token."""
    form = NewApiKeyForm(formdata=None)
    form.once.data = secrets.token_urlsafe(16)
    session[FORM_TOKENS_SESSION] = (session.get(FORM_TOKENS_SESSION, []) + [form.once.data])[-FORM_TOKENS_KEPT:]
    return form


def _form_token_unused(token: str | None) -> bool:
    return bool(token) and token in session.get(FORM_TOKENS_SESSION, [])


def _use_form_token(token: str) -> None:
    session[FORM_TOKENS_SESSION] = [kept for kept in session.get(FORM_TOKENS_SESSION, []) if kept != token]


def _already_sent():
    flash(
        "That form was already used or is out of date (a reload sends a form again), "
        "so no key was made from it this time. The list shows the keys there are.",
        "info",
    )
    return redirect(url_for("api_keys.index"), 303)


def _page(form: NewApiKeyForm, new_key: dict | None = None, duplicates=()):
    return render_template(
        "api_keys/index.html", keys=api_keys.all_keys(), form=form, new_key=new_key, duplicates=duplicates
    )


@bp.route("/")
@requires_role("admin")
def index():
    """Every key with its role, state and last use, and the form for a new one."""
    return _page(_new_form())


@bp.route("/", methods=["POST"])
@requires_role("admin")
def create():
    """Create a key and answer with the page that shows it once (its form can make only one key)."""
    form = NewApiKeyForm()
    if not _form_token_unused(form.once.data):
        return _already_sent()
    if not form.validate_on_submit():
        return _page(form), 400
    duplicates = [] if request.form.get("save_anyway") == "yes" else api_keys.active_with_name(form.name.data)
    # The session check stops a later resend; two copies sent at once (a double click) both
    # pass it, so the key row carries the token too: only one insert with it can commit.
    # Asked after the duplicates, so that the key the other copy just made is not shown as one.
    if api_keys.made_with(form.once.data):
        return _already_sent()
    if duplicates:
        return _page(form, duplicates=duplicates), 409
    try:
        with unit_of_work():
            new_key = api_keys.create(
                form.name.data,
                form.role.data,
                actor=current_user._get_current_object(),
                creation_token=form.once.data,
            )
    except IntegrityError:
        # unit_of_work rolled back; only the token is unique among what create() writes
        # (the prefix is 48 random bits), so the other copy of this form made the key.
        if api_keys.made_with(form.once.data):
            return _already_sent()
        raise
    except api_keys.ApiKeyError as exc:
        getattr(form, exc.field).errors.append(str(exc))
        return _page(form), 400
    _use_form_token(form.once.data)
    shown = {"name": new_key.api_key.name, "secret": new_key.secret}
    # The page holds the key: no cache may keep it.
    return _page(_new_form(), shown), 201, {"Cache-Control": "no-store"}


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
