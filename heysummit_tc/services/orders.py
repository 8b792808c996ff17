"""An event's ThriveCart orders: one row per order, and an order's whole story.

An order is what ThriveCart calls one: the items bought at one checkout, its later refunds,
rebills and cancellations. The list is read from the orders each delivery locks
(``thrivecart_orders``), newest first; the page of orders then reads its purchases and
refunds in one statement each.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, tuple_

from ..models import (
    Attendee,
    DeliveryEvent,
    LifecycleEvent,
    LifecycleKind,
    OutboxEmail,
    PurchaseStatus,
    ThriveCartOrder,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    full_name,
    utcnow,
)
from ..thrivecart.events import ORDER_SUCCESS
from ..thrivecart.order import charge_rows, read_order
from .attendees import refunded_of
from .lifecycle import has_access
from .pagination import page_of
from .search import narrowed, plan_for

# Attendees a search by email or name looks at (their orders are listed).
SEARCH_BUYERS = 200


@dataclass
class OrderLine:
    """One purchase an order made: its ticket, item, state and money."""

    purchase_id: int
    attendee_id: int
    buyer: str
    buyer_name: str
    ticket: str
    item_key: str | None
    status: PurchaseStatus
    access: bool
    test: bool
    charged_amount: int | None
    charged_currency: str | None
    refunded: int
    list_amount: int
    list_currency: str
    paid_at: datetime | None
    payments: int


@dataclass
class ListedOrder:
    """A row of the orders list."""

    order_id: str
    first_seen_at: datetime
    lines: list = field(default_factory=list)

    @property
    def buyer(self):
        return self.lines[0] if self.lines else None

    @property
    def test(self):
        return any(line.test for line in self.lines)

    @property
    def totals(self):
        """{currency: (charged, refunded)} over the order's items."""
        totals = {}
        for line in self.lines:
            if line.charged_amount is not None and line.charged_currency:
                charged, refunded = totals.get(line.charged_currency, (0, 0))
                totals[line.charged_currency] = (charged + line.charged_amount,
                                                 refunded + line.refunded)
        return totals

    @property
    def status(self):
        """The order's status: its items' one status, or ``mixed``; ``waiting`` for an order
        known only by events that wait for its order.success."""
        statuses = {line.status for line in self.lines}
        if not statuses:
            return "waiting"
        return statuses.pop() if len(statuses) == 1 else "mixed"


def orders_of(session, event_id, query=None, before=None, per_page=50, now=None):
    """Return a page of the event's orders, newest first; ``query`` finds them by order id,
    buyer email or name; ``before`` is the order id the page starts after."""
    orders = ThriveCartOrder
    statement = (select(orders.order_id, orders.first_seen_at)
                 .where(orders.event_id == event_id)
                 .order_by(orders.first_seen_at.desc(), orders.order_id.desc())
                 .limit(per_page + 1))
    query = (query or "").replace("\x00", "").strip()
    if query:
        statement = statement.where(or_(orders.order_id == query[:40],
                                        orders.order_id.in_(_orders_of_buyers(
                                            session, event_id, query))))
    if before:
        cursor = session.scalar(select(orders.first_seen_at).where(
            orders.event_id == event_id, orders.order_id == before[:40]))
        if cursor is not None:
            statement = statement.where(tuple_(orders.first_seen_at, orders.order_id)
                                        < tuple_(cursor, before[:40]))
    page = page_of([ListedOrder(order_id, seen) for order_id, seen in session.execute(statement)],
                   per_page, lambda row: row.order_id)
    lines = order_lines(session, event_id, [order.order_id for order in page.items], now)
    for order in page.items:
        order.lines = lines.get(order.order_id, [])
    return page


def _orders_of_buyers(session, event_id, query):
    """The order ids of the attendees a query finds (by email or name)."""
    plan = plan_for(query)
    if plan.kind == "order":
        return []
    buyers = list(session.scalars(narrowed(
        select(Attendee.id).order_by(Attendee.event_id.desc(), Attendee.id.desc())
        .limit(SEARCH_BUYERS), session, event_id, plan, None)))
    if not buyers:
        return []
    return list(session.scalars(select(TicketPurchase.thrivecart_order_id).distinct().where(
        TicketPurchase.attendee_id.in_(buyers), TicketPurchase.thrivecart_order_id.is_not(None))))


