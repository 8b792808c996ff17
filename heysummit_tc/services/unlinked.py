"""Items ThriveCart sent that no ticket of the event links: the inbox of Revenue > Tickets."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, distinct, func, literal_column, select, update

from ..models import (
    ActivityKind,
    DeliveryEvent,
    DeliveryOutcome,
    IgnoredItem,
    OutcomeKind,
    Ticket,
    TicketExternalId,
    WebhookDelivery,
)
from ..thrivecart.items import normalize_item_key
from ..thrivecart.order import read_order
from . import ServiceError
from .activity import record
from .outcomes import ATTENTION

# Outcomes a re-run can change once the item is linked (or its ticket reactivated).
RERUNNABLE = (OutcomeKind.UNLINKED, OutcomeKind.TICKET_INACTIVE)
# The same, as ix_delivery_outcomes_unapplied's condition says it: literal values, not bound
# parameters. SQLite uses a partial index only for a query that states its condition so; it
# scanned every outcome of every event instead (9 ms a page at 28,000 outcomes, and growing).
UNAPPLIED = DeliveryOutcome.outcome.in_([literal_column(f"'{kind.value}'")
                                         for kind in RERUNNABLE])


@dataclass(frozen=True)
class UnlinkedItem:
    key: str
    name: str | None
    deliveries: int
    first_seen: datetime
    last_seen: datetime


def _latest(event_id):
    """Join condition: outcomes of each delivery's latest attempt in the event."""
    return and_(DeliveryEvent.delivery_id == DeliveryOutcome.delivery_id,
                DeliveryEvent.event_id == DeliveryOutcome.event_id,
                DeliveryEvent.attempt == DeliveryOutcome.attempt,
                DeliveryEvent.event_id == event_id)


def unlinked_items(session, event_id):
    """Return every item key deliveries brought that no ticket of the event links, newest
    first, with its ThriveCart name, how many deliveries carried it, first and last seen."""
    return [UnlinkedItem(*row) for row in session.execute(_UNLINKED, {"event_id": event_id})]


def count_unlinked(session, event_id):
    """Return how many item keys the inbox lists (a number on every event page's tabs)."""
    return session.scalar(UNLINKED_COUNT, {"event_id": event_id})


def still_unlinked(event_id):
    """Conditions on unlinked outcomes of the event that still need a person: nobody chose
    to ignore the item, and no event that received the delivery links it since, this one or
    another (an item of another event on the same ThriveCart account is that event's)."""
    other = DeliveryEvent.__table__.alias("other")
    return (
        DeliveryOutcome.item_key.is_not(None),
        DeliveryOutcome.item_key.not_in(
            select(IgnoredItem.key).where(IgnoredItem.event_id == event_id)),
        ~select(TicketExternalId.id)
        .join(other, other.c.event_id == TicketExternalId.event_id)
        .where(other.c.delivery_id == DeliveryOutcome.delivery_id,
               TicketExternalId.key == DeliveryOutcome.item_key)
        .exists(),
    )


# Built once: building it cost about what running it does.
_UNLINKED_GROUPS = (
    select(DeliveryOutcome.item_key, func.max(DeliveryOutcome.item_name),
           func.count(distinct(DeliveryOutcome.delivery_id)),
           func.min(DeliveryEvent.received_at), func.max(DeliveryEvent.received_at))
    .join(DeliveryEvent, _latest(bindparam("event_id")))
    .where(DeliveryOutcome.event_id == bindparam("event_id"), UNAPPLIED,
           DeliveryOutcome.outcome == OutcomeKind.UNLINKED,
           *still_unlinked(bindparam("event_id")))
    .group_by(DeliveryOutcome.item_key)
)
_UNLINKED = _UNLINKED_GROUPS.order_by(func.max(DeliveryEvent.received_at).desc(),
                                      DeliveryOutcome.item_key)
UNLINKED_COUNT = select(func.count()).select_from(_UNLINKED_GROUPS.subquery())


def _unapplied(event_id, *columns):
    """Select ``columns`` of the outcomes whose delivery's latest attempt in the event left
    their item unapplied (unlinked, or its ticket inactive), payload still kept."""
    return (
        select(*columns)
        .join(DeliveryEvent, _latest(event_id))
        .join(WebhookDelivery, WebhookDelivery.id == DeliveryOutcome.delivery_id)
        .where(DeliveryOutcome.event_id == event_id,
               UNAPPLIED,
               WebhookDelivery.replayable)
    )


