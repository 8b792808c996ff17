"""Events and who may work on them."""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import bindparam, distinct, func, select
from sqlalchemy.orm import contains_eager

from ..models import (
    ActivityKind,
    Event,
    EventAttendeeCount,
    EventMember,
    Role,
    Ticket,
    TicketExternalId,
    TicketPurchase,
    TicketPurchaseCount,
    User,
)
from ..words import plural
from . import ServiceError, required_name
from .access_emails import email_counts
from .accounts import normalize_email
from .activity import record
from .deliveries import attention_counts, last_delivery
from .held import REFUSALS_SINCE, held_cutoff
from .money import normalize_currency
from .rejections import rejection_values, rejections_count
from .times import normalize_timezone, read_local, shown
from .unlinked import UNLINKED_COUNT


def create_event(session, name, currency, organiser):
    """Create an event with ``organiser`` as its first organiser."""
    event = Event(name=required_name(name, "event"), currency=normalize_currency(currency))
    event.members.append(EventMember(user=organiser, role=Role.ORGANISER))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class EventDetails:
    """What buyers and pages read of an event besides its name: its timezone (an IANA name),
    its start (``2027-03-01T09:00`` in that timezone) and how to join."""

    timezone: str = "UTC"
    starts_at: str = ""
    joining_instructions: str = ""


def update_event(session, event, name, currency, actor=None, details=None):
    """Rename the event, set its details; change its currency only while nothing has been
    bought."""
    name = required_name(name, "event")
    currency = normalize_currency(currency)
    changes = _set_details(event, details) if details is not None else []
    if currency != event.currency:
        bought = session.scalar(
            select(func.count(TicketPurchase.id))
            .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
            .where(Ticket.event_id == event.id))
        if bought:
            raise ServiceError(
                f"The currency stays {event.currency}: this event has "
                f"{plural(bought, 'purchase')} recorded in it.", field="currency")
        changes.append(f"currency: {event.currency} → {currency}")
    if name != event.name:
        changes.append(f"name: {event.name} → {name}")
    event.name, event.currency = name, currency
    session.flush()
    if changes:
        record(session, event.id, actor, ActivityKind.EVENT_CHANGED, "; ".join(changes))
    return event


def _set_details(event, details):
    """Set the event's timezone, start and joining instructions; return what changed."""
    timezone = normalize_timezone(details.timezone)
    starts_at = read_local(details.starts_at, timezone)
    instructions = (details.joining_instructions or "").strip()
    if len(instructions) > 5000:
        raise ServiceError("Keep the joining instructions under 5,000 characters.",
                           field="joining_instructions")
    changes = []
    if timezone != event.timezone:
        changes.append(f"timezone: {event.timezone} → {timezone}")
    if starts_at != event.starts_at:
        before = shown(event.starts_at, timezone) if event.starts_at else "none"
        changes.append(f"start: {before} → {shown(starts_at, timezone) if starts_at else 'none'}")
    if instructions != event.joining_instructions:
        changes.append("joining instructions changed")
    event.timezone, event.starts_at = timezone, starts_at
    event.joining_instructions = instructions
    return changes


def add_member(session, event, email, role):
    """Give the user with ``email`` a role on ``event`` (replacing any role they had)."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise ServiceError(f"No user has the email {normalize_email(email)}.", field="email")
    role = Role(role)
    membership = session.get(EventMember, (event.id, user.id))
    if membership is None:
        membership = EventMember(event_id=event.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def membership_of(session, user_id, event_id):
    """Return the user's membership of the event, its event loaded with it, or None.

    Every event page asks this first and shows the event: one statement, not two.
    """
    return session.scalar(_MEMBERSHIP, {"event_id": event_id, "user_id": user_id})


_MEMBERSHIP = (
    select(EventMember)
    .join(EventMember.event)
    .options(contains_eager(EventMember.event))
    .where(EventMember.event_id == bindparam("event_id"),
           EventMember.user_id == bindparam("user_id"))
)


def events_of(session, user_id):
    """Return (event, role) pairs for the events the user belongs to, newest first."""
    return session.execute(
        select(Event, EventMember.role)
        .join(EventMember, EventMember.event_id == Event.id)
        .where(EventMember.user_id == user_id)
        .order_by(Event.id.desc())
    ).all()


def dashboard_counts(session, event_id, integration, now=None):
    """Return the counts the event dashboard shows."""
    values = {**rejection_values(event_id, integration, now), "held_since": held_cutoff(now)}
    (tickets, linked, attendees, paid, paid_test, unlinked, rejected, held_refused,
     held_refused_last) = session.execute(_counts(integration is not None), values).one()
    return {
        "tickets": tickets,
        "linked_tickets": linked,
        "attendees": attendees,
        "paid_purchases": paid,
        "paid_test_purchases": paid_test,
        "last_order": last_delivery(session, event_id, orders=True),
        "attention": attention_counts(session, event_id, rejected, now),
        "unlinked_items": unlinked,
        "emails": email_counts(session, event_id),
        # Posts refused in the last 14 days because the store of held deliveries was full.
        "held_refused": held_refused,
        "held_refused_last": held_refused_last,
    }


# The dashboard's counts, built once, asked in one statement. The attendees and paid
# purchases are kept by triggers (models.EventAttendeeCount, TicketPurchaseCount): a few rows
# an event or ticket, however many attendees and purchases there are.
_OF_EVENT = Ticket.event_id == bindparam("event_id")


def _paid_sum(column):
    return (select(func.coalesce(func.sum(column), 0))
            .join(Ticket, Ticket.id == TicketPurchaseCount.ticket_id).where(_OF_EVENT)
            .scalar_subquery())


@cache
def _counts(configured):
    """Every count of the dashboard that is one number, in one statement (``configured``:
    whether the event has an integration, which changes how rejected posts are counted)."""
    return select(
        select(func.count(Ticket.id)).where(_OF_EVENT).scalar_subquery(),
        select(func.count(distinct(TicketExternalId.ticket_id)))
        .where(TicketExternalId.event_id == bindparam("event_id")).scalar_subquery(),
        select(func.coalesce(func.sum(EventAttendeeCount.attendees), 0))
        .where(EventAttendeeCount.event_id == bindparam("event_id")).scalar_subquery(),
        _paid_sum(TicketPurchaseCount.paid),
        _paid_sum(TicketPurchaseCount.paid_test),
        UNLINKED_COUNT.scalar_subquery(),
        rejections_count(configured),
        *REFUSALS_SINCE,
    )