def order_lines(session, event_id, order_ids, now=None):
    """Return {order id: [OrderLine]} of the orders' purchases in the event."""
    if not order_ids:
        return {}
    now = now or utcnow()
    purchase = TicketPurchase
    lines = {}
    for row in session.execute(
        select(purchase.thrivecart_order_id, purchase.id, Attendee.id, Attendee.email,
               Attendee.first_name, Attendee.last_name, Attendee.erased_at, Ticket.name,
               purchase.thrivecart_item_key, purchase.status, purchase.access_ends_at,
               Ticket.on_payment_failed, purchase.test, purchase.charged_amount,
               purchase.charged_currency, refunded_of(purchase), purchase.amount,
               purchase.currency, purchase.paid_at, purchase.payments)
        .join(Attendee, Attendee.id == purchase.attendee_id)
        .join(Ticket, Ticket.id == purchase.ticket_id)
        .where(Ticket.event_id == event_id, purchase.thrivecart_order_id.in_(order_ids))
        .order_by(purchase.thrivecart_order_id, purchase.id)
    ):
        (order_id, purchase_id, attendee_id, email, first, last, erased_at, ticket, key,
         status, ends, on_failed, test, charged, currency, refunded, amount, list_currency,
         paid_at, payments) = row
        lines.setdefault(order_id, []).append(OrderLine(
            purchase_id, attendee_id, "erased buyer" if erased_at else email,
            "" if erased_at else full_name(first, last), ticket, key, status,
            has_access(status, ends, on_failed, now), test, charged, currency, int(refunded),
            amount, list_currency, paid_at, payments))
    return lines


@dataclass
class OrderStory:
    """Everything the order page shows of one order in one event."""

    order: ListedOrder
    currency: str | None  # the order's, which its charges are in
    charges: list
    events: list
    deliveries: list
    emails: list


def order_story(session, event_id, order_id, now=None):
    """Return the order's :class:`OrderStory`, or None when the event never saw it."""
    seen = session.scalar(select(ThriveCartOrder.first_seen_at).where(
        ThriveCartOrder.event_id == event_id, ThriveCartOrder.order_id == order_id))
    if seen is None:
        return None
    order = ListedOrder(order_id, seen,
                        order_lines(session, event_id, [order_id], now).get(order_id, []))
    deliveries = list(session.execute(
        select(WebhookDelivery.id, WebhookDelivery.event_type, WebhookDelivery.status,
               WebhookDelivery.invoice_id, DeliveryEvent.received_at, DeliveryEvent.attention)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .where(DeliveryEvent.event_id == event_id, WebhookDelivery.order_id == order_id)
        .order_by(DeliveryEvent.received_at, WebhookDelivery.id)))
    return OrderStory(order, *_charges(session, event_id, order_id),
                      list(session.scalars(
                          select(LifecycleEvent)
                          .where(LifecycleEvent.event_id == event_id,
                                 LifecycleEvent.order_id == order_id)
                          .order_by(LifecycleEvent.occurred_at, LifecycleEvent.id))),
                      deliveries,
                      list(session.scalars(
                          select(OutboxEmail)
                          .where(OutboxEmail.event_id == event_id,
                                 OutboxEmail.order_id == order_id)
                          .order_by(OutboxEmail.id))))


def _charges(session, event_id, order_id):
    """The order's currency and charge rows (:func:`..thrivecart.order.charge_rows`) as its
    latest kept order.success sent them; (None, []) when no payload of it is kept."""
    payload = session.scalar(
        select(WebhookDelivery.payload)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .where(DeliveryEvent.event_id == event_id, WebhookDelivery.order_id == order_id,
               WebhookDelivery.event_type == ORDER_SUCCESS, WebhookDelivery.replayable)
        .order_by(WebhookDelivery.id.desc()).limit(1))
    if payload is None:
        return None, []
    return read_order(payload).currency, charge_rows(payload)


def plan_position(event):
    """A rebill's place in its plan, in words: ``payment 2 of 3, next 2027-02-10`` (as far
    as ThriveCart said), or None for an event that is not a rebill."""
    if event.kind != LifecycleKind.SUBSCRIPTION_PAYMENT:
        return None
    if event.payment_number is None:
        return "payment recorded"
    number = event.payment_number + 1  # the order.success was the first payment
    words = f"payment {number}"
    if event.remaining_payments is not None:
        words += f" of {number + event.remaining_payments}"
    if event.next_payment_at is not None:
        words += f", next {event.next_payment_at:%Y-%m-%d}"
    return words
