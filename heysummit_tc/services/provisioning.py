"""Turn a ThriveCart delivery into attendees and ticket purchases, exactly once.

One function, :func:`run_delivery`, applies a recorded delivery; the webhook, the replay
button, the CLI and "send a test purchase" all call it. Every effect of one attempt is
written in one transaction, and every write that must happen once is an
``INSERT ... ON CONFLICT`` against a unique constraint, so duplicates that arrive at the same
instant on different processes resolve in the database instead of racing in Python.
"""

import logging
from dataclasses import asdict, dataclass
from functools import cache

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ..models import (
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    PurchaseStatus,
    Ticket,
    TicketPrice,
    TicketPurchase,
    WebhookDelivery,
    utcnow,
)
from ..thrivecart.order import ORDER_REFUND, ORDER_SUCCESS

log = logging.getLogger(__name__)

PROCESSED, IGNORED, FAILED = "processed", "ignored", "failed"


@dataclass(frozen=True)
class Outcome:
    """What one attempt did to one item in one event."""

    event_id: int
    item: str | None
    outcome: str
    ticket_id: int | None = None
    attendee_id: int | None = None
    purchase_id: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    status: str
    http_status: int
    outcomes: tuple[Outcome, ...] = ()
    error: str | None = None

    def as_json(self):
        """Return the body the webhook answers with."""
        body = {"status": self.status, "delivery_id": self.delivery_id}
        if self.error:
            body["error"] = self.error
        if self.status != IGNORED:
            body["outcomes"] = [
                {key: value for key, value in asdict(outcome).items()
                 if key != "attendee_id" and key != "purchase_id"}
                for outcome in self.outcomes
            ]
        return body


@dataclass
class _LinkedTicket:
    id: int
    active: bool
    event_currency: str
    prices: list[tuple[int, str]]


def record_delivery(session, order, event_ids, *, source="webhook", now=None):
    """Store a delivery addressed to ``event_ids`` before it is processed; return its id."""
    delivery_id = session.connection().execute(_INSERT_DELIVERY, {
        "received_at": now or utcnow(),
        "source": source,
        "event_type": order.event_type[:64],
        "mode": order.mode[:10],
        "test": order.test,
        "thrivecart_account": order.account,
        "order_id": order.order_id and order.order_id[:40],
        "invoice_id": order.invoice_id and order.invoice_id[:40],
        "customer_email": order.buyer.email,
        "status": "received",
        "attempts": 0,
        "payload": order.payload,
    }).scalar_one()
    session.connection().execute(_INSERT_DELIVERY_EVENT, [
        {"delivery_id": delivery_id, "event_id": event_id} for event_id in sorted(set(event_ids))
    ])
    return delivery_id


def run_delivery(session, delivery_id, order, event_ids, *, source="thrivecart", now=None):
    """Apply a recorded delivery to ``event_ids`` in one transaction and commit.

    On any error nothing of the attempt is applied, the delivery is recorded as failed with
    the error, and the result says 503 so that ThriveCart (or the person replaying) can try
    again. If even that record cannot be written, the error propagates.
    """
    try:
        result = process_delivery(session, delivery_id, order, event_ids,
                                  source=source, now=now)
        session.commit()
        return result
    except Exception as error:
        session.rollback()
        message = describe_error(error)
        log.warning("delivery %s failed: %s", delivery_id, message)
        record_failure(session, delivery_id, event_ids, message, http_status=503, now=now)
        session.commit()
        return DeliveryResult(delivery_id, FAILED, 503, error=message)


def process_delivery(session, delivery_id, order, event_ids, *, source="thrivecart", now=None):
    """Apply one delivery to the given events and record the attempt; flush, do not commit."""
    now = now or utcnow()
    event_ids = sorted(set(event_ids))
    error = None
    if order.event_type == ORDER_SUCCESS and order.buyer.email is None:
        status, http_status, error = FAILED, 422, order.buyer.problem
        outcomes = [Outcome(event_id, None, "failed", detail=error) for event_id in event_ids]
    elif order.event_type == ORDER_SUCCESS:
        status, http_status = PROCESSED, 200
        outcomes = _apply_success(session, order, event_ids, source, now)
    elif order.event_type == ORDER_REFUND:
        status, http_status = PROCESSED, 200
        outcomes = _apply_refund(session, order, event_ids, now)
    else:
        status, http_status = IGNORED, 200
        detail = f"{order.event_type or 'an event without a name'} is not acted on"
        outcomes = [Outcome(event_id, None, "ignored", detail=detail) for event_id in event_ids]
    _record_attempt(session, delivery_id, status, http_status, error, outcomes, now)
    return DeliveryResult(delivery_id, status, http_status, tuple(outcomes), error)


def record_failure(session, delivery_id, event_ids, message, *, http_status, now=None):
    """Record a failed attempt of a delivery, with its error, on every event it addressed."""
    outcomes = [Outcome(event_id, None, "failed", detail=message[:500])
                for event_id in sorted(set(event_ids))]
    _record_attempt(session, delivery_id, FAILED, http_status, message, outcomes,
                    now or utcnow())


