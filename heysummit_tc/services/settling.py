"""Refunds, failed rebills, rebills and cancellations: each is kept with its order, and the
purchase that order paid is settled again from all of the order's events
(:func:`.lifecycle.settle`), so that any order of arrival ends in the same state."""

from dataclasses import replace

from ..models import LifecycleKind, OutcomeKind, PurchaseStatus
from ..sql import orders
from ..thrivecart.events import LIFECYCLE_WORDS
from .attempts import ALREADY, OUTCOME_OF_STATUS, Outcome, unapplied
from .lifecycle import settle
from .money import refunded_text


def apply_lifecycle(attempt):
    """Keep a refund, rebill or cancellation and apply it to the purchase its order paid."""
    order = attempt.order
    key = order.lifecycle.item_key
    words = LIFECYCLE_WORDS[order.lifecycle.kind]
    if key is None or not order.order_id:
        return attempt.everywhere(OutcomeKind.IGNORED, f"the {words} names no item"
                                  if key is None else f"the {words} names no order", item=key)
    orders.lock(attempt.connection, attempt.order_id, attempt.event_ids, attempt.now,
                lifecycle=True)
    tickets = orders.linked_tickets(attempt.connection, attempt.event_ids, [key])
    outcomes = []
    for event_id in attempt.event_ids:
        ticket = tickets.get((event_id, key))
        if ticket is None or ticket.id is None:
            outcomes.append(unapplied(event_id, key, ticket, tickets))
            continue
        kept = _keep(attempt, event_id)
        found = list(attempt.connection.execute(orders.PURCHASES_OF_ORDER, {
            "ticket_id": ticket.id, "order_id": attempt.order_id}))
        if not found:
            outcomes.append(Outcome(
                event_id, key, OutcomeKind.WAITING_FOR_ORDER, ticket.id,
                detail=f"kept until order {order.order_id} arrives; it applies then"))
            continue
        # Every event kept for the item, this one included.
        events = orders.kept_lifecycle(attempt.connection, event_id, attempt.order_id)[key]
        outcomes += [_resettle(attempt, Outcome(event_id, key, None, ticket.id,
                                                purchase.attendee_id, purchase.id),
                               ticket, purchase, events, kept)
                     for purchase in found]
    return outcomes


def _keep(attempt, event_id):
    """Keep the attempt's lifecycle event in an event; tell whether it is new there."""
    lifecycle = attempt.order.lifecycle
    return orders.keep_lifecycle(attempt.connection, {
        "event_id": event_id, "order_id": attempt.order_id, "item_key": lifecycle.item_key,
        "kind": lifecycle.kind, "identity": lifecycle.identity,
        "amount": lifecycle.amount, "currency": lifecycle.currency,
        "occurred_at": lifecycle.occurred_at or attempt.now,
        "billing_period_end": lifecycle.billing_period_end,
        "invoice_id": lifecycle.invoice_id, "payment_number": lifecycle.payment_number,
        "remaining_payments": lifecycle.remaining_payments,
        "next_payment_at": lifecycle.next_payment_at, "delivery_id": attempt.delivery_id,
        "received_at": attempt.now,
    })


def _resettle(attempt, base, ticket, purchase, events, kept):
    """Work a purchase's state out again from its order's events; write what changed.

    ``base`` is the outcome's event, item, ticket, attendee and purchase; this decides the
    rest."""
    lifecycle = attempt.order.lifecycle
    if purchase.status == PurchaseStatus.PENDING:
        return replace(base, outcome=OutcomeKind.IGNORED,
                       detail="the purchase is pending, set by hand; nothing changes")
    state = settle(events, charged_amount=purchase.charged_amount,
                   charged_currency=purchase.charged_currency, on_cancel=ticket.on_cancel,
                   current=purchase.status)
    changed = _write_state(attempt, purchase, state)
    if purchase.status == PurchaseStatus.PAYMENT_FAILED and state.status == PurchaseStatus.PAID:
        # The failed payment was paid: its delivery needs nobody any more.
        orders.settle_attention(attempt.connection, base.event_id, attempt.order_id,
                                [LifecycleKind.REBILL_FAILED])
    if "status" in changed:
        # ``ended`` is never reached here: settle keeps it only where it is stored already.
        return replace(base, outcome=OUTCOME_OF_STATUS[state.status])
    if not kept:
        return replace(base, outcome=OutcomeKind.DUPLICATE,
                       detail=f"this {LIFECYCLE_WORDS[lifecycle.kind]} was received before; "
                              "counted once")
    if lifecycle.kind == LifecycleKind.REFUND and state.status != PurchaseStatus.REFUNDED:
        return replace(base, outcome=OutcomeKind.PARTIAL_REFUND,
                       detail=refunded_text(state.refunded, purchase.charged_amount,
                                            purchase.charged_currency) + " so far; access kept")
    if lifecycle.kind == LifecycleKind.SUBSCRIPTION_PAYMENT:
        return replace(base, outcome=OutcomeKind.PAYMENT_RECORDED,
                       detail=f"payment {state.payments} recorded")
    return replace(base, outcome=ALREADY[state.status])


def _write_state(attempt, purchase, state):
    """Store what ``state`` changes of a purchase, and a change row for a new status; return
    the changed columns."""
    values = {"status": state.status, "refunded_at": state.refunded_at,
              "access_ends_at": state.access_ends_at, "payments": state.payments,
              "last_payment_at": state.last_payment_at, "last_invoice_id": state.last_invoice_id}
    changed = {column: value for column, value in values.items()
               if getattr(purchase, column) != value}
    if changed:
        attempt.connection.execute(
            orders.purchases.update().where(orders.purchases.c.id == purchase.id)
            .values(**changed, updated_at=attempt.now))
    if "status" in changed:
        attempt.connection.execute(orders.INSERT_CHANGE, [orders.purchase_change(
            purchase.id, purchase.status, state.status, attempt.delivery_id, attempt.now,
            f"{attempt.order.event_type} of order {attempt.order.order_id}")])
    return changed
