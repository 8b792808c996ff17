"""What applying a delivery reads and writes for an order: the order's lock, the tickets its
items link, the attendee, the purchases and their change rows, the lifecycle events kept for
it."""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import bindparam, func, insert, select, update

from ..models import (
    Attendee,
    DeliveryEvent,
    Event,
    IgnoredItem,
    LifecycleEvent,
    LifecycleKind,
    PurchaseChange,
    PurchaseStatus,
    ThriveCartOrder,
    Ticket,
    TicketExternalId,
    TicketPrice,
    TicketPurchase,
)
from ..thrivecart.order import Lifecycle
from . import compiled_once, insert_for, numbered

purchases = TicketPurchase.__table__
lifecycle_events = LifecycleEvent.__table__

PURCHASE_COLUMNS = (
    "attendee_id", "ticket_id", "status", "amount", "currency", "charged_amount",
    "charged_currency", "source", "thrivecart_order_id", "thrivecart_item_key", "test",
    "paid_at", "refunded_at", "access_ends_at", "payments", "last_payment_at",
    "last_invoice_id", "country", "affiliate", "coupon", "utm_source", "utm_medium",
    "utm_campaign", "created_at", "updated_at",
)


@dataclass
class LinkedTicket:
    """A ticket an item links, with what applying an order needs of it."""

    id: int
    active: bool
    on_payment_failed: str
    on_cancel: str
    event_currency: str
    prices: list[tuple[int, str]]


def lock(connection, order_id, event_ids, now, *, lifecycle):
    """Upsert the order in each event, locking those rows until the transaction ends; return
    {event id: whether lifecycle events were ever kept for the order} ({} without an order
    id).

    Deliveries of one order therefore apply one after another; rows are given in event
    order, so two deliveries never wait for each other crosswise.
    """
    if not order_id or not event_ids:
        return {}
    rows = connection.execute(
        _lock_statement(connection.dialect.name, len(event_ids)),
        {"order_id": order_id, "now": now, "lifecycle": lifecycle,
         **{f"event_id{index}": event_id for index, event_id in enumerate(event_ids)}})
    return {event_id: bool(flag) for event_id, flag in rows}


def upsert_attendee(connection, values):
    """Create the attendee or update its names (an empty name never erases one) and
    ThriveCart's customer id (a missing one never erases it); return (id, created_at)."""
    return connection.execute(_attendee_upsert(connection.dialect.name), values).one()


def upsert_purchases(connection, rows):
    """Write the purchases of one attendee through one order (``rows`` of
    :data:`PURCHASE_COLUMNS`); return {ticket id: purchase id} of those written.

    A purchase is one per attendee, ticket and order: an existing one changes only while it
    is pending. The caller decided that already; a ticket this leaves out of the answer was
    paid through the same order by a delivery on another process a moment ago.
    """
    return dict(connection.execute(_purchase_upsert(connection.dialect.name, len(rows)),
                                   numbered(rows)).all())


def keep_lifecycle(connection, values):
    """Keep a lifecycle event once; tell whether it is new (a redelivery inserts nothing)."""
    return connection.execute(_lifecycle_insert(connection.dialect.name),
                              values).first() is not None


def kept_lifecycle(connection, event_id, order_id):
    """Return {item key: [Lifecycle]} of the lifecycle events kept for an order (its id as
    stored) in an event: the same shape as the one a delivery brings."""
    events = {}
    for row in connection.execute(LIFECYCLE_OF_ORDER,
                                  {"event_id": event_id, "order_id": order_id}):
        events.setdefault(row.item_key, []).append(Lifecycle(
            kind=LifecycleKind(row.kind), item_key=row.item_key, identity=row.identity,
            amount=row.amount, currency=row.currency, occurred_at=row.occurred_at,
            billing_period_end=row.billing_period_end, invoice_id=row.invoice_id))
    return events


def linked_tickets(connection, event_ids, keys):
    """Return {(event id, External ID): LinkedTicket} for the keys, prices included, in one
    query; an item the event's organisers chose to ignore maps to a LinkedTicket whose id is
    None (looked up only when some item is linked nowhere: the usual order pays nothing)."""
    tickets = {}
    for (ticket_id, event_id, key, active, on_payment_failed, on_cancel, event_currency,
         amount, currency) in connection.execute(LINKED_TICKETS,
                                                 {"event_ids": event_ids, "keys": keys}):
        ticket = tickets.setdefault((event_id, key), LinkedTicket(
            ticket_id, active, on_payment_failed, on_cancel, event_currency, []))
        if amount is not None:
            ticket.prices.append((amount, currency))
    missing = [key for key in keys if any((event_id, key) not in tickets
                                          for event_id in event_ids)]
    if missing:
        for event_id, key in connection.execute(IGNORED_ITEMS, {"event_ids": event_ids,
                                                                "keys": missing}):
            tickets.setdefault((event_id, key), LinkedTicket(None, True, None, None, None, []))
    return tickets


def settle_attention(connection, event_id, order_id, kinds):
    """An order's events of ``kinds`` kept in the event no longer need a person (the refund
    that waited was applied when its order came, the failed payment was paid): their
    deliveries leave Needs attention."""
    connection.execute(SETTLE_ATTENTION, {"in_event": event_id, "of_order": order_id,
                                          "kinds": [str(kind) for kind in kinds]})


def purchase_change(purchase_id, from_status, to_status, delivery_id, now, reason):
    """A row of a purchase's history (INSERT_CHANGE's values)."""
    return {"purchase_id": purchase_id, "changed_at": now, "from_status": from_status,
            "to_status": to_status, "delivery_id": delivery_id, "reason": reason[:200]}


