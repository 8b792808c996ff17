"""Turn a ThriveCart delivery into attendees and ticket purchases, exactly once.

One function, :func:`run_delivery`, applies a recorded delivery; the webhook, the replay
button, the CLI, held releases and "send a test purchase" all call it. Every effect of one
attempt is written in one transaction. Deliveries of one order are serialised by a row lock
on the order (:func:`.statements.order_lock`), and a purchase's state is worked out from all
of its order's events (:mod:`.lifecycle`), so duplicates, replays and races resolve to the
same result as any sequential order of arrival.
"""

import logging
from dataclasses import asdict, dataclass

from sqlalchemy.exc import DBAPIError

from ..models import (
    DeliveryStatus,
    LifecycleKind,
    OutcomeKind,
    PurchaseStatus,
    utcnow,
)
from ..thrivecart.order import ORDER_SUCCESS, Lifecycle
from . import statements as sql
from .lifecycle import REBUYABLE, has_access, settle
from .outcomes import LIFECYCLE_WORDS, needs_attention

log = logging.getLogger(__name__)

PROCESSED, IGNORED, FAILED = (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                              DeliveryStatus.FAILED)

# The outcome a delivery reports when it leaves a purchase in a status.
_OUTCOME_OF_STATUS = {
    PurchaseStatus.PAID: OutcomeKind.PAID,
    PurchaseStatus.PAYMENT_FAILED: OutcomeKind.PAYMENT_FAILED,
    PurchaseStatus.CANCELLED: OutcomeKind.CANCELLED,
    PurchaseStatus.REFUNDED: OutcomeKind.REFUNDED,
}
_ALREADY = {
    PurchaseStatus.PAID: OutcomeKind.ALREADY_PAID,
    PurchaseStatus.PAYMENT_FAILED: OutcomeKind.ALREADY_PAYMENT_FAILED,
    PurchaseStatus.CANCELLED: OutcomeKind.ALREADY_CANCELLED,
    PurchaseStatus.ENDED: OutcomeKind.ALREADY_ENDED,
    PurchaseStatus.REFUNDED: OutcomeKind.ALREADY_REFUNDED,
}


@dataclass(frozen=True)
class Outcome:
    """What one attempt did to one item in one event."""

    event_id: int
    item: str | None
    outcome: OutcomeKind
    ticket_id: int | None = None
    attendee_id: int | None = None
    purchase_id: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    status: DeliveryStatus
    http_status: int
    outcomes: tuple[Outcome, ...] = ()
    error: str | None = None

    @property
    def granted(self):
        """Whether this attempt granted access to something: each grant's outcome row is
        its access email's outbox entry (see services.access_emails)."""
        return any(outcome.outcome == OutcomeKind.PAID for outcome in self.outcomes)

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
    on_payment_failed: str
    on_cancel: str
    event_currency: str
    prices: list[tuple[int, str]]


def record_delivery(connection, order, event_ids, *, source="webhook", now=None):
    """Store a delivery addressed to ``event_ids`` before it is processed; return its id.

    ``connection`` may be outside any transaction on PostgreSQL, where the record is one
    statement (see :func:`.statements.record_delivery`).
    """
    received_at = now or utcnow()
    event_ids = sorted(set(event_ids))
    statement, with_events = sql.record_delivery(connection.dialect.name)
    values = {
        "received_at": received_at,
        "source": source,
        "event_type": order.event_type[:64],
        "mode": order.mode[:10],
        "test": order.test,
        "thrivecart_account": order.account,
        "order_id": order.order_id and order.order_id[:40],
        "invoice_id": order.invoice_id and order.invoice_id[:40],
        "customer_email": order.buyer.email,
        "status": DeliveryStatus.RECEIVED.value,
        "attempts": 0,
        "payload": order.payload,
    }
    if with_events:
        return connection.execute(statement, {**values, "event_ids": event_ids}).first()[0]
    delivery_id = connection.execute(statement, values).scalar_one()
    connection.execute(sql.INSERT_DELIVERY_EVENT, [
        {"delivery_id": delivery_id, "event_id": event_id, "received_at": received_at}
        for event_id in event_ids  # not yet attempted (0), nothing to look at yet
    ])
    return delivery_id


