"""Who owns the transaction, and engine settings that make SQLite safe under concurrent workers."""

from contextlib import contextmanager

from flask import g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from models import db


@contextmanager
def unit_of_work():
    """One change's transaction: committed when the block ends, rolled back if it raises.

    A view that changes data calls its service(s) inside one of these and never commits itself;
    services that must make a step durable before calling out (the send path, the outbox, the
    webhook applier, the worker) commit on their own at those points."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def read_only_transactions() -> None:
    """Declare that this request only reads (SQLite: BEGIN DEFERRED, no write lock)."""
    g.read_only_transactions = True


@contextmanager
def reading_only():
    """Transactions begun inside only read: the same, for background work in an app context."""
    before = g.get("read_only_transactions", False)
    g.read_only_transactions = True
    try:
        yield
    finally:
        g.read_only_transactions = before


def commit_keeping_values() -> None:
    """Commit without expiring loaded objects: what they hold is what was just written,
    so reading them afterwards (a flash message, a redirect) needs no new transaction."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def read_again_if_dropped(read):
    """Run a read; if the database dropped the connection under it, run it once more on a new one.
    For reads outside a request's own retry (app.py), e.g. the batches of a streamed export."""
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        discard_transaction()
        return read()


def discard_transaction() -> None:
    """Roll back; when the connection is already dead (its ROLLBACK fails too), just drop it."""
    try:
        db.session.rollback()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        db.session().invalidate()


def end_session_quietly(_exc=None) -> None:
    """End the request's session; a connection the database dropped after the answer was made
    (its ROLLBACK fails) is thrown away instead of turning a finished request into an error."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        db.session().invalidate()
        db.session.remove()


def _wants_read_only() -> bool:
    return has_app_context() and g.get("read_only_transactions", False)


def configure_engine(engine: Engine) -> None:
    """SQLite: WAL, a busy timeout, and write transactions that take the lock up front."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("statement_is_transaction"):
            return  # each statement is its own transaction (see services/status_poll.py)
        # IMMEDIATE takes the write lock at BEGIN, so two writers wait for each other
        # (busy_timeout) instead of failing with "database is locked" on upgrade.
        connection.exec_driver_sql("BEGIN" if _wants_read_only() else "BEGIN IMMEDIATE")
