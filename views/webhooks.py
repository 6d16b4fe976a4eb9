"""1MSG posts delivery statuses and customer messages here.

The channel's webhook carries every message and ack of the WhatsApp number, so this is the
app's busiest request, and it needs none of what a browser request needs (session cookie,
login, CSRF, rate limits, templates). `WebhookReceiver` therefore answers
`POST /webhooks/1msg/<secret>` in front of Flask, as a bare WSGI handler: check the secret,
store the body with one INSERT and one COMMIT, wake the applier, answer. Every other request,
a wrong secret included, goes on to Flask (whose 404 page answers the wrong secret). The
blueprint route below names the URL (`url_for`) and serves the same handler when the app is
called without the receiver in front.
"""

import hmac
import json
import logging
import sys
import threading

from flask import Blueprint, abort, current_app, request
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from werkzeug.wsgi import get_input_stream

from extensions import csrf, limiter
from models import WebhookEvent, db, utcnow
from services import applier
from services.database import DriverConnections
from services.webhook_input import storable
from views.access import public

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)

PREFIX = "/webhooks/1msg/"
STORE = insert(WebhookEvent).returning(WebhookEvent.id)
# What add_security_headers (app.py) gives every answer; a JSON answer needs no more.
HEADERS = [
    ("Content-Type", "application/json"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Vary", "HX-Request"),
]


def secret_matches(config, given: str) -> bool:
    """Constant-time compare against the current secret and, while rotating, the previous one."""
    matched = False
    for key in ("ONEMSG_WEBHOOK_SECRET", "ONEMSG_WEBHOOK_SECRET_PREVIOUS"):
        expected = config.get(key) or ""
        if expected:
            matched |= hmac.compare_digest(given.encode(), expected.encode())
    return matched


class WebhookReceiver:
    """WSGI middleware: our webhook POSTs are answered here, everything else by the app behind."""

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self._engine = None

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not path.startswith(PREFIX)
            or not secret_matches(self.app.config, path[len(PREFIX) :])
        ):
            return self.wsgi_app(environ, start_response)
        code, answer = receive(self.app, self.engine, environ)
        body = json.dumps(answer, separators=(",", ":")).encode()
        start_response(STATUS_LINES[code], HEADERS + [("Content-Length", str(len(body)))])
        return [body]

    @property
    def engine(self):
        if self._engine is None:  # the app's own engine (pool, SQLite settings), looked up once
            with self.app.app_context():
                self._engine = db.engine
        return self._engine


STATUS_LINES = {
    200: "200 OK",
    400: "400 BAD REQUEST",
    413: "413 REQUEST ENTITY TOO LARGE",
    500: "500 INTERNAL SERVER ERROR",
    503: "503 SERVICE UNAVAILABLE",
}


def receive(app, engine, environ) -> tuple[int, dict]:
    """Store the POSTed body as one webhook_events row; returns the HTTP status and the JSON answer."""
    limit = app.config["WEBHOOK_MAX_BYTES"]
    # Read at most limit + 1 bytes ourselves, so even a huge body is stored (truncated) and refused.
    raw = get_input_stream(environ).read(limit + 1)
    too_large = len(raw) > limit
    body = storable(raw[:limit])
    error = f"body larger than the limit ({len(raw)}+ bytes); stored truncated" if too_large else body.error
    row = dict(
        received_at=utcnow(),
        source=(environ.get("REMOTE_ADDR") or "")[:64],
        body=body.text,
        parse_error=error,
        status_count=0,
        message_count=0,
        applied_at=utcnow() if error else None,
    )  # nothing in it to apply
    try:
        stored_as = _store(engine, row)
    except Exception:  # noqa: BLE001 - answered like any unexpected error; 1MSG delivers it again
        log.exception("a webhook body could not be stored")
        return 500, {
            "error": {
                "code": "500",
                "fields": {},
                "message": "Something went wrong on our side. The error was logged; try again shortly.",
            }
        }
    if too_large:
        return 413, {
            "error": {"code": "too_large", "message": f"The body is larger than {limit} bytes.", "stored_as": stored_as}
        }
    if error:
        return 400, {"error": {"code": "malformed", "message": error, "stored_as": stored_as}}
    applier.wake(app)
    return 200, {"ok": True, "stored_as": stored_as}


def _store(engine, row: dict) -> int:
    """One INSERT, one COMMIT. A connection the database dropped is replaced once (pool_pre_ping
    only tests a connection as it leaves the pool); a body stored twice is applied once."""
    try:
        return _insert(engine, row)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection dropped while storing a webhook body; storing it again")
        return _insert(engine, row)


def _insert(engine, row: dict) -> int:
    """The INSERT alone, as its own transaction: no BEGIN and COMMIT around it (one round trip on
    PostgreSQL, and on SQLite one call that takes the write lock, writes and lets it go)."""
    if engine.dialect.name == "sqlite":
        return _insert_sqlite(engine, row)
    if engine.dialect.driver == "psycopg":
        return _insert_postgresql(engine, row)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(STORE, row).scalar_one()


# The INSERT in each driver's own parameter style, for the two paths that bypass SQLAlchemy.
_COLUMNS = ("received_at", "source", "body", "parse_error", "status_count", "message_count", "applied_at")
_POSTGRESQL_STORE = (
    "INSERT INTO webhook_events (received_at, source, body, parse_error, status_count, message_count, "
    "applied_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
)
_SQLITE_STORE = _POSTGRESQL_STORE.replace("%s", "?")


def _insert_postgresql(engine, row: dict) -> int:
    """PostgreSQL: straight on an autocommit driver connection (services.database.DriverConnections).

    Through the engine's pool each POST paid pool_pre_ping's round trip and SQLAlchemy's
    statement machinery: ~0.2 ms of CPU and a second round trip on a request whose only work is
    one INSERT (half of what separated us from a bare insert)."""
    return DriverConnections.of(engine).execute(_POSTGRESQL_STORE, [row[c] for c in _COLUMNS])[0]


# SQLite: straight on the driver's connection, which the app's engine keeps in autocommit
# (services/database.py: SQLAlchemy, not the driver, begins transactions), so this statement
# is a transaction of its own; through SQLAlchemy the engine's BEGIN IMMEDIATE would come first.
def _insert_sqlite(engine, row: dict) -> int:
    column = WebhookEvent.__table__.c.received_at  # times in the format the ORM writes and reads
    as_stored = column.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    values = [as_stored(row[c]) if c in ("received_at", "applied_at") and row[c] else row[c] for c in _COLUMNS]
    connection = engine.raw_connection()
    try:
        with _SQLITE_WRITER:
            # fetchall: the statement ends (and its transaction commits) before the lock is let go
            return connection.driver_connection.execute(_SQLITE_STORE, values).fetchall()[0][0]
    finally:
        connection.close()


# SQLite lets one writer in at a time; the others sleep and try again (busy_timeout) in growing
# steps (up to 100 ms each), so under load most of a POST's time was spent asleep while the lock
# was free. The receiver's threads of one process queue on this lock instead: at most one of them
# waits on SQLite, and the next goes in as soon as it is done.
_SQLITE_WRITER = threading.Lock()


@bp.route("/1msg/<secret>", methods=["POST"])
@limiter.exempt
@csrf.exempt
@public
def onemsg(secret: str):
    """A wrong secret is a 404; the right one is stored as WebhookReceiver does (it answers first)."""
    if not secret_matches(current_app.config, secret):
        abort(404)
    request.max_content_length = sys.maxsize
    code, answer = receive(current_app, db.engine, request.environ)
    return answer, code