def run_delivery(session, delivery_id, order, event_ids, *, source="thrivecart", now=None,
                 user_id=None):
    """Apply a recorded delivery to ``event_ids`` in one transaction and commit.

    ``user_id`` is whoever asked for this attempt (a replay, a release, a re-run); the log
    shows them. On any error nothing of the attempt is applied, the delivery is recorded as
    failed with the error, and the result says 503 so that ThriveCart (or the person
    replaying) can try again. If even that record cannot be written, the error propagates.
    """
    try:
        result = process_delivery(session, delivery_id, order, event_ids,
                                  source=source, now=now, user_id=user_id)
        session.commit()
        return result
    except Exception as error:
        session.rollback()
        message = describe_error(error)
        log.warning("delivery %s failed: %s", delivery_id, message, exc_info=True)
        record_failure(session, delivery_id, event_ids, message, http_status=503, now=now,
                       user_id=user_id)
        session.commit()
        return DeliveryResult(delivery_id, FAILED, 503, error=message)


def process_delivery(session, delivery_id, order, event_ids, *, source, now, user_id):
    """Apply one delivery to the given events and record the attempt; flush, do not commit.

    ``run_delivery`` is the way in: it commits, or records the failure."""
    now = now or utcnow()
    event_ids = sorted(set(event_ids))
    error = None
    problem = order.problem or (order.buyer.problem if order.event_type == ORDER_SUCCESS
                                else None)
    if problem is not None:
        status, http_status, error = FAILED, 422, problem
        outcomes = [Outcome(event_id, None, OutcomeKind.FAILED, detail=error)
                    for event_id in event_ids]
    elif order.event_type == ORDER_SUCCESS:
        status, http_status = PROCESSED, 200
        outcomes = _apply_success(session, delivery_id, order, event_ids, source, now)
    elif order.lifecycle is not None:
        status, http_status = PROCESSED, 200
        outcomes = _apply_lifecycle(session, delivery_id, order, event_ids, now)
    else:
        status, http_status = IGNORED, 200
        detail = f"{order.event_type or 'an event without a name'} is not acted on"
        outcomes = [Outcome(event_id, None, OutcomeKind.IGNORED, detail=detail)
                    for event_id in event_ids]
    _record_attempt(session, delivery_id, status, http_status, error, outcomes, now, user_id,
                    order.item_names)
    return DeliveryResult(delivery_id, status, http_status, tuple(outcomes), error)


def record_failure(session, delivery_id, event_ids, message, *, http_status, now=None,
                   user_id=None):
    """Record a failed attempt of a delivery, with its error (``describe_error``'s), on every
    event it addressed."""
    outcomes = [Outcome(event_id, None, OutcomeKind.FAILED, detail=message)
                for event_id in sorted(set(event_ids))]
    _record_attempt(session, delivery_id, FAILED, http_status, message, outcomes,
                    now or utcnow(), user_id)


def describe_error(error):
    """Return a short, secret-free description of a processing error."""
    if isinstance(error, DBAPIError):
        # The driver's message, not SQLAlchemy's, which would append the statement's parameters;
        # a driver error without one is named by its kind.
        lines = str(error.orig).splitlines()
        text = f"database error: {lines[0] if lines else type(error.orig).__name__}"
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
    return max(pool)  # (amount, currency) pairs: equal amounts go by currency code


def _apply_success(session, delivery_id, order, event_ids, source, now):
    if not order.item_keys:
        return [Outcome(event_id, None, OutcomeKind.NO_ITEMS, detail="the order lists no items")
                for event_id in event_ids]
    flagged = _lock_order(session, order, event_ids, now, lifecycle=False)
    tickets = _linked_tickets(session, event_ids, order.item_keys)
    outcomes = []
    for event_id in event_ids:
        linked = []
        for key in order.item_keys:
            ticket = tickets.get((event_id, key))
            if ticket is None:
                outcomes.append(Outcome(event_id, key, OutcomeKind.UNLINKED,
                                        detail="no ticket has this External ID"))
            elif not ticket.active:
                outcomes.append(Outcome(event_id, key, OutcomeKind.TICKET_INACTIVE, ticket.id,
                                        detail="the ticket is inactive; reactivate and replay"))
            else:
                linked.append((key, ticket))
        if linked:
            waiting = _lifecycle_of(session, event_id, order.order_id) if flagged.get(
                event_id) else {}
            outcomes += _grant(session, delivery_id, event_id, linked, order, waiting, source,
                               now)
    # Report in the order's own order of items, event by event.
    position = {key: index for index, key in enumerate(order.item_keys)}
    return sorted(outcomes, key=lambda outcome: (event_ids.index(outcome.event_id),
                                                 position[outcome.item]))


