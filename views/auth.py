"""Logging in and out, and changing one's own password."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from forms.auth import ChangePasswordForm, LoginForm, ProfileForm
from services import audit, login_throttle, sessions, time_zones, users
from services.database import unit_of_work
from views.access import public, requires_role
from views.navigation import BROWSER_ZONE_COOKIE

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Log in with email and password; failed attempts are slowed down, see services/login_throttle.py."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    email = users.normalise_email(form.email.data)
    device_cookie = request.cookies.get(login_throttle.DEVICE_COOKIE)
    scopes = login_throttle.scopes_for(request.remote_addr, email, login_throttle.known_device(device_cookie, email))
    if wait := login_throttle.seconds_to_wait(scopes):
        return _too_many_attempts(form, wait)
    user = users.authenticate(email, form.password.data)
    if user is None:
        login_throttle.record_failure(scopes)
        with unit_of_work():
            audit.record("user.login_failed", "user", None, label=email, summary="failed login")
        flash("Wrong email or password, or the account is deactivated.", "error")
        return render_template("auth/login.html", form=form), 401
    login_throttle.record_success(scopes)
    with unit_of_work():
        _start_session(user, remember=form.remember.data)
        audit.record("user.login", "user", user.id, actor=user, summary="logged in")
    response = redirect(_safe_next(request.args.get("next")))
    _remember_device(response, device_cookie, email)
    return response


def _too_many_attempts(form, wait: int):
    flash(
        f"Too many failed attempts. Try again in {wait} second(s). "
        "On a computer you have logged in from before, your own login is not held up.",
        "error",
    )
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(wait)
    return response


def _remember_device(response, cookie: str | None, email: str) -> None:
    config = current_app.config
    response.set_cookie(
        login_throttle.DEVICE_COOKIE,
        login_throttle.device_cookie_after_login(cookie, email),
        max_age=login_throttle.DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        secure=config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )


def _start_session(user, *, remember: bool) -> None:
    """A new server-side session, and nothing carried over from before the login:
    a fresh CSRF token and session contents (no fixation of a planted cookie)."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches the request's token here
    sessions.start(user, remember=remember)
    login_user(user, remember=remember)


@bp.route("/logout", methods=["POST"])
@requires_role("agent")
def logout():
    """Log out (POST, so a link on another site cannot log you out); the session ends on the server."""
    with unit_of_work():
        sessions.end(current_user._get_current_object())
    _forget_session()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/logout/everywhere", methods=["POST"])
@requires_role("agent")
def logout_everywhere():
    """End every session of one's own account, on every device."""
    user = current_user._get_current_object()
    with unit_of_work():
        ended = sessions.end_all(user, actor=user)
    _forget_session()
    flash(f"You are logged out everywhere ({ended} session(s) ended).", "info")
    return redirect(url_for("auth.login"))


def _forget_session() -> None:
    session.clear()
    logout_user()  # also deletes the "remember me" cookie


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
            try:
                with unit_of_work():
                    users.set_password(user, form.new_password.data, actor=user)
            except users.PasswordError as exc:
                form.new_password.errors.append(str(exc))
                return render_template("auth/password.html", form=form), 400
            flash("Password changed. Your other sessions have ended.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)


@bp.route("/account/", methods=["GET", "POST"])
@requires_role("agent")
def profile():
    """One's own settings: the time zone every page shows times in."""
    user = current_user._get_current_object()
    browser_zone = time_zones.valid_zone(request.cookies.get(BROWSER_ZONE_COOKIE)) or time_zones.UTC_NAME
    form = ProfileForm(browser_zone=browser_zone, data={"time_zone": user.time_zone or ""})
    if form.validate_on_submit():
        with unit_of_work():
            users.set_time_zone(user, form.time_zone.data or None, actor=user)
        flash(f"Times are now shown in {user.time_zone or browser_zone}.", "success")
        return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form), 400 if form.errors else 200
