"""Admins see the webhook bodies we could not read (stored as received) and what waits to be applied."""

from flask import Blueprint, render_template
from sqlalchemy import func, select

from models import WebhookEvent, db
from views.access import requires_role

bp = Blueprint("webhook_log", __name__, url_prefix="/admin/webhooks")
SHOWN = 50
BODY_SHOWN = 2000  # characters of each body on the page; the row keeps all of it


@bp.route("/")
@requires_role("admin")
def index():
    """The latest bodies with something unreadable, newest first, and the applier's queue."""
    unreadable = db.session.scalars(
        select(WebhookEvent).where(WebhookEvent.parse_error.is_not(None)).order_by(WebhookEvent.id.desc()).limit(SHOWN)
    ).all()
    pending = db.session.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.applied_at.is_(None)))
    return render_template("webhook_log/index.html", unreadable=unreadable, pending=pending, body_shown=BODY_SHOWN)
