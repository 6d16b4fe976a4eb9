"""Small helpers the tests share (fixtures live in conftest.py)."""

import time

from flask import has_app_context

from models import db


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.05, *, end_transaction: bool = True):
    """Poll `predicate` until it is truthy and return its last value (falsy on timeout: assert it).

    Inside an app context the test's transaction is ended after each try: on SQLite an open
    read holds the lock the server needs. Pass end_transaction=False when polling from inside a
    statement of that very transaction (a before_cursor_execute hook) on a connection of its own.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if end_transaction and has_app_context():
            db.session.rollback()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