def _grant(session, delivery_id, event_id, linked, order, waiting, source, now):
    """Give the buyer the linked tickets of one event; return an outcome per item."""
    connection = session.connection()
    attendee_id, created_at = connection.execute(sql.attendee_upsert(sql.dialect_of(session)), {
        "event_id": event_id, "email": order.buyer.email, "first_name": order.buyer.first_name,
        "last_name": order.buyer.last_name, "created_at": now, "updated_at": now,
    }).one()
    existing = {}
    if created_at != now:  # a returning attendee: what do they hold already?
        existing = {row.ticket_id: row for row in connection.execute(
            sql.PURCHASES_OF_ATTENDEE,
            {"attendee_id": attendee_id, "ticket_ids": [ticket.id for _key, ticket in linked]})}
    outcomes, rows, states = [], [], {}
    for key, ticket in linked:
        held = existing.get(ticket.id)
        if held is not None and not _rebuys(held, order):
            outcomes.append(Outcome(event_id, key, _ALREADY[held.status], ticket.id, attendee_id,
                                    held.id, detail=_already_detail(held, order)))
            continue
        state = settle(waiting.get(key, ()), charged_amount=order.charged.get(key),
                       charged_currency=order.currency, on_cancel=ticket.on_cancel)
        states[ticket.id] = (key, ticket, state)
        amount, currency = choose_price(ticket.prices, order.currency, ticket.event_currency)
        rows.append({
            "attendee_id": attendee_id, "ticket_id": ticket.id, "status": state.status.value,
            "amount": amount, "currency": currency, "charged_amount": order.charged.get(key),
            "charged_currency": order.currency if key in order.charged else None,
            "source": source, "thrivecart_order_id": order.order_id and order.order_id[:40],
            "thrivecart_item_key": key, "test": order.test, "paid_at": order.paid_at or now,
            "refunded_at": state.refunded_at, "access_ends_at": state.access_ends_at,
            "payments": state.payments, "last_payment_at": state.last_payment_at,
            "last_invoice_id": state.last_invoice_id, "created_at": now, "updated_at": now,
        })
    if not rows:
        return outcomes
    written = dict(connection.execute(sql.purchase_upsert(sql.dialect_of(session), len(rows)),
                                      sql.numbered(rows)).all())
    changes = []
    for ticket_id, (key, ticket, state) in states.items():
        purchase_id = written.get(ticket_id)
        if purchase_id is None:
            # Another order's delivery paid it a moment ago, on another process.
            outcomes.append(Outcome(event_id, key, OutcomeKind.ALREADY_PAID, ticket_id,
                                    attendee_id, detail="the attendee already holds this ticket"))
            continue
        held = existing.get(ticket_id)
        if held is not None:
            changes.append(_change(purchase_id, held.status, state.status, delivery_id, now,
                                   f"order.success of order {order.order_id or '—'}"))
        detail = None
        if state.status != PurchaseStatus.PAID:
            access = has_access(state.status, state.access_ends_at, ticket.on_payment_failed,
                                now)
            # Only events kept before the order make a new purchase anything but paid.
            detail = (f"{_describe(waiting[key])} received before the order applies: "
                      + (f"it starts {state.status.replace('_', ' ')}, with access" if access
                         else "access was never granted"))
        outcomes.append(Outcome(event_id, key, _OUTCOME_OF_STATUS[state.status], ticket_id,
                                attendee_id, purchase_id, detail=detail))
    if changes:
        connection.execute(sql.INSERT_CHANGE, changes)
    return outcomes


def _rebuys(held, order):
    """Tell whether this order.success (re)grants a purchase the attendee holds already."""
    if held.status == PurchaseStatus.PENDING:
        return True
    return held.status in REBUYABLE and held.thrivecart_order_id != (
        order.order_id and order.order_id[:40])


def _already_detail(held, order):
    if held.status == PurchaseStatus.PAID:
        return "the attendee already holds this ticket"
    return (f"order {order.order_id or '—'} is {held.status.replace('_', ' ')}; "
            "a success of the same order never grants it again")


