"""``order.success``: the buyer becomes an attendee holding a purchase of each linked ticket,
created directly in the state the order's kept events give it (a refunded order never grants
access, not even for an instant)."""

from dataclasses import asdict

from ..models import LifecycleKind, OutcomeKind, PurchaseStatus
from ..sql import orders
from ..thrivecart.events import LIFECYCLE_WORDS
from .attempts import ALREADY, OUTCOME_OF_STATUS, Outcome, unapplied
from .lifecycle import has_access, settle


def choose_price(prices, order_currency, event_currency):
    """Return the (amount, currency) a purchase records: the ticket's highest price.

    Among the prices in the order's currency when the ticket has any, else among all of them;
    a ticket without prices records 0 in the event's currency.
    """
    pool = [price for price in prices if price[1] == order_currency] or list(prices)
    if not pool:
        return 0, event_currency
    return max(pool)  # (amount, currency) pairs: equal amounts go by currency code


def apply_success(attempt):
    """Give the buyer each linked ticket in each event; return an outcome per item and event,
    in the order's own order of items, event by event."""
    order = attempt.order
    if not order.item_keys:
        return attempt.everywhere(OutcomeKind.NO_ITEMS, "the order lists no items")
    flagged = orders.lock(attempt.connection, attempt.order_id, attempt.event_ids,
                          attempt.now, lifecycle=False)
    tickets = orders.linked_tickets(attempt.connection, attempt.event_ids, order.item_keys)
    outcomes = []
    for event_id in attempt.event_ids:
        linked = []
        for key in order.item_keys:
            ticket = tickets.get((event_id, key))
            left = unapplied(event_id, key, ticket, tickets)
            if left is not None:
                outcomes.append(left)
            else:
                linked.append((key, ticket))
        if linked:
            waiting = (orders.kept_lifecycle(attempt.connection, event_id, attempt.order_id)
                       if flagged.get(event_id) else {})
            granted = _grant(attempt, event_id, linked, waiting)
            outcomes += granted
            if waiting and any(outcome.outcome in _STARTED for outcome in granted):
                # The events that waited for this order apply now: they wait no more (what
                # still needs a person, a payment failure, is this delivery's to show).
                orders.settle_attention(attempt.connection, event_id, attempt.order_id,
                                        LifecycleKind)
    position = {key: index for index, key in enumerate(order.item_keys)}
    return sorted(outcomes, key=lambda outcome: (attempt.event_ids.index(outcome.event_id),
                                                 position[outcome.item]))


# Outcomes of a purchase this order.success wrote (not one it found).
_STARTED = frozenset(OUTCOME_OF_STATUS.values())


def _grant(attempt, event_id, linked, waiting):
    """Give the buyer the linked tickets of one event; return an outcome per item."""
    order, now = attempt.order, attempt.now
    attendee_id, existing = _attendee(attempt, event_id, linked)
    outcomes, rows, states = [], [], {}
    for key, ticket in linked:
        held = existing.get(ticket.id)
        if held is not None and held.status != PurchaseStatus.PENDING:
            outcomes.append(Outcome(event_id, key, ALREADY[held.status], ticket.id, attendee_id,
                                    held.id, detail=_already_detail(held, order)))
            continue
        if ticket.id in states:  # two items of the order unlock the same ticket
            outcomes.append(Outcome(event_id, key, OutcomeKind.ALREADY_PAID, ticket.id,
                                    attendee_id, detail=f"{states[ticket.id][0]} of the same "
                                                        "order gives this ticket"))
            continue
        state = settle(waiting.get(key, ()), charged_amount=order.charged.get(key),
                       charged_currency=order.currency, on_cancel=ticket.on_cancel)
        states[ticket.id] = (key, ticket, state)
        rows.append(_purchase_row(attempt, attendee_id, key, ticket, state))
    if not rows:
        return outcomes
    written = orders.upsert_purchases(attempt.connection, rows)
    changes = []
    for ticket_id, (key, ticket, state) in states.items():
        purchase_id = written.get(ticket_id)
        if purchase_id is None:
            # A delivery of the same order paid it a moment ago, on another process.
            outcomes.append(Outcome(event_id, key, OutcomeKind.ALREADY_PAID, ticket_id,
                                    attendee_id, detail="this order paid it already"))
            continue
        held = existing.get(ticket_id)
        if held is not None:
            changes.append(orders.purchase_change(
                purchase_id, held.status, state.status, attempt.delivery_id, now,
                f"order.success of order {order.order_id or '—'}"))
        outcomes.append(Outcome(event_id, key, OUTCOME_OF_STATUS[state.status], ticket_id,
                                attendee_id, purchase_id,
                                detail=_start_detail(state, ticket, waiting.get(key), now)))
    if changes:
        attempt.connection.execute(orders.INSERT_CHANGE, changes)
    return outcomes


