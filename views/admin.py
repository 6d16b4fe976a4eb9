"""Admins manage users and roles."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from forms.settings import SettingsForm
from forms.users import EditUserForm, NewUserForm
from models import User, db
from services import settings as app_settings, templates, users
from views.access import requires_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@requires_role("admin")
def user_list():
    """All users with their role and state."""
    all_users = db.session.scalars(select(User).order_by(User.active.desc(), User.name)).all()
    return render_template("admin/users.html", users=all_users)


@bp.route("/users/new", methods=["GET", "POST"])
@requires_role("admin")
def user_new():
    """Create a user with an initial password."""
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = users.create_user(form.email.data, form.name.data, form.role.data,
                                     form.password.data, actor=current_user._get_current_object())
        except users.UserError as exc:
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Created {user.email} as {user.role}.", "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_form.html", form=form, user=None), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires_role("admin")
def user_edit(user_id: int):
    """Change a user's name, role, active flag or password."""
    user = db.session.get(User, user_id) or abort(404)
    form = EditUserForm(obj=user)
    if form.validate_on_submit():
        actor = current_user._get_current_object()
        try:
            users.update_user(user, name=form.name.data, role=form.role.data,
                              active=form.active.data, actor=actor)
            if form.new_password.data:
                users.set_password(user, form.new_password.data, actor=actor)
        except users.UserError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_form.html", form=form, user=user), 400 if form.errors else 200


@bp.route("/settings", methods=["GET", "POST"])
@requires_role("admin")
def settings_page():
    """The default introduction and the template that reopens closed chats."""
    form = SettingsForm()
    available = templates.available(refresh=request.method == "GET")
    form.template_name.choices = [("", "(none: agents cannot reopen chats)")] + [
        (t["name"], f"{t['name']} ({t.get('language', '')}): {templates.body_text(t)[:80]}") for t in available]
    if request.method == "GET":
        _fill_settings_form(form)
    elif form.validate_on_submit():
        if problem := _template_problem(form, available):
            form.template_name.errors.append(problem)
        else:
            _save_settings(form)
            flash("Settings saved.", "success")
            return redirect(url_for("admin.settings_page"))
    return render_template("admin/settings.html", form=form, templates=available), 400 if form.errors else 200


def _fill_settings_form(form: SettingsForm) -> None:
    form.intro_text.data = app_settings.get("intro_text")
    choice = templates.reopen_choice() or {}
    form.template_name.data = choice.get("name", "")
    form.template_language.data = choice.get("language", "en")
    for field, value in zip((form.param_1, form.param_2, form.param_3), choice.get("params", [])):
        field.data = value


def _template_problem(form: SettingsForm, available: list[dict]) -> str | None:
    if not form.template_name.data:
        return None
    template = next((t for t in available if t["name"] == form.template_name.data), None)
    if template is None:
        return "That template is not among the channel's approved templates."
    needed = int(template.get("params") or templates.body_text(template).count("{{"))
    if len(form.params()) != needed:
        return f"This template takes {needed} parameter(s): map each of them, in order."
    return None


def _save_settings(form: SettingsForm) -> None:
    actor = current_user._get_current_object()
    app_settings.put("intro_text", form.intro_text.data.strip(), actor)
    choice = ({"name": form.template_name.data, "language": form.template_language.data.strip() or "en",
               "params": form.params()} if form.template_name.data else None)
    app_settings.put("reopen_template", choice, actor)
    db.session.commit()
