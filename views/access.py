"""Deny by default: every view declares who may use it, or nobody can."""

from flask import abort, current_app, request
from flask_login import current_user

from extensions import login_manager
from services.database import read_only_transactions

PUBLIC = "public"


def public(view):
    """Mark a view as open to anyone, logged in or not."""
    view.access_rule = PUBLIC
    return view


def requires_role(role: str):
    """Mark a view as open to users with `role` or a higher one."""

    def mark(view):
        view.access_rule = role
        return view

    return mark


def checks_session_itself(view):
    """Mark a hot view (a poll) that reads its session's user together with its own data in one
    query, instead of through the login machinery before it runs. enforce_access leaves it to the
    view, which must call require_access() whenever its read does not prove the user may see it."""
    view.checks_session_itself = True
    return view


def read_only(view):
    """Mark a GET view that never writes: on SQLite its transactions skip the write lock."""
    view.read_only = True
    return view


def mark_read_only_requests():
    """before_request hook, ahead of the login check so even the user lookup reads lock-free."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if request.method in ("GET", "HEAD") and getattr(view, "read_only", False):
        read_only_transactions()


def access_rule_for(endpoint: str | None) -> str | None:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if endpoint == "static":
        return PUBLIC
    return getattr(view, "access_rule", None)


def enforce_access():
    """before_request hook: refuse any request the view's rule does not allow."""
    if request.endpoint is None:
        return None  # no such route: let the 404 handler answer
    rule = access_rule_for(request.endpoint)
    if rule == PUBLIC or rule == "api":
        return None  # the API authenticates by key in its own blueprint
    if rule is None:
        current_app.logger.error("route %s has no access rule; refused", request.endpoint)
        abort(403)
    if getattr(current_app.view_functions[request.endpoint], "checks_session_itself", False):
        return None
    return require_access(rule)


def require_access(rule: str):
    """The login check for `rule`: the login page (or 401) without a user, 403 without the role."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.has_role(rule):
        abort(403)
    return None
