"""Admins manage users and roles."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from forms.users import EditUserForm, NewUserForm
from models import User, db
from services import users
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
