"""Opt-in SQL statement counts per request (``SQL_STATEMENT_COUNTS=1``), for benchmarks."""

from flask import g
from sqlalchemy import event
from sqlalchemy.engine import Engine

HEADER = "X-SQL-Statements"


def register(app):
    """Count statements per request and report them in a response header."""
    if not app.config.get("SQL_STATEMENT_COUNTS"):
        return
    if not event.contains(Engine, "before_cursor_execute", _count):
        event.listen(Engine, "before_cursor_execute", _count)
    app.before_request(_start)
    app.after_request(_report)


def _count(*_args):
    if g:
        g.sql_statements = g.get("sql_statements", 0) + 1


def _start():
    g.sql_statements = 0


def _report(response):
    response.headers[HEADER] = str(g.get("sql_statements", 0))
    return response
