"""Items ThriveCart sent that no ticket of the event links: the inbox of Revenue > Tickets."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, distinct, func, literal_column, select

from ..models import DeliveryEvent, DeliveryOutcome, OutcomeKind, Ticket, WebhookDelivery

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


# Built once: building it cost about what running it does.
_UNLINKED_GROUPS = (
    select(DeliveryOutcome.item_key, func.max(DeliveryOutcome.item_name),
           func.count(distinct(DeliveryOutcome.delivery_id)),
           func.min(DeliveryEvent.received_at), func.max(DeliveryEvent.received_at))
    .join(DeliveryEvent, _latest(bindparam("event_id")))
    .where(DeliveryOutcome.event_id == bindparam("event_id"), UNAPPLIED,
           DeliveryOutcome.outcome == OutcomeKind.UNLINKED,
           DeliveryOutcome.item_key.is_not(None),
           DeliveryOutcome.item_key.not_in(
               select(Ticket.external_id).where(Ticket.event_id == bindparam("event_id"),
                                                Ticket.external_id.is_not(None))))
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
    linked = select(Ticket.external_id).where(Ticket.event_id == event_id,
                                              Ticket.external_id.is_not(None),
                                              Ticket.active.is_(True))
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