def _attendee(attempt, event_id, linked):
    """Create the buyer's attendee in the event, or update it; return its id and what it
    holds of the linked tickets already ({ticket id: purchase row})."""
    order, now = attempt.order, attempt.now
    attendee_id, created_at = orders.upsert_attendee(attempt.connection, {
        "event_id": event_id, "email": order.buyer.email, "first_name": order.buyer.first_name,
        "last_name": order.buyer.last_name, "thrivecart_customer_id": order.customer_id,
        "created_at": now, "updated_at": now,
    })
    if created_at == now:  # a new attendee holds nothing
        return attendee_id, {}
    return attendee_id, {row.ticket_id: row for row in attempt.connection.execute(
        orders.PURCHASES_OF_ATTENDEE,
        {"attendee_id": attendee_id, "ticket_ids": [ticket.id for _key, ticket in linked],
         "order_id": attempt.order_id or ""})}


def _purchase_row(attempt, attendee_id, key, ticket, state):
    """The purchase of ``ticket`` an order.success writes, in the state ``state`` gives it."""
    order, now = attempt.order, attempt.now
    amount, currency = choose_price(ticket.prices, order.currency, ticket.event_currency)
    return {
        "attendee_id": attendee_id, "ticket_id": ticket.id, "status": state.status.value,
        "amount": amount, "currency": currency, "charged_amount": order.charged.get(key),
        "charged_currency": order.currency if key in order.charged else None,
        # An order without an id is one order all the same: "" (not NULL) holds it to one
        # purchase per ticket.
        "source": attempt.source, "thrivecart_order_id": attempt.order_id or "",
        "thrivecart_item_key": key, "test": order.test,
        # A purchase refunded before its order arrived was never paid here.
        "paid_at": None if state.status == PurchaseStatus.REFUNDED else order.paid_at or now,
        "refunded_at": state.refunded_at, "access_ends_at": state.access_ends_at,
        "payments": state.payments, "last_payment_at": state.last_payment_at,
        "last_invoice_id": state.last_invoice_id, **asdict(order.attribution),
        "created_at": now, "updated_at": now,
    }


def _start_detail(state, ticket, waiting, now):
    """Why a new purchase starts other than paid: only events kept before the order do that."""
    if state.status == PurchaseStatus.PAID:
        return None
    access = has_access(state.status, state.access_ends_at, ticket.on_payment_failed, now)
    return (f"{_describe(waiting)} received before the order applies: "
            + (f"it starts {state.status.replace('_', ' ')}, with access" if access
               else "access was never granted"))


def _already_detail(held, order):
    if held.status == PurchaseStatus.PAID:
        return "this order paid it already"
    return (f"order {order.order_id or '—'} is {held.status.replace('_', ' ')}; "
            "a success of the same order never grants it again")


def _describe(events):
    kinds = sorted({LIFECYCLE_WORDS[event.kind] for event in events})
    return " and ".join(kinds)