def _apply_lifecycle(session, delivery_id, order, event_ids, now):
    """Keep a refund, rebill or cancellation and apply it to the purchase its order paid."""
    lifecycle = order.lifecycle
    key = lifecycle.item_key
    words = LIFECYCLE_WORDS[lifecycle.kind]
    if key is None or not order.order_id:
        detail = f"the {words} names no item" if key is None else f"the {words} names no order"
        return [Outcome(event_id, key, OutcomeKind.IGNORED, detail=detail)
                for event_id in event_ids]
    _lock_order(session, order, event_ids, now, lifecycle=True)
    tickets = _linked_tickets(session, event_ids, [key])
    connection = session.connection()
    outcomes = []
    for event_id in event_ids:
        ticket = tickets.get((event_id, key))
        if ticket is None:
            outcomes.append(Outcome(event_id, key, OutcomeKind.UNLINKED,
                                    detail="no ticket has this External ID"))
            continue
        kept = connection.execute(sql.lifecycle_insert(sql.dialect_of(session)), {
            "event_id": event_id, "order_id": order.order_id[:40], "item_key": key,
            "kind": lifecycle.kind, "identity": lifecycle.identity,
            "amount": lifecycle.amount, "currency": lifecycle.currency,
            "occurred_at": lifecycle.occurred_at or now,
            "billing_period_end": lifecycle.billing_period_end,
            "invoice_id": lifecycle.invoice_id, "delivery_id": delivery_id, "received_at": now,
        }).first() is not None
        found = list(connection.execute(sql.PURCHASES_OF_ORDER, {
            "ticket_id": ticket.id, "order_id": order.order_id[:40]}))
        if not found:
            outcomes.append(Outcome(
                event_id, key, OutcomeKind.WAITING_FOR_ORDER, ticket.id,
                detail=f"kept until order {order.order_id} arrives; it applies then"))
            continue
        events = _lifecycle_of(session, event_id, order.order_id)[key]  # this one included
        for purchase in found:
            outcomes.append(_resettle(session, delivery_id, event_id, key, ticket, purchase,
                                      events, kept, order, now))
    return outcomes


def _resettle(session, delivery_id, event_id, key, ticket, purchase, events, kept, order, now):
    """Work a purchase's state out again from its order's events; write what changed."""
    lifecycle = order.lifecycle
    base = {"event_id": event_id, "item": key, "ticket_id": ticket.id,
            "attendee_id": purchase.attendee_id, "purchase_id": purchase.id}
    if purchase.status == PurchaseStatus.PENDING:
        return Outcome(**base, outcome=OutcomeKind.IGNORED,
                       detail="the purchase is pending, set by hand; nothing changes")
    state = settle(events, charged_amount=purchase.charged_amount,
                   charged_currency=purchase.charged_currency, on_cancel=ticket.on_cancel,
                   current=purchase.status)
    values = {"status": state.status, "refunded_at": state.refunded_at,
              "access_ends_at": state.access_ends_at, "payments": state.payments,
              "last_payment_at": state.last_payment_at, "last_invoice_id": state.last_invoice_id}
    changed = {column: value for column, value in values.items()
               if getattr(purchase, column) != value}
    if changed:
        session.connection().execute(
            sql.purchases.update().where(sql.purchases.c.id == purchase.id)
            .values(**changed, updated_at=now))
    if "status" in changed:
        session.connection().execute(sql.INSERT_CHANGE, [_change(
            purchase.id, purchase.status, state.status, delivery_id, now,
            f"{order.event_type} of order {order.order_id}")])
        # ``ended`` is never reached here: settle keeps it only where it is stored already.
        return Outcome(**base, outcome=_OUTCOME_OF_STATUS[state.status])
    if not kept:
        return Outcome(**base, outcome=OutcomeKind.DUPLICATE,
                       detail=f"this {LIFECYCLE_WORDS[lifecycle.kind]} was received before; "
                              "counted once")
    if lifecycle.kind == LifecycleKind.REFUND and state.status != PurchaseStatus.REFUNDED:
        return Outcome(**base, outcome=OutcomeKind.PARTIAL_REFUND,
                       detail=f"refunds so far {state.refunded} of {purchase.charged_amount} "
                              f"{purchase.charged_currency} charged; access kept")
    if lifecycle.kind == LifecycleKind.SUBSCRIPTION_PAYMENT:
        return Outcome(**base, outcome=OutcomeKind.PAYMENT_RECORDED,
                       detail=f"payment {state.payments} recorded")
    return Outcome(**base, outcome=_ALREADY[state.status])


