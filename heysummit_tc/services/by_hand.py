"""What an organiser changes by hand: an attendee's name and email, a ticket granted (source
``manual``) or revoked, and the test orders deleted before launch. Each is in the activity
log; grants and revocations are also in the purchase's history."""

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select

from ..models import (
    ActivityKind,
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    LifecycleEvent,
    PurchaseChange,
    PurchaseStatus,
    ThriveCartOrder,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    full_name,
    utcnow,
)
from . import ServiceError
from .activity import record
from .attendees import purchase_access
from .grants import choose_price

MANUAL = "manual"


def edit_attendee(session, attendee, first_name, last_name, email, actor=None):
    """Change an attendee's name and email (another attendee of the event may not have it)."""
    if attendee.erased_at is not None:
        raise ServiceError("This buyer's personal data was erased: there is nothing to edit.")
    first_name, last_name = (first_name or "").strip()[:200], (last_name or "").strip()[:200]
    try:
        email = validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ServiceError("Enter the buyer's email address, such as ada@example.com.",
                           field="email") from None
    email = email.lower()
    taken = session.scalar(select(Attendee.id).where(
        Attendee.event_id == attendee.event_id, Attendee.email == email,
        Attendee.id != attendee.id))
    if taken is not None:
        raise ServiceError(f"Another attendee of this event has {email}: open them, or merge "
                           "the two from the delivery that needs attention.", field="email")
    changes = [f"{what}: {before or '—'} → {after or '—'}" for what, before, after in (
        ("name", full_name(attendee.first_name, attendee.last_name),
         full_name(first_name, last_name)), ("email", attendee.email, email)) if before != after]
    attendee.first_name, attendee.last_name, attendee.email = first_name, last_name, email
    session.flush()
    if changes:
        record(session, attendee.event_id, actor, ActivityKind.ATTENDEE_EDITED,
               f"{email}: " + "; ".join(changes))
    return changes


def grant_ticket(session, attendee, ticket, actor=None, now=None):
    """Give an attendee a ticket by hand: a paid purchase of source ``manual`` at the
    ticket's list price (the event's currency), unless one of theirs gives access already."""
    if not ticket.active:
        raise ServiceError(f"“{ticket.name}” is inactive: reactivate it under Revenue › "
                           "Tickets to grant it.", field="ticket_id")
    now = now or utcnow()
    held = [purchase for purchase in attendee.purchases if purchase.ticket_id == ticket.id]
    if any(purchase_access(purchase, now) for purchase in held):
        raise ServiceError(f"{attendee.email} already has access to “{ticket.name}”.",
                           field="ticket_id")
    amount, currency = choose_price([(price.amount, price.currency) for price in ticket.prices],
                                    ticket.event.currency, ticket.event.currency)
    purchase = TicketPurchase(attendee_id=attendee.id, ticket_id=ticket.id,
                              status=PurchaseStatus.PAID, amount=amount, currency=currency,
                              source=MANUAL, paid_at=now, created_at=now, updated_at=now)
    session.add(purchase)
    session.flush()
    _history(session, purchase, None, PurchaseStatus.PAID, actor, now, "granted by hand")
    record(session, attendee.event_id, actor, ActivityKind.TICKET_GRANTED,
           f"“{ticket.name}” to {attendee.email}")
    return purchase


def revoke_purchase(session, purchase, actor=None, now=None):
    """End a purchase's access by hand now (its history and money stay)."""
    now = now or utcnow()
    if not purchase_access(purchase, now):
        raise ServiceError("This purchase gives no access already.")
    before = purchase.status
    purchase.status, purchase.access_ends_at = PurchaseStatus.ENDED, now
    session.flush()
    _history(session, purchase, before, PurchaseStatus.ENDED, actor, now, "revoked by hand")
    record(session, purchase.attendee.event_id, actor, ActivityKind.TICKET_REVOKED,
           f"“{purchase.ticket.name}” of {purchase.attendee.email}")


def _history(session, purchase, before, after, actor, now, reason):
    session.add(PurchaseChange(purchase_id=purchase.id, changed_at=now, from_status=before,
                               to_status=after, user_id=actor.id if actor else None,
                               reason=reason))
    session.flush()


@dataclass(frozen=True)
class TestOrders:
    """What deleting the event's test orders removes: the counts the confirmation shows."""

    purchases: int
    deliveries: int
    attendees: int


def test_orders(session, event_id):
    """Count the event's test-mode purchases, the deliveries that brought them, and the
    attendees who hold nothing else."""
    return TestOrders(
        session.scalar(select(func.count()).select_from(_test_purchases(event_id).subquery())),
        session.scalar(select(func.count()).select_from(_test_deliveries(event_id).subquery())),
        session.scalar(select(func.count()).select_from(_only_test(event_id).subquery())))


def delete_test_orders(session, event_id, actor=None):
    """Delete the event's test orders: their purchases (and history), the deliveries that
    brought them here (a delivery another event shares stays there), the events kept for
    them, and the attendees who then hold nothing. Return what it counted first."""
    counted = test_orders(session, event_id)
    attendees = list(session.scalars(_only_test(event_id)))
    deliveries = list(session.scalars(_test_deliveries(event_id)))
    order_ids = list(session.scalars(select(TicketPurchase.thrivecart_order_id).distinct()
                                     .where(TicketPurchase.id.in_(_test_purchases(event_id)),
                                            TicketPurchase.thrivecart_order_id.is_not(None))))
    session.execute(delete(TicketPurchase).where(
        TicketPurchase.id.in_(_test_purchases(event_id).scalar_subquery())))
    for model in (DeliveryOutcome, DeliveryEvent):
        session.execute(delete(model).where(model.event_id == event_id,
                                            model.delivery_id.in_(deliveries)))
    session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.id.in_(deliveries),
        ~select(DeliveryEvent.event_id).where(
            DeliveryEvent.delivery_id == WebhookDelivery.id).exists()))
    for model in (LifecycleEvent, ThriveCartOrder):
        session.execute(delete(model).where(model.event_id == event_id,
                                            model.order_id.in_(order_ids)))
    session.execute(delete(Attendee).where(Attendee.id.in_(attendees)))
    session.flush()
    record(session, event_id, actor, ActivityKind.TEST_ORDERS_DELETED,
           f"{counted.purchases} purchases, {counted.deliveries} deliveries, "
           f"{counted.attendees} attendees")
    return counted


def _test_purchases(event_id):
    return (select(TicketPurchase.id).join(Ticket, Ticket.id == TicketPurchase.ticket_id)
            .where(Ticket.event_id == event_id, TicketPurchase.test.is_(True)))


def _test_deliveries(event_id):
    return (select(DeliveryEvent.delivery_id)
            .join(WebhookDelivery, WebhookDelivery.id == DeliveryEvent.delivery_id)
            .where(DeliveryEvent.event_id == event_id, WebhookDelivery.test.is_(True)))


def _only_test(event_id):
    """Attendees with a test purchase and no other."""
    live = (select(TicketPurchase.id).where(TicketPurchase.attendee_id == Attendee.id,
                                            TicketPurchase.test.is_(False)).exists())
    some_test = (select(TicketPurchase.id).where(TicketPurchase.attendee_id == Attendee.id,
                                                 TicketPurchase.test.is_(True)).exists())
    return select(Attendee.id).where(Attendee.event_id == event_id, some_test, ~live)
