"""Declarative base, naming convention and column types shared by every model."""

from datetime import UTC, datetime

from sqlalchemy import (
    ARRAY,
    DateTime,
    Enum,
    Integer,
    MetaData,
    String,
    any_,
    bindparam,
    literal_column,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow():
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class utc_text(FunctionElement):  # noqa: N801 (used like a SQL function)
    """A UTCDateTime column as ``2026-11-27T09:30:00Z``, written by the database.

    An export of 200,000 purchases reads three timestamps each: formatting them in SQL spares
    building 600,000 datetimes only to turn them back into text.
    """

    type = String()
    inherit_cache = True


@compiles(utc_text, "postgresql")
def _utc_text_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@compiles(utc_text, "sqlite")
def _utc_text_sqlite(element, compiler, **kw):
    # SQLite holds UTCDateTime as naive UTC text.
    column = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {column})"


class any_of(FunctionElement):  # noqa: N801 (used like a SQL operator)
    """``column IN (...)`` for a list given at execution as the parameter ``name``.

    PostgreSQL is sent the list as one array (``column = ANY(:name)``): the statement's text
    is the same whatever the list's length, so the driver prepares it once and SQLAlchemy
    sends it as compiled. An expanding IN is rewritten on every execution instead, one
    parameter an item (50 rendered, cast and bound for a page of 50 attendees), and each
    length is another statement to prepare. SQLite, which has no arrays, gets the expanding
    IN. Meant for a page's ids; a delivery's one to four items keep their expanding IN, which
    costs no more for so few.
    """

    inherit_cache = True

    def __init__(self, column, name):
        super().__init__(column, bindparam(name, expanding=True))


@compiles(any_of)
def _any_of_in(element, compiler, **kw):
    column, values = element.clauses
    return compiler.process(column.in_(values), **kw)


@compiles(any_of, "postgresql")
def _any_of_array(element, compiler, **kw):
    column, values = element.clauses
    # Text as text without a length: a cast to varchar(n)[] would cut longer values to a
    # prefix that might match.
    item = String() if isinstance(column.type, String) else column.type
    return compiler.process(column == any_(bindparam(values.key, type_=ARRAY(item))), **kw)


def sql_constant(value):
    """A string or integer written into a statement's SQL, not bound as a parameter."""
    if isinstance(value, int):
        return literal_column(str(int(value)), Integer)
    return literal_column("'" + str(value).replace("'", "''") + "'", String)


def str_enum(enum_class, name, length=20):
    """A column type for a StrEnum: its values as text, held to them by a CHECK constraint."""
    return Enum(enum_class, name=name, values_callable=lambda members: [m.value for m in members],
                native_enum=False, length=length, validate_strings=True, create_constraint=True)