def _change(purchase_id, from_status, to_status, delivery_id, now, reason):
    return {"purchase_id": purchase_id, "changed_at": now, "from_status": from_status,
            "to_status": to_status, "delivery_id": delivery_id, "reason": reason[:200]}


def _describe(events):
    kinds = sorted({LIFECYCLE_WORDS[event.kind] for event in events})
    return " and ".join(kinds)


def _lock_order(session, order, event_ids, now, *, lifecycle):
    """Lock the order in each event (see statements.order_lock); return {event: flag}."""
    if not order.order_id or not event_ids:
        return {}
    rows = session.connection().execute(
        sql.order_lock(sql.dialect_of(session), len(event_ids)),
        {"order_id": order.order_id[:40], "now": now, "lifecycle": lifecycle,
         **{f"event_id{index}": event_id for index, event_id in enumerate(event_ids)}})
    return {event_id: bool(flag) for event_id, flag in rows}


def _lifecycle_of(session, event_id, order_id):
    """Return {item key: [Lifecycle]} of the lifecycle events kept for an order in an event:
    the same shape as the one a delivery brings."""
    events = {}
    for row in session.connection().execute(sql.LIFECYCLE_OF_ORDER,
                                            {"event_id": event_id, "order_id": order_id[:40]}):
        events.setdefault(row.item_key, []).append(Lifecycle(
            kind=LifecycleKind(row.kind), item_key=row.item_key, identity=row.identity,
            amount=row.amount, currency=row.currency, occurred_at=row.occurred_at,
            billing_period_end=row.billing_period_end, invoice_id=row.invoice_id))
    return events


def _linked_tickets(session, event_ids, keys):
    """Return {(event id, External ID): ticket} for the keys, prices included, in one query."""
    rows = session.connection().execute(sql.LINKED_TICKETS,
                                        {"event_ids": event_ids, "keys": keys})
    tickets = {}
    for (ticket_id, event_id, key, active, on_payment_failed, on_cancel, event_currency,
         amount, currency) in rows:
        ticket = tickets.setdefault((event_id, key), _LinkedTicket(
            ticket_id, active, on_payment_failed, on_cancel, event_currency, []))
        if amount is not None:
            ticket.prices.append((amount, currency))
    return tickets


def _record_attempt(session, delivery_id, status, http_status, error, outcomes, now,
                    user_id=None, names=None):
    connection = session.connection()
    names = names or {}
    finish = {"status": status, "http_status": http_status, "error": error, "now": now,
              "user_id": user_id}
    kinds = {}
    for outcome in outcomes:
        kinds.setdefault(outcome.event_id, set()).add(outcome.outcome)
    marks = [(event_id, needs_attention(event_kinds)) for event_id, event_kinds in kinds.items()]
    rows = [{"event_id": outcome.event_id,
             "item_key": outcome.item,  # item keys are at most 40 characters
             "item_name": names.get(outcome.item), "outcome": outcome.outcome,
             "ticket_id": outcome.ticket_id, "attendee_id": outcome.attendee_id,
             "purchase_id": outcome.purchase_id,
             "detail": outcome.detail and outcome.detail[:500]} for outcome in outcomes]
    statement = sql.finish_attempt(sql.dialect_of(session))
    if statement is not None:  # one statement, each outcome column sent as an array
        return connection.execute(statement, {
            **finish, "finished_delivery": delivery_id,
            "mark_events": [event_id for event_id, _ in marks],
            "mark_attention": [attention for _, attention in marks],
            **{f"outcome_{name}": [row[name] for row in rows] for name in sql.OUTCOME_COLUMNS},
        }).scalar_one()
    attempt = connection.execute(sql.FINISH_ATTEMPT,
                                 {**finish, "delivery_id": delivery_id}).scalar_one()
    if marks:
        connection.execute(sql.MARK_DELIVERY_EVENT, [
            {"marked_delivery": delivery_id, "marked_event": event_id, "new_attempt": attempt,
             "needs_attention": attention}
            for event_id, attention in marks
        ])
    if rows:
        connection.execute(sql.INSERT_OUTCOME, [
            {"delivery_id": delivery_id, "attempt": attempt, "created_at": now, **row}
            for row in rows
        ])
    return attempt
