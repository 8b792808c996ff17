"""What applying any delivery of an order reads and writes beside its purchases: the order's
lock, the tickets its items link, the lifecycle events kept for it, a purchase's change row.

Both :mod:`.grants` (``order.success``) and :mod:`.settling` (refunds, rebills,
cancellations) start here; :mod:`.provisioning` is the way in to both.
"""

from dataclasses import dataclass

from ..models import LifecycleKind
from ..sql import orders
from ..thrivecart.order import Lifecycle


@dataclass
class LinkedTicket:
    id: int
    active: bool
    on_payment_failed: str
    on_cancel: str
    event_currency: str
    prices: list[tuple[int, str]]


def lock_order(attempt, *, lifecycle):
    """Lock the attempt's order in each of its events (see :func:`..sql.orders.lock`); return
    {event id: whether lifecycle events were ever kept for the order}."""
    if not attempt.order_id or not attempt.event_ids:
        return {}
    return orders.lock(attempt.connection, attempt.order_id, attempt.event_ids, attempt.now,
                       lifecycle=lifecycle)


def lifecycle_of(session, event_id, order_id):
    """Return {item key: [Lifecycle]} of the lifecycle events kept for an order in an event:
    the same shape as the one a delivery brings."""
    events = {}
    for row in session.connection().execute(orders.LIFECYCLE_OF_ORDER,
                                            {"event_id": event_id, "order_id": order_id[:40]}):
        events.setdefault(row.item_key, []).append(Lifecycle(
            kind=LifecycleKind(row.kind), item_key=row.item_key, identity=row.identity,
            amount=row.amount, currency=row.currency, occurred_at=row.occurred_at,
            billing_period_end=row.billing_period_end, invoice_id=row.invoice_id))
    return events


def linked_tickets(session, event_ids, keys):
    """Return {(event id, External ID): ticket} for the keys, prices included, in one query."""
    rows = session.connection().execute(orders.LINKED_TICKETS,
                                        {"event_ids": event_ids, "keys": keys})
    tickets = {}
    for (ticket_id, event_id, key, active, on_payment_failed, on_cancel, event_currency,
         amount, currency) in rows:
        ticket = tickets.setdefault((event_id, key), LinkedTicket(
            ticket_id, active, on_payment_failed, on_cancel, event_currency, []))
        if amount is not None:
            ticket.prices.append((amount, currency))
    return tickets


def purchase_change(purchase_id, from_status, to_status, delivery_id, now, reason):
    return {"purchase_id": purchase_id, "changed_at": now, "from_status": from_status,
            "to_status": to_status, "delivery_id": delivery_id, "reason": reason[:200]}
