"""The minimal references our endpoints are measured against, under the same gunicorn settings.

- `constant_app`: a bare Flask app whose one endpoint returns a constant string: the most a
  Flask request can do on this machine (reference for the status fragment).
- `ingest_app`: a bare WSGI function that stores the raw webhook body as one `webhook_events`
  row, with the driver our app uses (sqlite3 for SQLite, psycopg 3 for PostgreSQL), one
  connection per thread and the same SQLite pragmas: the most the database can take
  (reference for the webhook receiver). It parses nothing and applies nothing. It stores the
  way our receiver does (views/webhooks.py), so neither side gains from a cheaper technique:
  the INSERT as a transaction of its own (autocommit: no BEGIN/COMMIT round trips) and, on
  SQLite, the threads of a process queueing on a lock rather than on SQLite's sleeping retries.

Both read the database from BENCH_DATABASE_URL (a SQLAlchemy URL, as DATABASE_URL).
"""

import os
import threading
from datetime import UTC, datetime

from flask import Flask

constant_app = Flask(__name__)


@constant_app.route("/constant")
def constant():
    """A constant string: no database, no template, no session."""
    return "ok"


_local = threading.local()
# applied_at is set at once: the reference applies nothing, and our applier must not take its rows.
INSERT = (
    "INSERT INTO webhook_events (received_at, source, body, status_count, message_count, applied_at) "
    "VALUES ({p}, {p}, {p}, 0, 0, {p}) RETURNING id"
)


_sqlite_writer = threading.Lock()


def _connect():
    url = os.environ["BENCH_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        import sqlite3

        # isolation_level=None: autocommit, each statement its own transaction (as our engine's).
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=10)
        for pragma in ("journal_mode=WAL", "busy_timeout=10000", "foreign_keys=ON", "synchronous=NORMAL"):
            connection.execute(f"PRAGMA {pragma}")
        return connection, "sqlite"
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True), "postgresql"


def _store(body: str, source: str) -> int:
    if not hasattr(_local, "connection"):
        _local.connection, _local.dialect = _connect()
    connection, now = _local.connection, datetime.now(UTC).replace(tzinfo=None)
    if _local.dialect == "sqlite":
        with _sqlite_writer:  # fetchall: the statement, and so its transaction, ends inside the lock
            return connection.execute(
                INSERT.format(p="?"), (now.isoformat(" "), source, body, now.isoformat(" "))
            ).fetchall()[0][0]
    return connection.execute(INSERT.format(p="%s"), (now, source, body, now)).fetchone()[0]


def ingest_app(environ, start_response):
    """POST anything: stored raw as one row, then 200 with its id."""
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Content-Length", "0")])
        return [b""]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length).decode("utf-8", errors="replace")
    row_id = _store(body, (environ.get("REMOTE_ADDR") or "")[:64])
    answer = b'{"ok":true,"stored_as":%d}' % row_id
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
