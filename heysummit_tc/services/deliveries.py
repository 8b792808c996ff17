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


def setup_warnings(session, event_id):
    """Return what the ThriveCart page should warn the organiser about."""
    inactive = list(session.scalars(
        select(Ticket.name).where(Ticket.event_id == event_id, Ticket.external_id.is_not(None),
                                  Ticket.active.is_(False)).order_by(Ticket.name)
    ))
    if not inactive:
        return []
    return ["Linked but inactive, so ThriveCart orders for them are ignored: "
            + ", ".join(f"“{name}”" for name in inactive) + "."]


def rejected_posts(session, event_id, integration, now=None, limit=20):
    """Return the recent posts rejected for a wrong secret that claim an account this event
    has seen, newest first: (how many in all, up to ``limit`` of them).

    The account is whatever the body said, so the warning can only say what is known. Posts
    made with the event's current Secret Word (offered for processing instead) and posts
    from before the organiser dismissed the warning are left out.
    """
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
    criteria = [HeldDelivery.thrivecart_account.in_(accounts.distinct()),
                HeldDelivery.released_at.is_(None),
                HeldDelivery.received_at >= held_cutoff(now)]
    if integration is not None:
        criteria.append(HeldDelivery.secret_digest != integration.secret_digest)
        if integration.rejections_dismissed_at is not None:
            criteria.append(HeldDelivery.received_at > integration.rejections_dismissed_at)
    total = session.scalar(select(func.count()).select_from(HeldDelivery).where(*criteria))
    if not total:
        return 0, []
    return total, list(session.scalars(
        select(HeldDelivery).where(*criteria).order_by(HeldDelivery.id.desc()).limit(limit)
    ))
