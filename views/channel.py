"""The 1MSG channel's health, shown in every page's header."""

from flask import Blueprint, render_template

from services.channel_setup import webhook_registered
from services.onemsg_gateway import channel_status
from views.access import requires_role

bp = Blueprint("channel", __name__)


@bp.route("/channel/status")
@requires_role("agent")
def status_badge():
    """The channel status badge (an htmx fragment loaded by every page)."""
    status = channel_status()
    # Only worth asking while 1MSG answers: "not registered" means statuses arrive late.
    webhook = webhook_registered() if status == "connected" else None
    return render_template("partials/channel_status.html", status=status, webhook=webhook)
