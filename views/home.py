"""The landing page after login."""

from flask import Blueprint, redirect, url_for

from views.access import requires_role

bp = Blueprint("home", __name__)


@bp.route("/")
@requires_role("agent")
def index():
    """Send everyone to their ticket queue, the workflow's start."""
    return redirect(url_for("tickets.index"))