INSERT_CHANGE = insert(PurchaseChange.__table__)
LINKED_TICKETS = (
    select(Ticket.id, TicketExternalId.event_id, TicketExternalId.key, Ticket.active,
           Ticket.on_payment_failed, Ticket.on_cancel, Event.currency,
           TicketPrice.amount, TicketPrice.currency)
    .join(Ticket, Ticket.id == TicketExternalId.ticket_id)
    .join(Event, Event.id == TicketExternalId.event_id)
    .outerjoin(TicketPrice, TicketPrice.ticket_id == Ticket.id)
    .where(TicketExternalId.event_id.in_(bindparam("event_ids", expanding=True)),
           TicketExternalId.key.in_(bindparam("keys", expanding=True)))
)
# Items ignored in the inbox (a workbook bump): recorded as ignored, not as unlinked.
IGNORED_ITEMS = (
    select(IgnoredItem.event_id, IgnoredItem.key)
    .where(IgnoredItem.event_id.in_(bindparam("event_ids", expanding=True)),
           IgnoredItem.key.in_(bindparam("keys", expanding=True)))
)
SETTLE_ATTENTION = (
    update(DeliveryEvent)
    .where(DeliveryEvent.event_id == bindparam("in_event"), DeliveryEvent.attention.is_(True),
           DeliveryEvent.delivery_id.in_(
               select(LifecycleEvent.delivery_id)
               .where(LifecycleEvent.event_id == bindparam("in_event"),
                      LifecycleEvent.order_id == bindparam("of_order"),
                      LifecycleEvent.kind.in_(bindparam("kinds", expanding=True)))))
    .values(attention=False)
    .execution_options(synchronize_session=False)
)
# The attendee's purchases of some tickets, before an order.success touches them.
PURCHASES_OF_ATTENDEE = (
    select(purchases.c.ticket_id, purchases.c.id, purchases.c.status,
           purchases.c.thrivecart_order_id)
    .where(purchases.c.attendee_id == bindparam("attendee_id"),
           purchases.c.ticket_id.in_(bindparam("ticket_ids", expanding=True)),
           purchases.c.thrivecart_order_id == bindparam("order_id"))
)
# The purchases an order paid for a ticket: what its refunds and rebills act on.
PURCHASES_OF_ORDER = (
    select(purchases)
    .where(purchases.c.ticket_id == bindparam("ticket_id"),
           purchases.c.thrivecart_order_id == bindparam("order_id"))
    .order_by(purchases.c.id)
)
LIFECYCLE_OF_ORDER = (
    select(lifecycle_events)
    .where(lifecycle_events.c.event_id == bindparam("event_id"),
           lifecycle_events.c.order_id == bindparam("order_id"))
)


@cache
def _lock_statement(dialect, count):
    orders = ThriveCartOrder.__table__
    statement = insert_for(dialect)(orders).values([
        {"event_id": bindparam(f"event_id{row}"), "order_id": bindparam("order_id"),
         "first_seen_at": bindparam("now"), "last_seen_at": bindparam("now"),
         "has_lifecycle_events": bindparam("lifecycle")}
        for row in range(count)
    ])
    return compiled_once(dialect, statement.on_conflict_do_update(
        index_elements=[orders.c.event_id, orders.c.order_id],
        set_={"last_seen_at": statement.excluded.last_seen_at,
              "has_lifecycle_events": orders.c.has_lifecycle_events
              | statement.excluded.has_lifecycle_events},
    ).returning(orders.c.event_id, orders.c.has_lifecycle_events))


@cache
def _attendee_upsert(dialect):
    attendees = Attendee.__table__
    statement = insert_for(dialect)(attendees).values({
        name: bindparam(name) for name in ("event_id", "email", "first_name", "last_name",
                                           "thrivecart_customer_id", "created_at",
                                           "updated_at")})
    incoming = statement.excluded
    return compiled_once(dialect, statement.on_conflict_do_update(
        index_elements=[attendees.c.event_id, attendees.c.email],
        set_={
            "first_name": func.coalesce(func.nullif(incoming.first_name, ""),
                                        attendees.c.first_name),
            "last_name": func.coalesce(func.nullif(incoming.last_name, ""),
                                       attendees.c.last_name),
            "thrivecart_customer_id": func.coalesce(incoming.thrivecart_customer_id,
                                                    attendees.c.thrivecart_customer_id),
            "updated_at": incoming.updated_at,
        },
    ).returning(attendees.c.id, attendees.c.created_at))


@cache
def _purchase_upsert(dialect, count):
    """The upsert of ``count`` purchases, parameters numbered per row."""
    statement = insert_for(dialect)(purchases).values([
        {name: bindparam(f"row{row}_{name}") for name in PURCHASE_COLUMNS}
        for row in range(count)
    ])
    incoming = statement.excluded
    return compiled_once(dialect, statement.on_conflict_do_update(
        index_elements=[purchases.c.attendee_id, purchases.c.ticket_id,
                        purchases.c.thrivecart_order_id],
        set_={name: incoming[name] for name in PURCHASE_COLUMNS[2:] if name != "created_at"},
        # Only a pending purchase (made by hand) is the order's to pay.
        where=purchases.c.status == PurchaseStatus.PENDING.value,
    ).returning(purchases.c.ticket_id, purchases.c.id))


@cache
def _lifecycle_insert(dialect):
    statement = insert_for(dialect)(lifecycle_events)
    return statement.on_conflict_do_nothing(
        index_elements=[lifecycle_events.c.event_id, lifecycle_events.c.order_id,
                        lifecycle_events.c.item_key, lifecycle_events.c.kind,
                        lifecycle_events.c.identity],
    ).returning(lifecycle_events.c.id)
