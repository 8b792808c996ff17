"""Tickets, their External IDs and prices."""

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..models import OnCancel, OnPaymentFailed, Ticket, TicketPrice, TicketPurchase
from ..thrivecart.items import ACCEPTED_FORMATS, normalize_item_key
from . import ServiceError
from .money import normalize_currency, parse_amount


def normalize_external_id(value):
    """Return the stored form of an External ID (None when empty), or raise ServiceError."""
    if value is None or not value.strip():
        return None
    key = normalize_item_key(value)
    if key is None:
        raise ServiceError(
            f"“{value.strip()}” is not a ThriveCart item id. Use {ACCEPTED_FORMATS}: "
            "the item type and the number at the end of the item's ThriveCart URL.",
            field="external_id",
        )
    return key


def _check_external_id_free(session, event_id, external_id, ticket_id=None):
    if external_id is None:
        return
    holder = session.scalar(
        select(Ticket).where(Ticket.event_id == event_id, Ticket.external_id == external_id)
    )
    if holder is not None and holder.id != ticket_id:
        raise ServiceError(
            f"{external_id} is already the External ID of the ticket “{holder.name}”. "
            "Each ThriveCart item can unlock one ticket per event.",
            field="external_id",
        )


def _policies(on_payment_failed, on_cancel):
    try:
        return OnPaymentFailed(on_payment_failed), OnCancel(on_cancel)
    except ValueError:
        raise ServiceError("Choose one of the access policies offered.") from None


def create_ticket(session, event, name, external_id=None, active=True, prices=(),
                  on_payment_failed=OnPaymentFailed.KEEP, on_cancel=OnCancel.KEEP):
    """Create a ticket; ``prices`` are (amount text, currency) pairs."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the ticket a name.", field="name")
    external_id = normalize_external_id(external_id)
    _check_external_id_free(session, event.id, external_id)
    on_payment_failed, on_cancel = _policies(on_payment_failed, on_cancel)
    ticket = Ticket(event_id=event.id, name=name[:200], external_id=external_id, active=active,
                    on_payment_failed=on_payment_failed, on_cancel=on_cancel)
    session.add(ticket)
    session.flush()
    for amount, currency in prices:
        add_price(session, ticket, amount, currency or event.currency)
    return ticket


def update_ticket(session, ticket, name, external_id, active, on_payment_failed=None,
                  on_cancel=None):
    """Change a ticket's name, External ID, availability and access policies."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the ticket a name.", field="name")
    external_id = normalize_external_id(external_id)
    _check_external_id_free(session, ticket.event_id, external_id, ticket.id)
    ticket.on_payment_failed, ticket.on_cancel = _policies(
        on_payment_failed or ticket.on_payment_failed, on_cancel or ticket.on_cancel)
    ticket.name = name[:200]
    ticket.external_id = external_id
    ticket.active = active
    session.flush()
    return ticket


def link_ticket(session, ticket, external_id):
    """Give a ticket the External ID of an item ThriveCart sent (as the ticket form would)."""
    external_id = normalize_external_id(external_id)
    if external_id is None:
        raise ServiceError("Choose the item to link.", field="external_id")
    _check_external_id_free(session, ticket.event_id, external_id, ticket.id)
    ticket.external_id = external_id
    session.flush()
    return ticket


def add_price(session, ticket, amount, currency):
    """Add a price typed as ``97.00`` in ``currency`` to the ticket."""
    currency = normalize_currency(currency)
    price = TicketPrice(ticket_id=ticket.id, amount=parse_amount(amount, currency),
                        currency=currency)
    session.add(price)
    session.flush()
    return price


def remove_price(session, ticket, price_id):
    """Remove one of the ticket's prices."""
    price = session.get(TicketPrice, price_id)
    if price is None or price.ticket_id != ticket.id:
        raise ServiceError("That price is not on this ticket.")
    session.delete(price)
    session.flush()


def tickets_of(session, event_id):
    """Return (ticket, purchase count) pairs for the event, prices loaded."""
    tickets = list(session.scalars(
        select(Ticket)
        .where(Ticket.event_id == event_id)
        .options(selectinload(Ticket.prices))
        .order_by(Ticket.id)
    ))
    # One grouped pass over these tickets' purchases (a per-ticket subquery let the planner
    # scan every purchase once per ticket).
    counts = dict(session.execute(
        select(TicketPurchase.ticket_id, func.count())
        .where(TicketPurchase.ticket_id.in_([ticket.id for ticket in tickets]))
        .group_by(TicketPurchase.ticket_id)
    ).all()) if tickets else {}
    return [(ticket, counts.get(ticket.id, 0)) for ticket in tickets]


def linked_tickets(session, event_id):
    """Return the event's tickets that have an External ID, prices loaded."""
    return list(session.scalars(
        select(Ticket)
        .where(Ticket.event_id == event_id, Ticket.external_id.is_not(None))
        .options(selectinload(Ticket.prices))
        .order_by(Ticket.id)
    ))
