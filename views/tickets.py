"""Agents' ticket queue and ticket pages."""
from flask import Blueprint, render_template
from sqlalchemy import case, select

from models import Ticket, db
from views.access import requires_role

bp = Blueprint("tickets", __name__, url_prefix="/tickets")


@bp.route("/")
@requires_role("agent")
def index():
    """Tickets, those ready for escalation first."""
    ready_first = case((Ticket.status == "ready", 0), (Ticket.status == "open", 1), else_=2)
    tickets = db.session.scalars(select(Ticket).order_by(ready_first, Ticket.updated_at.desc())).all()
    return render_template("tickets/index.html", tickets=tickets)
