"""Connection-level settings that make SQLite safe for several writers."""

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_sqlite_connections():
    """Give every SQLite connection WAL, foreign keys and a generous busy timeout."""
    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)


def _on_connect(dbapi_connection, _record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; busy_timeout makes a second writer wait
    # for the lock instead of failing with "database is locked". Writes come first in every
    # write transaction (sqlite3 only opens a transaction at the first INSERT/UPDATE/DELETE),
    # so a transaction never has to upgrade a stale read snapshot to a write lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
