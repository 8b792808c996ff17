"""Connection-level settings: SQLite made safe for several writers, PostgreSQL connections
that the server closed replaced before use."""

import select
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool


def configure_connections():
    """Give every SQLite connection WAL, foreign keys and a generous busy timeout; check
    every server connection as the pool hands it out."""
    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)
    if not event.contains(Pool, "checkout", _on_checkout):
        event.listen(Pool, "checkout", _on_checkout)


def _on_checkout(dbapi_connection, _record, _proxy):
    """Replace a pooled connection that the server has closed, without a round trip.

    An idle connection has nothing to read: the server only speaks unasked when it is
    closing it (a restart, an idle timeout, a terminated backend), and then the socket turns
    readable. Only such a connection is pinged, and one that fails the ping is replaced
    (SQLAlchemy retries the checkout). A ping on every checkout cost a round trip twice per
    delivery.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if not poller.poll(0):
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(";")
        dbapi_connection.rollback()
    except Exception as error:  # whatever the driver says, the connection is unusable
        raise DisconnectionError(f"the server closed the connection: {error}") from error


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
