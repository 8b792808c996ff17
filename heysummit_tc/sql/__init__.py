"""The database layer: every difference between PostgreSQL and SQLite lives in this package,
behind functions named for what they do (:func:`.deliveries.record`, :func:`.orders.lock`).

The services above it speak of deliveries, orders and attendees, never of a dialect. The
webhook's statements on PostgreSQL are built once per process: building them per delivery
cost more than running them (SQLite's close of an attempt is built per call, a tenth of a
millisecond, so that mutation testing reaches it). They use Core tables, not ORM
entities, so that no unit of work is involved on the webhook's hot path. Every write that
must happen once is an ``INSERT ... ON CONFLICT`` against a unique constraint, in both
dialects alike.
"""

from functools import cache

from sqlalchemy import bindparam, column, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

POSTGRESQL = "postgresql"


def dialect_of(session_or_connection):
    """The name of the database a session or a connection speaks to."""
    bind = getattr(session_or_connection, "get_bind", None)
    if bind is not None:
        return bind().dialect.name
    return session_or_connection.dialect.name


def on_postgresql(session_or_connection):
    return dialect_of(session_or_connection) == POSTGRESQL


def insert_for(dialect):
    """The dialect's ``insert``, which knows ``ON CONFLICT``."""
    return postgresql.insert if dialect == POSTGRESQL else sqlite.insert


_NAMED = {POSTGRESQL: postgresql.dialect(paramstyle="named"),
          "sqlite": sqlite.dialect(paramstyle="named")}


def compiled_once(dialect, statement):
    """``statement`` rendered once for ``dialect``, as text SQLAlchemy's cache keeps.

    SQLAlchemy never caches a dialect's ``INSERT ... ON CONFLICT`` (its ``Insert`` sets
    ``inherit_cache = False``), so every execution compiled the upserts again: about 0.3 ms
    each, three times a delivery. As text with the same typed parameters and result columns,
    each is compiled once per process: a delivery in process 14.1 -> 12.1 ms.
    """
    compiled = statement.compile(dialect=_NAMED[dialect])
    # Literals in the statement (a status, an empty name) keep their values.
    sql = text(compiled.string).bindparams(
        *(bindparam(name, value=parameter.value, type_=parameter.type)
          for parameter, name in compiled.bind_names.items()))
    returned = statement.exported_columns
    return sql.columns(*(column(c.key, c.type) for c in returned)) if returned else sql


def synchronous_commit_off():
    """``SET LOCAL synchronous_commit = off``, said inside a statement (no round trip)."""
    return func.set_config("synchronous_commit", "off", True)


def numbered(rows):
    """Flatten rows of parameters into one mapping, ``row{index}_{column}``: a multi-row
    ``VALUES`` built once for its row count."""
    return {f"row{index}_{column}": value
            for index, row in enumerate(rows) for column, value in row.items()}


def one_at_a_time(session, lock_id):
    """Serialise the transactions that call this with ``lock_id`` until they end.

    PostgreSQL takes a transaction's advisory lock; SQLite has one writer anyway.
    """
    if on_postgresql(session):
        session.execute(_advisory_lock(lock_id))


@cache
def _advisory_lock(lock_id):
    return select(func.pg_advisory_xact_lock(lock_id))


def insert_once(session, table, rows, keys):
    """Insert ``rows`` into ``table``; a row whose ``keys`` (a unique constraint's columns)
    are there already inserts nothing."""
    session.execute(_insert_once(dialect_of(session), table, keys), rows)


@cache
def _insert_once(dialect, table, keys):
    return insert_for(dialect)(table).on_conflict_do_nothing(
        index_elements=[table.c[key] for key in keys])


def autocommit(connection):
    """``connection`` with each statement a transaction of its own where that is safe and
    cheaper (PostgreSQL: no BEGIN and COMMIT around a single statement); SQLite keeps its
    transaction, which the caller commits.

    What it buys, with the one-statement record and close (:mod:`.deliveries`): against the
    plain statements in transactions, 16-22% more wrong-secret posts a second and 5-19% more
    deliveries (``make bench``, two pairs of runs, bench/RESULTS.md).
    """
    if on_postgresql(connection):
        return connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection
