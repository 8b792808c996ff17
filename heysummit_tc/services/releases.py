"""Doors into the processing service besides the webhook: replays, held deliveries and test
purchases.

Like :func:`provisioning.run_delivery`, which they call, these own their transactions: each
delivery is recorded, then applied, in transactions of its own.
"""

import secrets

from sqlalchemy import select, update

from ..models import HeldDelivery, PurchaseStatus, Ticket, TicketPurchase, WebhookDelivery, utcnow
from ..thrivecart.events import LIFECYCLE_EVENTS, ORDER_SUCCESS
from ..thrivecart.order import read_order
from . import ServiceError
from .attempts import Attempt
from .deliveries import TEST_PURCHASE, event_ids_of
from .held import claim_held, held_for_digest
from .integrations import find_event_ids_by_digest
from .provisioning import record_delivery, run_delivery
from .unlinked import deliveries_to_rerun

TEST_ACCOUNT = "test-purchase"


def replay(session, delivery_id, event_ids=None, *, user_id=None, now=None):
    """Apply a recorded delivery again, to ``event_ids`` or to every event it addressed.

    The one way to replay: the log's button, ``flask thrivecart replay`` and the inbox's
    re-run all come here. Idempotent like any delivery: a purchase granted already stays
    one purchase, an event counted already is not counted again.
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise ServiceError(f"No delivery has the id {delivery_id}.")
    if not delivery.replayable:
        raise ServiceError(f"Delivery {delivery_id}'s payload no longer holds its buyer, so "
                           "it cannot be replayed.")
    if event_ids is None:
        event_ids = event_ids_of(session, delivery_id)
    return run_delivery(Attempt(session, delivery_id, read_order(delivery.payload), event_ids,
                                now=now, user_id=user_id))


def replay_preview(session, delivery, event_id):
    """Say, before a replay, what it will do in the event (a replay is idempotent)."""
    if not delivery.replayable:
        return "Its payload no longer holds its buyer, so it cannot be replayed."
    if delivery.event_type != ORDER_SUCCESS:
        if delivery.event_type in LIFECYCLE_EVENTS:
            return ("It applies this event again. An event is counted once, so if it was "
                    "applied already nothing changes.")
        return (f"{delivery.event_type or 'This event'} is not acted on: a replay records it "
                "again and changes nothing.")
    statuses = set(session.scalars(
        select(TicketPurchase.status).join(Ticket, Ticket.id == TicketPurchase.ticket_id)
        .where(Ticket.event_id == event_id,
               TicketPurchase.thrivecart_order_id == delivery.order_id)))
    if statuses and not statuses & {PurchaseStatus.PAID, PurchaseStatus.PENDING}:
        named = " and ".join(sorted(status.replace("_", " ") for status in statuses))
        return (f"This order's purchases are {named}: a replay of its order.success changes "
                "nothing, since a success never grants an order again after that.")
    if statuses == {PurchaseStatus.PAID}:
        return ("This order's purchases are paid already: a replay changes nothing, except "
                "for items linked to a ticket since, which it grants.")
    return ("It applies the order again: each linked item the buyer does not hold yet is "
            "granted; nothing is granted twice.")


def rerun_unlinked(session, event_id, item_key, user_id=None, now=None):
    """Replay, to this event only, every delivery that left ``item_key`` unapplied; return
    the results, oldest delivery first."""
    return [replay(session, delivery_id, [event_id], user_id=user_id, now=now)
            for delivery_id in deliveries_to_rerun(session, event_id, item_key)]


def release_held(session, digest, now=None, user_id=None):
    """Process every held delivery the Secret Word with ``digest`` would have accepted.

    Each goes to every event whose integration now holds that Secret Word, exactly as the
    webhook would have sent it had the word been saved in time. Returns the results.
    """
    now = now or utcnow()
    event_ids = find_event_ids_by_digest(session.connection(), digest)
    results = []
    if not event_ids:
        return results
    for held in held_for_digest(session, digest, now):
        order, received_at, held_id = read_order(held.payload), held.received_at, held.id
        if not claim_held(session, held_id, now):
            continue  # released by a concurrent confirmation
        delivery_id = record_delivery(session.connection(), order, event_ids, source="held",
                                      now=received_at)
        session.execute(update(HeldDelivery).where(HeldDelivery.id == held_id)
                        .values(delivery_id=delivery_id)
                        .execution_options(synchronize_session=False))
        session.commit()
        results.append(run_delivery(Attempt(session, delivery_id, order, event_ids, now=now,
                                            user_id=user_id)))
    return results


def test_purchase_payload(ticket, buyer, now=None):
    """Build a realistic test-mode ``order.success`` of one ticket for ``buyer`` (a
    :class:`..thrivecart.customer.Buyer`), as ThriveCart would send it."""
    email, first_name, last_name = buyer.email, buyer.first_name, buyer.last_name
    if not ticket.links:
        raise ServiceError("Pick a ticket that has an External ID.", field="ticket_id")
    now = now or utcnow()
    key = ticket.external_ids[0]
    item_type, reference = key.split("-")
    prices = sorted(ticket.prices, key=lambda price: price.amount, reverse=True)
    amount, currency = (prices[0].amount, prices[0].currency) if prices else (
        0, ticket.event.currency)
    order_id = f"TEST-{secrets.token_hex(4).upper()}"
    stamp = str(int(now.timestamp()))
    return {
        "event": "order.success",
        "mode": "test",
        "mode_int": "1",
        "thrivecart_account": TEST_ACCOUNT,
        "base_product": reference,
        "base_product_name": ticket.name,
        "order_id": order_id,
        "invoice_id": order_id,
        "order_date": now.strftime("%Y-%m-%d %H:%M:%S"),
        "order_timestamp": stamp,
        "currency": currency,
        "customer": {
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "name": f"{first_name} {last_name}".strip() or " ",
        },
        "order": _test_order(order_id, ticket, (item_type, reference), amount, stamp),
        "purchases": [ticket.name],
        "purchase_map": [key],
        "purchase_map_flat": key,
    }


def _test_order(order_id, ticket, item, amount, stamp):
    """The ``order`` part of a test purchase: one charge of the ticket's External ID (``item``,
    its type and reference)."""
    item_type, reference = item
    return {
        "id": order_id,
        "invoice_id": order_id,
        "processor": "test",
        "total": str(amount),
        "date_unix": stamp,
        "charges": [{
            "name": ticket.name,
            "reference": reference,
            "item_type": item_type,
            "item_identifier": f"{item_type}_{reference}",
            "amount": str(amount),
            "type": "single",
            "quantity": "1",
        }],
    }


def send_test_purchase(session, ticket, buyer, *, now=None, user_id=None):
    """Run a made-up test-mode order of ``ticket`` for ``buyer`` through the real
    processing, in the ticket's event."""
    order = read_order(test_purchase_payload(ticket, buyer, now))
    delivery_id = record_delivery(session.connection(), order, [ticket.event_id],
                                  source=TEST_PURCHASE, now=now)
    session.commit()
    return run_delivery(Attempt(session, delivery_id, order, [ticket.event_id], now=now,
                                source=TEST_PURCHASE, user_id=user_id))
