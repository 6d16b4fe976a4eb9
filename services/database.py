"""Who owns the transaction, and engine settings that make SQLite safe under concurrent workers."""

import logging
import os
import threading
import weakref
from contextlib import contextmanager

import psycopg
from flask import g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from models import db

log = logging.getLogger(__name__)


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


class DriverConnections:
    """Autocommit psycopg connections to one engine's database, for one-statement work on the
    busiest paths (the webhook receiver's INSERT, the NOTIFY to the applier): taken for the
    statement and given back (the threads of a server that starts one per request share them
    too), opened when none is idle, at most MAX_IDLE kept; closed with the engine (`dispose`,
    as the tests do with each app's). The engine's pool pings each connection it hands out, a
    second round trip for a one-statement job; these are not pinged: a statement that finds its
    connection dead runs once more on a new one (`execute`)."""

    MAX_IDLE = 10  # a gunicorn worker's threads (scripts/run: --threads 8) and its notifier
    _by_engine: "weakref.WeakKeyDictionary[Engine, DriverConnections]" = weakref.WeakKeyDictionary()
    _creating = threading.Lock()

    @classmethod
    def of(cls, engine: Engine) -> "DriverConnections":
        found = cls._by_engine.get(engine)
        if found is None:
            with cls._creating:
                found = cls._by_engine.get(engine) or cls(engine)
                cls._by_engine[engine] = found
        return found

    def __init__(self, engine: Engine):
        self.connect_args = engine.dialect.create_connect_args(engine.url)
        self.idle: list[psycopg.Connection] = []  # list.pop and append are atomic: no lock needed
        self.pid = os.getpid()
        event.listen(engine, "engine_disposed", self.close_idle)

    def execute(self, sql: str, params=None) -> tuple | None:
        """Run one statement as its own transaction; its first row, if it returns rows. A
        connection the database dropped is replaced once, and the idle ones with it (the server
        went away: they are most likely dead too)."""
        for attempt in (1, 2):
            connection = self.take()
            try:
                cursor = connection.execute(sql, params)
                row = cursor.fetchone() if cursor.description else None
            except psycopg.OperationalError:
                connection.close()
                if attempt == 2 or not (connection.broken or connection.closed):
                    raise
                self.close_idle()
                log.warning("database connection dropped under a one-statement job; running it again")
                continue
            except BaseException:
                self.give_back(connection)  # autocommit: the failed statement left nothing open
                raise
            self.give_back(connection)
            return row
        return None  # not reached: the second attempt returns or raises

    def take(self) -> psycopg.Connection:
        if self.pid != os.getpid():  # forked: the parent's connections are not ours to use
            self.idle, self.pid = [], os.getpid()
        try:
            return self.idle.pop()
        except IndexError:
            args, kwargs = self.connect_args
            return psycopg.connect(*args, **kwargs, autocommit=True)

    def give_back(self, connection: psycopg.Connection) -> None:
        if len(self.idle) < self.MAX_IDLE:
            self.idle.append(connection)
        else:
            connection.close()

    def close_idle(self, _engine=None) -> None:
        while self.idle:
            try:
                self.idle.pop().close()
            except IndexError:  # another thread took the last one meanwhile
                break