def describe_error(error):
    """Return a short, secret-free description of a processing error."""
    if isinstance(error, DBAPIError):
        # The driver's message, not SQLAlchemy's, which would append the statement's parameters.
        text = f"database error: {str(error.orig).splitlines()[0] if error.orig else error}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:500]


def choose_price(prices, order_currency, event_currency):
    """Return the (amount, currency) a purchase records: the ticket's highest price.

    Among the prices in the order's currency when the ticket has any, else among all of them;
    a ticket without prices records 0 in the event's currency.
    """
    pool = [price for price in prices if price[1] == order_currency] or list(prices)
    if not pool:
        return 0, event_currency
    return max(pool, key=lambda price: (price[0], price[1]))


def _apply_success(session, order, event_ids, source, now):
    tickets = _linked_tickets(session, event_ids, order.item_keys)
    outcomes = []
    for event_id in event_ids:
        linked = []
        for key in order.item_keys:
            ticket = tickets.get((event_id, key))
            if ticket is None:
                outcomes.append(Outcome(event_id, key, "unlinked",
                                        detail="no ticket has this External ID"))
            elif not ticket.active:
                outcomes.append(Outcome(event_id, key, "ticket_inactive", ticket.id,
                                        detail="the ticket is inactive; reactivate and replay"))
            else:
                linked.append((key, ticket))
        if not linked:
            continue
        attendee_id = _upsert_attendee(session, event_id, order.buyer, now)
        paid = _upsert_purchases(session, attendee_id, linked, order, source, now)
        for key, ticket in linked:
            if ticket.id in paid:
                outcomes.append(Outcome(event_id, key, "paid", ticket.id, attendee_id,
                                        paid[ticket.id]))
            else:
                outcomes.append(Outcome(event_id, key, "already_paid", ticket.id, attendee_id,
                                        detail="the attendee already holds this ticket"))
    if not order.item_keys:
        return [Outcome(event_id, None, "no_items", detail="the order lists no items")
                for event_id in event_ids]
    # Report in the order's own order of items, event by event.
    position = {key: index for index, key in enumerate(order.item_keys)}
    return sorted(outcomes, key=lambda outcome: (event_ids.index(outcome.event_id),
                                                 position[outcome.item]))


def _linked_tickets(session, event_ids, keys):
    """Return {(event id, External ID): ticket} for the keys, prices included, in one query."""
    if not keys or not event_ids:
        return {}
    rows = session.connection().execute(_LINKED_TICKETS, {"event_ids": event_ids, "keys": keys})
    tickets = {}
    for ticket_id, event_id, key, active, event_currency, amount, currency in rows:
        ticket = tickets.setdefault(
            (event_id, key), _LinkedTicket(ticket_id, active, event_currency, [])
        )
        if amount is not None:
            ticket.prices.append((amount, currency))
    return tickets


def _upsert_attendee(session, event_id, buyer, now):
    """Create the attendee or update its names (never erasing one); return its id."""
    return session.connection().execute(_attendee_upsert(_dialect(session)), {
        "event_id": event_id, "email": buyer.email, "first_name": buyer.first_name,
        "last_name": buyer.last_name, "created_at": now, "updated_at": now,
    }).scalar_one()


def _upsert_purchases(session, attendee_id, linked, order, source, now):
    """Mark the attendee's purchases of the linked tickets paid; return {ticket id: purchase id}
    for those this attempt changed (the rest were paid already)."""
    rows = []
    for key, ticket in linked:
        amount, currency = choose_price(ticket.prices, order.currency, ticket.event_currency)
        rows.append({
            "attendee_id": attendee_id,
            "ticket_id": ticket.id,
            "status": PurchaseStatus.PAID.value,
            "amount": amount,
            "currency": currency,
            "charged_amount": order.charged.get(key),
            "source": source,
            "thrivecart_order_id": order.order_id and order.order_id[:40],
            "thrivecart_item_key": key,
            "test": order.test,
            "paid_at": order.paid_at or now,
            "refunded_at": None,
            "created_at": now,
            "updated_at": now,
        })
    return dict(session.connection().execute(_purchase_upsert(_dialect(session), len(rows)),
                                _numbered(rows)).all())


def _apply_refund(session, order, event_ids, now):
    key = order.refund_key
    if key is None:
        return [Outcome(event_id, None, "ignored", detail="the refund names no item")
                for event_id in event_ids]
    tickets = dict(session.execute(
        select(Ticket.event_id, Ticket.id)
        .where(Ticket.event_id.in_(event_ids), Ticket.external_id == key)
    ).all())
    purchases = {}
    if tickets and order.order_id:
        for purchase in session.scalars(
            select(TicketPurchase).where(
                TicketPurchase.ticket_id.in_(tickets.values()),
                TicketPurchase.thrivecart_order_id == order.order_id,
            )
        ):
            purchases.setdefault(purchase.ticket_id, []).append(purchase)
    outcomes = []
    for event_id in event_ids:
        ticket_id = tickets.get(event_id)
        if ticket_id is None:
            outcomes.append(Outcome(event_id, key, "unlinked",
                                    detail="no ticket has this External ID"))
            continue
        found = purchases.get(ticket_id, [])
        if not found:
            outcomes.append(Outcome(event_id, key, "not_found", ticket_id,
                                    detail=f"no purchase of this ticket by order {order.order_id}"))
        for purchase in found:
            outcomes.append(_refund_purchase(session, event_id, key, purchase, order, now))
    return outcomes


