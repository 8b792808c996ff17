"""Reading the delivery log: what reached an event, and what each attempt did there."""

from dataclasses import dataclass

from sqlalchemy import func, select

from ..models import (
    DeliveryEvent,
    DeliveryOutcome,
    HeldDelivery,
    Ticket,
    WebhookDelivery,
)
from .held import held_cutoff

STATUSES = ("processed", "ignored", "failed", "received")
# How far back the wrong-secret warning looks for the ThriveCart accounts an event has seen.
RECENT_DELIVERIES = 1000


@dataclass(frozen=True)
class Page:
    items: list
    next_before: int | None


def deliveries_of(session, event_id, *, status=None, query=None, before=None, per_page=25):
    """Return a page of the deliveries addressed to the event, newest first.

    ``query`` matches an order id exactly or an email; ``before`` is the id the page starts
    below (keyset pagination: deep pages cost what the first does).
    """
    statement = (
        select(WebhookDelivery)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .where(DeliveryEvent.event_id == event_id)
        .order_by(DeliveryEvent.delivery_id.desc())
        .limit(per_page + 1)
    )
    if status in STATUSES:
        statement = statement.where(WebhookDelivery.status == status)
    if query:
        query = query.strip()
        if "@" in query:
            statement = statement.where(WebhookDelivery.customer_email == query.lower())
        else:
            statement = statement.where(WebhookDelivery.order_id == query)
    if before:
        statement = statement.where(DeliveryEvent.delivery_id < before)
    rows = list(session.scalars(statement))
    next_before = rows[per_page - 1].id if len(rows) > per_page else None
    return Page(rows[:per_page], next_before)


def delivery_for_event(session, delivery_id, event_id):
    """Return the delivery if it was addressed to the event, else None."""
    return session.scalar(
        select(WebhookDelivery)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .where(WebhookDelivery.id == delivery_id, DeliveryEvent.event_id == event_id)
    )


def outcomes_for_event(session, delivery_id, event_id):
    """Return every attempt's outcomes of a delivery in one event, oldest attempt first."""
    return list(session.scalars(
        select(DeliveryOutcome)
        .where(DeliveryOutcome.delivery_id == delivery_id, DeliveryOutcome.event_id == event_id)
        .order_by(DeliveryOutcome.attempt, DeliveryOutcome.id)
    ))


def last_delivery(session, event_id):
    """Return the newest delivery addressed to the event, or None."""
    items = deliveries_of(session, event_id, per_page=1).items
    return items[0] if items else None


def event_ids_of(session, delivery_id):
    """Return the events a delivery was addressed to."""
    return list(session.scalars(
        select(DeliveryEvent.event_id).where(DeliveryEvent.delivery_id == delivery_id)
    ))


def setup_warnings(session, event_id, now=None):
    """Return what the ThriveCart page should warn the organiser about."""
    warnings = []
    inactive = list(session.scalars(
        select(Ticket.name).where(Ticket.event_id == event_id, Ticket.external_id.is_not(None),
                                  Ticket.active.is_(False)).order_by(Ticket.name)
    ))
    if inactive:
        warnings.append(
            "Linked but inactive, so ThriveCart orders for them are ignored: "
            + ", ".join(f"“{name}”" for name in inactive) + "."
        )
    # The accounts among the event's latest deliveries: bounded however long the log grows.
    recent = (
        select(DeliveryEvent.delivery_id)
        .where(DeliveryEvent.event_id == event_id)
        .order_by(DeliveryEvent.delivery_id.desc())
        .limit(RECENT_DELIVERIES)
        .subquery()
    )
    accounts = (
        select(WebhookDelivery.thrivecart_account)
        .join(recent, recent.c.delivery_id == WebhookDelivery.id)
        .where(WebhookDelivery.thrivecart_account != "")
    )
    rejected = session.execute(
        select(HeldDelivery.thrivecart_account, func.count(), func.max(HeldDelivery.received_at))
        .where(HeldDelivery.thrivecart_account.in_(accounts.distinct()),
               HeldDelivery.released_at.is_(None),
               HeldDelivery.received_at >= held_cutoff(now))
        .group_by(HeldDelivery.thrivecart_account)
    ).all()
    for account, count, _latest in rejected:
        warnings.append(
            f"{count} deliveries from the ThriveCart account “{account}” were rejected for a "
            "wrong Secret Word. Did you regenerate your Secret Word in ThriveCart? Paste the "
            "new one under Configure."
        )
    return warnings