def pending_reruns(session, event_id):
    """Return {item key: deliveries} for items a ticket now links (and that ticket is active)
    whose deliveries left them unapplied: they wait for a re-run."""
    linked = (select(TicketExternalId.key)
              .join(Ticket, Ticket.id == TicketExternalId.ticket_id)
              .where(TicketExternalId.event_id == event_id, Ticket.active.is_(True)))
    return dict(session.execute(
        _unapplied(event_id, DeliveryOutcome.item_key,
                   func.count(distinct(DeliveryOutcome.delivery_id)))
        .where(DeliveryOutcome.item_key.in_(linked))
        .group_by(DeliveryOutcome.item_key)
        .order_by(DeliveryOutcome.item_key)
    ).all())


def deliveries_to_rerun(session, event_id, item_key):
    """Return the ids of the deliveries whose latest attempt in the event left ``item_key``
    unapplied and whose payload is still kept, oldest first."""
    return list(session.scalars(
        _unapplied(event_id, distinct(DeliveryOutcome.delivery_id))
        .where(DeliveryOutcome.item_key == item_key)
        .order_by(DeliveryOutcome.delivery_id)
    ))


def last_charged(session, event_id, item_key):
    """Return the latest order (read from its delivery's payload) that carried ``item_key``
    to the event unapplied, or None when no such payload is kept."""
    delivery_id = session.scalar(
        _unapplied(event_id, DeliveryOutcome.delivery_id)
        .where(DeliveryOutcome.item_key == item_key)
        .order_by(DeliveryOutcome.delivery_id.desc()).limit(1))
    if delivery_id is None:
        return None
    return read_order(session.get(WebhookDelivery, delivery_id).payload)


def ignored_items(session, event_id):
    """Return the items the event's organisers chose not to link, newest first."""
    return list(session.scalars(select(IgnoredItem).where(IgnoredItem.event_id == event_id)
                                .order_by(IgnoredItem.created_at.desc(), IgnoredItem.id.desc())))


def ignore_item(session, event_id, item_key, actor=None):
    """Stop listing an item in the inbox and counting it anywhere (a bump that is a workbook,
    not a ticket); undone by :func:`restore_item`."""
    key = normalize_item_key(item_key or "")
    if key is None:
        raise ServiceError("Choose the item to ignore.", field="external_id")
    if session.scalar(select(IgnoredItem.id).where(IgnoredItem.event_id == event_id,
                                                   IgnoredItem.key == key)) is None:
        session.add(IgnoredItem(event_id=event_id, key=key,
                                user_id=actor.id if actor is not None else None))
        record(session, event_id, actor, ActivityKind.ITEM_IGNORED, key)
        session.flush()
        _reconsider(session, event_id, key)
    return key


def restore_item(session, event_id, item_key, actor=None):
    """List an ignored item in the inbox again."""
    removed = session.execute(delete(IgnoredItem).where(IgnoredItem.event_id == event_id,
                                                        IgnoredItem.key == item_key))
    if removed.rowcount:
        record(session, event_id, actor, ActivityKind.ITEM_RESTORED, item_key)
        _reconsider(session, event_id, item_key)
    return bool(removed.rowcount)


def _reconsider(session, event_id, key):
    """Work out again whether the deliveries that left ``key`` unlinked need attention, now
    that it is ignored (or listed again): an ignored item needs nobody."""
    outcome = DeliveryOutcome.__table__.alias("outcome")
    needs = (
        select(outcome.c.id)
        .where(outcome.c.delivery_id == DeliveryEvent.delivery_id,
               outcome.c.event_id == DeliveryEvent.event_id,
               outcome.c.attempt == DeliveryEvent.attempt,
               outcome.c.outcome.in_([str(kind) for kind in ATTENTION]),
               ~((outcome.c.outcome == OutcomeKind.UNLINKED.value)
                 & outcome.c.item_key.in_(select(IgnoredItem.key)
                                          .where(IgnoredItem.event_id == event_id))))
        .exists()
    )
    session.execute(
        update(DeliveryEvent)
        .where(DeliveryEvent.event_id == event_id, DeliveryEvent.resolved_at.is_(None),
               DeliveryEvent.delivery_id.in_(
                   select(DeliveryOutcome.delivery_id)
                   .where(DeliveryOutcome.event_id == event_id,
                          DeliveryOutcome.item_key == key,
                          DeliveryOutcome.outcome == OutcomeKind.UNLINKED)))
        .values(attention=needs)
        .execution_options(synchronize_session=False))
