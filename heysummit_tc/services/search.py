"""Finding an event's attendees by email, name or ThriveCart order id, always through an index.

A query is answered in one of four ways, chosen from its shape:

- a whole email address: the attendee with exactly that address (the ``(event_id, email)``
  unique index);
- an order id (digits): the attendees whose purchases came through that order (the
  ``thrivecart_order_id`` index); when none did, the digits are searched as text;
- text with a run of three letters or digits: the attendees whose email or name contains it,
  served by trigrams (PostgreSQL's ``pg_trgm`` GIN index, SQLite's FTS5 trigram table; see
  the migration ``c5e1f7a3b920``);
- anything shorter (one or two characters, or punctuation only): a plain substring match
  (a position, case folded as the database folds it: ASCII only on SQLite) over the newest
  :data:`SHORT_WINDOW` attendees only. No index can serve it, and reading
  the whole event for ``a`` or ``%`` would take seconds at a million buyers; the form says so.

Every way keeps the list's order (newest first) and its keyset (``id < before``).
"""

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from ..models import Attendee, TicketPurchase
from ..sql.plans import of_event
from ..sql.search import containing, position_in_text

# Attendees a short query looks through, newest first.
SHORT_WINDOW = 5_000
SHORT_HELP = (f"Email, name or ThriveCart order id. One or two characters search the newest "
              f"{SHORT_WINDOW:,} attendees; three or more search them all.")
# A run of three letters or digits: what both trigram indexes can look up.
_TRIGRAM_RUN = re.compile(r"[^\W_]{3}")
_ORDER_ID = re.compile(r"\d{1,40}")



@dataclass(frozen=True)
class Plan:
    """How one query is answered: its kind and the value each kind binds."""

    kind: str  # "email", "order", "text" or "short"
    value: str


def plan_for(query):
    """Return how ``query`` (stripped, non-empty) is answered."""
    if "@" in query and " " not in query:
        try:
            validate_email(query, check_deliverability=False)
        except EmailNotValidError:
            pass
        else:
            return Plan("email", query.lower())
    if _ORDER_ID.fullmatch(query):
        return Plan("order", query)
    if _TRIGRAM_RUN.search(query):
        return Plan("text", query)
    return Plan("short", query)


def order_buyers(session, event_id, order_id):
    """Tell whether any attendee of the event bought through ``order_id``."""
    return session.scalar(select(
        select(TicketPurchase.attendee_id)
        .join(Attendee, Attendee.id == TicketPurchase.attendee_id)
        .where(TicketPurchase.thrivecart_order_id == order_id, Attendee.event_id == event_id)
        .exists()))


def narrowed(statement, session, event_id, plan, before):
    """The list's statement, of no event yet, narrowed to the event's attendees ``plan``
    finds.

    ``statement`` selects attendees newest first; the event and the keyset (``before``) are
    applied here, each as the index serving this kind of query needs them.
    """
    of_this_event = Attendee.event_id == event_id
    if plan.kind == "order" and order_buyers(session, event_id, plan.value):
        in_order = select(TicketPurchase.attendee_id).where(
            TicketPurchase.thrivecart_order_id == plan.value)
        return _before(statement.where(of_this_event, Attendee.id.in_(in_order)),
                       Attendee.id, before)
    if plan.kind == "email":
        return _before(statement.where(of_this_event, Attendee.email == plan.value),
                       Attendee.id, before)
    if plan.kind in ("text", "order"):
        narrowed_statement, key = containing(statement, session, event_id, plan.value)
        return _before(narrowed_statement, key, before)
    # A position, not a LIKE: no trigram can serve one or two characters, and PostgreSQL
    # would otherwise read the whole trigram index for them (every attendee of every event).
    # The window is a lower bound on the id (the window's oldest), so that the event's
    # newest attendees are walked down from the top and the walk stops at a full page.
    oldest = (select(Attendee.id).where(of_event(Attendee.event_id, event_id))
              .order_by(Attendee.event_id.desc(), Attendee.id.desc())
              .offset(SHORT_WINDOW - 1).limit(1).scalar_subquery())
    within = position_in_text(session, plan.value) > 0
    return _before(statement.where(of_event(Attendee.event_id, event_id),
                                   Attendee.id >= func.coalesce(oldest, 0), within),
                   Attendee.id, before)


def _before(statement, key, before):
    return statement.where(key < before) if before else statement

