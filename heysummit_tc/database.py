"""Connection-level settings: SQLite made safe for several writers (who queue for its write
lock in the kernel), PostgreSQL connections that the server closed replaced before use, and
the transactions of requests that only read ended so that PostgreSQL's prepared statements
survive them."""

import fcntl
import logging
import re
import select
import sqlite3
import threading

from flask import g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import Pool

log = logging.getLogger(__name__)

# Requests that change nothing, by HTTP's contract (the one GET that writes, opening an
# access link, commits its change itself).
READING_METHODS = ("GET", "HEAD")


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


class QueuedWriters(sqlite3.Connection):
    """A SQLite connection whose write transactions queue for the database in the kernel.

    SQLite lets one connection write at a time. A connection that finds the database locked
    sleeps and looks again (1, 2, 5 ... up to 100 ms apart, until ``busy_timeout``), so
    under a burst of deliveries a writer could lose the race for the lock over and over and
    wait a second while the lock was free most of that time. Here, a connection first takes
    an exclusive ``flock`` on a file beside the database (``<database>-lock``) as its first
    write begins, and lets go of it when the transaction ends: a writer waits in the kernel
    and wakes the moment the one before it is done. SQLite's own locking still decides; the
    lock file only puts its writers in line. An in-memory database, a lock file that cannot
    be opened, or a thread that holds the lock already through another connection (which
    would wait for itself) go without, as plain SQLite does.
    """

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = str(database)
        self._lock_path = None if path in ("", ":memory:") or "mode=memory" in path else (
            f"{path.removeprefix('file:').split('?', 1)[0]}-lock")
        self._lock_file = None
        self._holding = False

    def cursor(self, factory=None):
        return super().cursor(factory or _QueuedCursor)

    # sqlite3's own shortcuts make their cursor without calling cursor().
    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters):
        return self.cursor().executemany(sql, parameters)

    def commit(self):
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._give_back()

    def rollback(self):
        try:
            super().rollback()
        finally:
            if not self.in_transaction:
                self._give_back()

    def close(self):
        try:
            super().close()
        finally:
            self._give_back()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    def _before(self, sql):
        if not self._holding and self._lock_path and _WRITES.match(sql):
            self._take()

    def _after(self):
        if self._holding and not self.in_transaction:
            self._give_back()  # a write outside a transaction is over

    def _take(self):
        if _held.count:  # this thread is in line already, through another connection
            return
        try:
            if self._lock_file is None:
                self._lock_file = open(self._lock_path, "ab")  # noqa: SIM115 - kept open
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)  # lets other threads run meanwhile
        except OSError as error:
            log.warning("writing to SQLite without the lock file %s: %s", self._lock_path,
                        error)
            self._lock_path = None
            return
        self._holding = True
        _held.count += 1

    def _give_back(self):
        if self._holding:
            self._holding = False
            _held.count -= 1
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


class _Held(threading.local):
    count = 0


_held = _Held()
# The statements before which Python's sqlite3 opens a (write) transaction by itself.
_WRITES = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class _QueuedCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=()):
        self.connection._before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection._after()

    def executemany(self, sql, parameters):
        self.connection._before(sql)
        try:
            return super().executemany(sql, parameters)
        finally:
            self.connection._after()


def commit_reads(app, db):
    """End a GET or HEAD request's transaction with COMMIT instead of ROLLBACK when it only
    read.

    psycopg forgets every statement it prepared on a connection when the connection rolls
    back (a rollback may undo the schema those statements were planned against), and
    Flask-SQLAlchemy ends each request's session with a rollback. So every statement of
    every page was parsed and planned by PostgreSQL again on each request, however often
    it ran. For a transaction that only read, COMMIT and ROLLBACK end it alike, and COMMIT
    keeps the statements. A transaction that flushed or ran an ORM write, a request that
    failed and any other method are left to the rollback, as before.
    """
    for name, listener in (("after_flush", _note_write), ("do_orm_execute", _note_orm_write),
                           ("after_transaction_end", _forget_writes)):
        if not event.contains(db.session, name, listener):  # once, however many apps
            event.listen(db.session, name, listener)

    @app.before_request
    def _note_reading():
        g.reading_request = request.method in READING_METHODS

    # Registered after Flask-SQLAlchemy's own teardown, so it runs before the session goes.
    @app.teardown_appcontext
    def _commit_reading(error):
        if error is not None or not g.get("reading_request") or not db.session.registry.has():
            return
        session = db.session()
        if (not session.in_transaction() or session.info.get(_WROTE)
                or session.new or session.dirty or session.deleted):
            return
        try:
            session.commit()
        except SQLAlchemyError as problem:  # the rollback that follows ends it as before
            log.warning("ending a read-only transaction failed: %s", type(problem).__name__)


_WROTE = "heysummit_tc.wrote"


def _note_write(session, _flush_context):
    session.info[_WROTE] = True


def _note_orm_write(state):
    if not state.is_select:
        state.session.info[_WROTE] = True


def _forget_writes(session, transaction):
    if transaction.parent is None:  # the outermost transaction ended
        session.info.pop(_WROTE, None)
