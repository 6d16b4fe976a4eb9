"""Error pages for people, JSON errors for machines."""

from flask import jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from models import db

MESSAGES = {
    400: "The request was not understood. Check the form and try again.",
    403: "Your role does not allow this page. Ask an admin if you need access.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    413: "What was sent is too large.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on our side. The error was logged; try again shortly.",
}


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.accept_mimetypes.best == "application/json"


def render_error(code: int, message: str | None = None):
    message = message or MESSAGES.get(code, "Something went wrong.")
    if wants_json():
        return jsonify(error={"code": str(code), "message": message, "fields": {}}), code
    return render_template("errors/error.html", code=code, message=message), code


def register_error_handlers(app) -> None:
    @app.errorhandler(RateLimitExceeded)
    def too_many(exc):
        return render_error(429, f"Too many attempts ({exc.description}). Wait a minute and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 400 and "CSRF" in (exc.description or ""):
            return render_error(400, "The form expired or was sent from another page. Reload the page and try again.")
        # A description given with abort() is meant for the person; werkzeug's defaults are not.
        custom = exc.description if exc.description != type(exc).description else None
        return render_error(exc.code or 500, custom)

    @app.errorhandler(Exception)
    def unexpected(exc):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)
