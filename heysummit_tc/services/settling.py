"""Refunds, failed rebills, rebills and cancellations: each is kept with its order, and the
purchase that order paid is settled again from all of the order's events
(:func:`.lifecycle.settle`), so that any order of arrival ends in the same state."""

from ..models import LifecycleKind, OutcomeKind, PurchaseStatus
from . import statements as sql
from .attempts import ALREADY, OUTCOME_OF_STATUS, Outcome
from .lifecycle import settle
from .order_rows import lifecycle_of, linked_tickets, lock_order, purchase_change
from .outcomes import LIFECYCLE_WORDS


def apply_lifecycle(session, delivery_id, order, event_ids, now):
    """Keep a refund, rebill or cancellation and apply it to the purchase its order paid."""
    lifecycle = order.lifecycle
    key = lifecycle.item_key
    words = LIFECYCLE_WORDS[lifecycle.kind]
    if key is None or not order.order_id:
        detail = f"the {words} names no item" if key is None else f"the {words} names no order"
        return [Outcome(event_id, key, OutcomeKind.IGNORED, detail=detail)
                for event_id in event_ids]
    lock_order(session, order, event_ids, now, lifecycle=True)
    tickets = linked_tickets(session, event_ids, [key])
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
        events = lifecycle_of(session, event_id, order.order_id)[key]  # this one included
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
        session.connection().execute(sql.INSERT_CHANGE, [purchase_change(
            purchase.id, purchase.status, state.status, delivery_id, now,
            f"{order.event_type} of order {order.order_id}")])
        # ``ended`` is never reached here: settle keeps it only where it is stored already.
        return Outcome(**base, outcome=OUTCOME_OF_STATUS[state.status])
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
    return Outcome(**base, outcome=ALREADY[state.status])
