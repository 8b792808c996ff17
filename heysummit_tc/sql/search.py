"""The attendee search's text matching, as each database indexes it: PostgreSQL's
``pg_trgm`` GIN index on :data:`SEARCH_TEXT`, SQLite's FTS5 trigram table
``attendee_search`` holding the same text (see the migration ``c5e1f7a3b920``)."""

from sqlalchemy import column, func, literal_column, table, text

from ..models import Attendee
from . import on_postgresql
from .plans import of_event

# What the search reads, one line per attendee; the PostgreSQL index is on exactly this
# expression, and SQLite's trigram table holds the same text (its tokenizer folds case).
SEARCH_TEXT = literal_column(
    "lower(attendees.email || ' ' || attendees.first_name || ' ' || attendees.last_name)")
attendee_search = table("attendee_search", column("rowid"), column("search"))


def containing(statement, session, event_id, fragment):
    """``statement`` (attendees, newest first) narrowed to the event's attendees whose email
    or name contains ``fragment`` (three characters or more), through the trigram index;
    return it with the column its keyset is on."""
    if not on_postgresql(session):
        # FTS5 hands its matches over newest first and the join stops at the page's end.
        phrase = '"' + fragment.replace('"', '""') + '"'
        return (statement.join(attendee_search, attendee_search.c.rowid == Attendee.id)
                .where(Attendee.event_id == event_id,
                       text("attendee_search MATCH :phrase").bindparams(phrase=phrase))
                .order_by(None).order_by(attendee_search.c.rowid.desc()),
                attendee_search.c.rowid)
    contains = SEARCH_TEXT.like(func.lower("%" + _escaped(fragment) + "%"), escape="\\")
    # The planner chooses between the trigram index (a rare fragment) and walking the
    # event's newest attendees (a common one) from the fragment itself: a prepared
    # statement's generic plan, which cannot see it, would choose once for all.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    return statement.where(of_event(Attendee.event_id, event_id), contains), Attendee.id


def position_in_text(session, fragment):
    """Where ``fragment`` (lower case) first occurs in :data:`SEARCH_TEXT`: 0 if nowhere."""
    position = func.strpos if on_postgresql(session) else func.instr
    return position(SEARCH_TEXT, func.lower(fragment))


def _escaped(value):
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
