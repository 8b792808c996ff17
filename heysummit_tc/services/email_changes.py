"""A buyer's new email (ThriveCart's ``customer_updated``), and merging two attendees who
turn out to be one buyer.

The change applies when no other attendee of the event has the new address; otherwise the
delivery waits in Needs attention (outcome ``email_conflict``) until an organiser merges the
two attendees on the attendee page (:func:`merge_attendees`), which clears it.
"""

import re

from sqlalchemy import select, update

from ..models import (
    AccessLink,
    ActivityKind,
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    OutboxEmail,
    OutcomeKind,
    TicketPurchase,
)
from . import ServiceError
from .activity import record
from .attempts import Outcome

# An email_conflict's detail: it names the attendee holding the address, and the attendee
# page reads that id back (HOLDER) to offer the merge.
CONFLICT = ("attendee #{holder} has the new email already: merge attendee #{source} into "
            "#{holder} on the attendee's page")
HOLDER = re.compile(r"^attendee #(\d+) has the new email already")


def apply_email_change(attempt):
    """Apply the attempt's readable :class:`..thrivecart.customer.EmailChange` to each of its
    events; return an outcome per event."""
    return [_change_in(attempt, event_id) for event_id in attempt.event_ids]


def _change_in(attempt, event_id):
    session, change, now = attempt.session, attempt.order.email_change, attempt.now
    attendee = _named(session, event_id, change)
    if attendee is None:
        return Outcome(event_id, None, OutcomeKind.UNKNOWN_CUSTOMER,
                       detail="no attendee of this event is this ThriveCart customer")
    if attendee.email == change.new_email:
        return Outcome(event_id, None, OutcomeKind.DUPLICATE, attendee_id=attendee.id,
                       detail="the attendee has this email already")
    holder = session.scalar(select(Attendee.id).where(Attendee.event_id == event_id,
                                                      Attendee.email == change.new_email))
    if holder is not None:
        return Outcome(event_id, None, OutcomeKind.EMAIL_CONFLICT, attendee_id=attendee.id,
                       detail=CONFLICT.format(holder=holder, source=attendee.id))
    attendee.email = change.new_email
    attendee.thrivecart_customer_id = attendee.thrivecart_customer_id or change.customer_id
    attendee.updated_at = now
    session.flush()
    record(session, event_id, None, ActivityKind.ATTENDEE_EMAIL_CHANGED,
           f"attendee #{attendee.id}, by delivery {attempt.delivery_id}", now=now)
    return Outcome(event_id, None, OutcomeKind.EMAIL_CHANGED, attendee_id=attendee.id)


def _named(session, event_id, change):
    """The attendee a change names: by ThriveCart's customer id, else by the old email."""
    live = (Attendee.event_id == event_id, Attendee.erased_at.is_(None))
    if change.customer_id:
        found = session.scalar(select(Attendee).where(
            *live, Attendee.thrivecart_customer_id == change.customer_id))
        if found is not None:
            return found
    if change.old_email:
        return session.scalar(select(Attendee).where(*live, Attendee.email == change.old_email))
    return None


def conflicts_of(session, attendee):
    """Return the attendees ``attendee`` may be merged into: those an ``email_conflict`` of a
    delivery named as already holding the address it was to take."""
    details = session.scalars(
        select(DeliveryOutcome.detail)
        .join(DeliveryEvent, (DeliveryEvent.delivery_id == DeliveryOutcome.delivery_id)
              & (DeliveryEvent.event_id == DeliveryOutcome.event_id)
              & (DeliveryEvent.attempt == DeliveryOutcome.attempt))
        .where(DeliveryOutcome.attendee_id == attendee.id,
               DeliveryOutcome.outcome == OutcomeKind.EMAIL_CONFLICT,
               DeliveryEvent.attention.is_(True)))
    ids = {int(found.group(1)) for detail in details if (found := HOLDER.match(detail or ""))}
    if not ids:
        return []
    return list(session.scalars(select(Attendee).where(
        Attendee.event_id == attendee.event_id, Attendee.id.in_(ids)).order_by(Attendee.id)))


def merge_attendees(session, source, target, actor=None, now=None):
    """Move everything of ``source`` (purchases with their history, emails, access links,
    delivery outcomes) to ``target`` and delete ``source``; flush.

    Refused when both hold the same ticket: one attendee holds a ticket once.
    """
    if source.id == target.id or source.event_id != target.event_id:
        raise ServiceError("Pick another attendee of this event to merge into.")
    shared = session.scalars(
        select(TicketPurchase).where(
            TicketPurchase.attendee_id == source.id,
            TicketPurchase.ticket_id.in_(select(TicketPurchase.ticket_id).where(
                TicketPurchase.attendee_id == target.id)))).all()
    if shared:
        names = ", ".join(f"“{purchase.ticket.name}”" for purchase in shared)
        raise ServiceError(f"Both attendees hold {names}; an attendee holds a ticket once, so "
                           "these two cannot be merged.")
    moved = session.execute(update(TicketPurchase).where(TicketPurchase.attendee_id == source.id)
                            .values(attendee_id=target.id)).rowcount
    for model in (OutboxEmail, AccessLink, DeliveryOutcome):
        session.execute(update(model).where(model.attendee_id == source.id)
                        .values(attendee_id=target.id))
    _clear_conflicts(session, target)
    session.expire(source, ["purchases"])
    session.expire(target, ["purchases"])
    target.first_name = target.first_name or source.first_name
    target.last_name = target.last_name or source.last_name
    target.thrivecart_customer_id = (target.thrivecart_customer_id
                                     or source.thrivecart_customer_id)
    session.delete(source)
    session.flush()
    record(session, target.event_id, actor, ActivityKind.ATTENDEES_MERGED,
           f"attendee #{source.id} merged into #{target.id} ({moved} purchases moved)", now=now)
    return moved


def _clear_conflicts(session, attendee):
    """The email conflicts a merge settles leave Needs attention."""
    deliveries = select(DeliveryOutcome.delivery_id).where(
        DeliveryOutcome.attendee_id == attendee.id,
        DeliveryOutcome.outcome == OutcomeKind.EMAIL_CONFLICT)
    session.execute(update(DeliveryEvent).where(
        DeliveryEvent.event_id == attendee.event_id,
        DeliveryEvent.delivery_id.in_(deliveries)).values(attention=False))
