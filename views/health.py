"""Liveness and database check for load balancers and the set-up script."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from models import db
from views.access import public

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz():
    """200 with the database reachable, 503 when it is not."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return jsonify(status="error", database="unreachable", detail=type(exc).__name__), 503
    return jsonify(status="ok", database="ok")
