"""Logging in and out, and changing one's own password."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from urllib.parse import urlsplit

from extensions import limiter
from forms.auth import ChangePasswordForm, LoginForm, ProfileForm
from models import db
from services import audit, time_zones, users
from views.access import public, requires_role

bp = Blueprint("auth", __name__)


def _login_attempts_limit() -> str:
    return f"{current_app.config['LOGIN_ATTEMPTS_PER_MINUTE']} per minute"


def _login_email_key() -> str:
    return "login:" + users.normalise_email(request.form.get("email", ""))


def _failed_login(response) -> bool:
    # Only failed attempts count towards the throttle; a success redirects.
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_attempts_limit, key_func=_login_email_key, methods=["POST"], deduct_when=_failed_login)
@limiter.limit(lambda: f"{current_app.config['LOGIN_ATTEMPTS_PER_MINUTE'] * 4} per minute",
               methods=["POST"], deduct_when=_failed_login)
@public
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    user = users.authenticate(form.email.data, form.password.data)
    if user is None:
        audit.record("user.login_failed", "user", None, label=users.normalise_email(form.email.data),
                     summary="failed login")
        db.session.commit()
        flash("Wrong email or password, or the account is deactivated.", "error")
        return render_template("auth/login.html", form=form), 401
    login_user(user, remember=form.remember.data)
    audit.record("user.login", "user", user.id, actor=user, summary="logged in")
    db.session.commit()
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@requires_role("agent")
def logout():
    """Log out (POST, so a link on another site cannot log you out)."""
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires_role("agent")
def change_password():
    """Change one's own password; other sessions end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if users.authenticate(user.email, form.current_password.data) is None:
            form.current_password.errors.append("That is not your current password.")
        else:
            users.set_password(user, form.new_password.data, actor=user)
            db.session.commit()
            login_user(user)  # keep this session, with the new session version
            flash("Password changed. Your other sessions have ended.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)


@bp.route("/account/", methods=["GET", "POST"])
@requires_role("agent")
def profile():
    """One's own settings: the time zone every page shows times in."""
    from views.navigation import BROWSER_ZONE_COOKIE

    user = current_user._get_current_object()
    browser_zone = time_zones.valid_zone(request.cookies.get(BROWSER_ZONE_COOKIE)) or time_zones.UTC_NAME
    form = ProfileForm(browser_zone=browser_zone, data={"time_zone": user.time_zone or ""})
    if form.validate_on_submit():
        users.set_time_zone(user, form.time_zone.data or None, actor=user)
        db.session.commit()
        flash(f"Times are now shown in {user.time_zone or browser_zone}.", "success")
        return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form), 400 if form.errors else 200
