"""Admins manage users and roles."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from forms.settings import SettingsForm
from forms.users import EditUserForm, NewUserForm
from models import User, db
from services import reopen_templates, sessions, users
from services import settings as app_settings
from services.database import unit_of_work
from views.access import requires_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users/")
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
            with unit_of_work():
                user = users.create_user(
                    form.email.data,
                    form.name.data,
                    form.role.data,
                    form.password.data,
                    actor=current_user._get_current_object(),
                )
        except users.UserError as exc:
            (form.password if isinstance(exc, users.PasswordError) else form.email).errors.append(str(exc))
        else:
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
        if user.active and not form.active.data and request.form.get("confirm") != "yes":
            return _confirm_deactivation(user)
        if _save_user(user, form):
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("admin.user_list"))
    return render_template(
        "admin/user_form.html", form=form, user=user, live_sessions=sessions.count_live(user)
    ), 400 if form.errors else 200


@bp.route("/users/<int:user_id>/logout-everywhere", methods=["POST"])
@requires_role("admin")
def user_logout_everywhere(user_id: int):
    """End every session of a user (a lost laptop, a leaver), without changing the password."""
    user = db.session.get(User, user_id) or abort(404)
    with unit_of_work():
        ended = sessions.end_all(user, actor=current_user._get_current_object())
    flash(f"Logged {user.email} out everywhere ({ended} session(s) ended).", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


def _save_user(user: User, form: EditUserForm) -> bool:
    actor = current_user._get_current_object()
    try:
        with unit_of_work():
            users.update_user(
                user,
                name=form.name.data,
                role=form.role.data,
                active=form.active.data,
                actor=actor,
                new_password=form.new_password.data,
            )
    except users.UserError as exc:
        (form.new_password if isinstance(exc, users.PasswordError) else form.role).errors.append(str(exc))
        return False
    return True


def _confirm_deactivation(user: User):
    """Ask before locking someone out; the edit's other fields ride along unchanged."""
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in ("csrf_token", "confirm")]
    page = render_template(
        "confirm.html",
        title=f"Deactivate {user.name}?",
        message=f"{user.email} is logged out everywhere at once and cannot log in until an admin "
        "activates the account again. Their handoffs and history stay.",
        action=url_for("admin.user_edit", user_id=user.id),
        fields=fields,
        cancel_url=url_for("admin.user_edit", user_id=user.id),
        cancel_label="Keep the account active",
        confirm_label=f"Deactivate {user.name}",
    )
    # The carried fields may hold a new password: no cache may keep the page.
    return page, 200, {"Cache-Control": "no-store"}


@bp.route("/settings", methods=["GET", "POST"])
@requires_role("admin")
def settings_page():
    """The default introduction and the template that reopens closed chats."""
    form = SettingsForm()
    available, answered = reopen_templates.listing(refresh=request.method == "GET")
    form.template.choices = [("", "(none: agents cannot reopen chats)")] + [
        (t["key"], f"{t['name']} ({t['language']}): {reopen_templates.body_text(t)[:80]}") for t in available
    ]
    choice = reopen_templates.reopen_choice()
    if request.method == "GET":
        _fill_settings_form(form, choice, available)
    elif form.validate_on_submit():
        if problem := _template_problem(form, available):
            form.template.errors.append(problem)
        else:
            _save_settings(form, reopen_templates.find(available, form.template.data))
            flash("Settings saved.", "success")
            return redirect(url_for("admin.settings_page"))
    picked = reopen_templates.find(available, form.template.data or "")
    if request.method == "POST":
        form.show_params(reopen_templates.slot_labels(picked) if picked else [], form.param_values())
    missing = (
        choice is not None
        and answered
        and reopen_templates.find(available, reopen_templates.choice_key(choice)) is None
    )
    page = render_template(
        "admin/settings.html",
        form=form,
        templates=available,
        answered=answered,
        body_text=reopen_templates.body_text,
        missing=reopen_templates.missing_text(choice) if missing else None,
    )
    return page, 400 if form.errors else 200


@bp.route("/settings/template-params")
@requires_role("admin")
def template_params():
    """The parameter selects for one template (htmx swaps them in when the template changes)."""
    form = SettingsForm(meta={"csrf": False})
    picked = reopen_templates.find(reopen_templates.available(), request.args.get("template", ""))
    form.show_params(reopen_templates.slot_labels(picked) if picked else [], [])
    return render_template("partials/template_params.html", form=form)


def _fill_settings_form(form: SettingsForm, choice: dict | None, available: list[dict]) -> None:
    form.intro_text.data = app_settings.get("intro_text")
    form.template.data = reopen_templates.choice_key(choice)
    picked = reopen_templates.find(available, form.template.data)
    form.show_params(reopen_templates.slot_labels(picked) if picked else [], (choice or {}).get("params", []))


def _template_problem(form: SettingsForm, available: list[dict]) -> str | None:
    if not form.template.data:
        return None
    template = reopen_templates.find(available, form.template.data)
    if template is None:
        return "That template is not among the channel's approved templates: choose one from the list."
    labels = reopen_templates.slot_labels(template)
    values = form.param_values()
    if len(values) != len(labels) or not all(values):
        return (
            f"This template takes {len(labels)} parameter(s) ({', '.join(labels) or 'none'}): "
            "choose what fills each of them, then save."
        )
    return None


def _save_settings(form: SettingsForm, template: dict | None) -> None:
    actor = current_user._get_current_object()
    choice = (
        {
            "name": template["name"],
            "language": template["language"],
            "namespace": template.get("namespace"),
            "params": form.param_values(),
        }
        if template
        else None
    )
    with unit_of_work():
        app_settings.save_send_settings(form.intro_text.data.strip(), choice, actor)