def _refund_purchase(session, event_id, key, purchase, order, now):
    base = {"event_id": event_id, "item": key, "ticket_id": purchase.ticket_id,
            "attendee_id": purchase.attendee_id, "purchase_id": purchase.id}
    if purchase.status != PurchaseStatus.PAID:
        return Outcome(**base, outcome=f"already_{purchase.status.value}",
                       detail="the purchase is not paid, nothing to revoke")
    covered = purchase.charged_amount if purchase.charged_amount is not None else purchase.amount
    if order.refund_amount is not None and order.refund_amount < covered:
        return Outcome(**base, outcome="partial_refund",
                       detail=f"refund of {order.refund_amount} is less than the {covered} "
                              "charged; access kept")
    changed = session.execute(
        update(TicketPurchase)
        .where(TicketPurchase.id == purchase.id,
               TicketPurchase.status == PurchaseStatus.PAID.value)
        .values(status=PurchaseStatus.REFUNDED.value, refunded_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return Outcome(**base, outcome="already_refunded")
    return Outcome(**base, outcome="refunded")


def _record_attempt(session, delivery_id, status, http_status, error, outcomes, now):
    attempt = session.connection().execute(_FINISH_ATTEMPT, {
        "delivery_id": delivery_id, "status": status, "http_status": http_status,
        "error": error,
    }).scalar_one()
    if outcomes:
        session.connection().execute(_INSERT_OUTCOME, [
            {"delivery_id": delivery_id, "event_id": outcome.event_id, "attempt": attempt,
             "item_key": outcome.item and outcome.item[:40], "outcome": outcome.outcome,
             "ticket_id": outcome.ticket_id, "attendee_id": outcome.attendee_id,
             "purchase_id": outcome.purchase_id,
             "detail": outcome.detail and outcome.detail[:500], "created_at": now}
            for outcome in outcomes
        ])
    return attempt


# The hot path's statements, built once: constructing them per delivery cost more than
# running them. Core tables, not ORM entities, so that no unit of work is involved.
_deliveries = WebhookDelivery.__table__
_INSERT_DELIVERY = insert(_deliveries).returning(_deliveries.c.id)
_INSERT_DELIVERY_EVENT = insert(DeliveryEvent.__table__)
_INSERT_OUTCOME = insert(DeliveryOutcome.__table__)
_FINISH_ATTEMPT = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("delivery_id"))
    .values(status=bindparam("status"), http_status=bindparam("http_status"),
            error=bindparam("error"), attempts=_deliveries.c.attempts + 1)
    .returning(_deliveries.c.attempts)
)
_LINKED_TICKETS = (
    select(Ticket.id, Ticket.event_id, Ticket.external_id, Ticket.active, Event.currency,
           TicketPrice.amount, TicketPrice.currency)
    .join(Event, Event.id == Ticket.event_id)
    .outerjoin(TicketPrice, TicketPrice.ticket_id == Ticket.id)
    .where(Ticket.event_id.in_(bindparam("event_ids", expanding=True)),
           Ticket.external_id.in_(bindparam("keys", expanding=True)))
)
_PURCHASE_COLUMNS = (
    "attendee_id", "ticket_id", "status", "amount", "currency", "charged_amount", "source",
    "thrivecart_order_id", "thrivecart_item_key", "test", "paid_at", "refunded_at",
    "created_at", "updated_at",
)


def _dialect(session):
    return session.get_bind().dialect.name


@cache
def _attendee_upsert(dialect):
    attendees = Attendee.__table__
    statement = _insert_for(dialect)(attendees)
    incoming = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[attendees.c.event_id, attendees.c.email],
        set_={
            "first_name": func.coalesce(func.nullif(incoming.first_name, ""),
                                        attendees.c.first_name),
            "last_name": func.coalesce(func.nullif(incoming.last_name, ""),
                                       attendees.c.last_name),
            "updated_at": incoming.updated_at,
        },
    ).returning(attendees.c.id)


@cache
def _purchase_upsert(dialect, count):
    """The upsert of ``count`` purchases of one attendee, parameters numbered per row."""
    purchases = TicketPurchase.__table__
    statement = _insert_for(dialect)(purchases).values([
        {column: bindparam(f"row{row}_{column}") for column in _PURCHASE_COLUMNS}
        for row in range(count)
    ])
    incoming = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[purchases.c.attendee_id, purchases.c.ticket_id],
        set_={column: incoming[column] for column in _PURCHASE_COLUMNS[2:]
              if column != "created_at"},
        # A purchase that is paid already stays exactly as it is.
        where=purchases.c.status != PurchaseStatus.PAID.value,
    ).returning(purchases.c.ticket_id, purchases.c.id)


def _numbered(rows):
    return {f"row{index}_{column}": value
            for index, row in enumerate(rows) for column, value in row.items()}


def _insert_for(dialect):
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
