"""Seconds between two timestamps in SQL, the same figure on SQLite and PostgreSQL.

The stored durations (models/handoff.py DURATION_COLUMNS) are computed in Python by the ORM
writes and the bulk applier; the one-event UPDATE of services/status.py and the migration's
backfill compute them in SQL with this.
"""

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):
    """Seconds from the first timestamp to the second, as a float (NULL if either is NULL)."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # date_part() gives a double directly; EXTRACT() gives numeric (PostgreSQL 14+), which
    # costs twice as much to sort at a million rows.
    return f"date_part('epoch', {end} - {start})"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"
