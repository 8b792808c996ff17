"""Tickets, their External IDs and prices."""

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..models import (
    ActivityKind,
    OnCancel,
    OnPaymentFailed,
    Ticket,
    TicketPrice,
    TicketPurchase,
    TicketPurchaseCount,
    any_of,
)
from ..thrivecart.items import ItemIdProblem, read_external_id
from ..words import plural
from . import ServiceError, required_name
from .activity import record
from .money import normalize_currency, parse_amount


def normalize_external_id(value, item_type="product"):
    """Return the stored form of an External ID (None when empty), or raise ServiceError.

    ``value`` may be a key, a bare number (of ``item_type``) or a ThriveCart URL.
    """
    try:
        return read_external_id(value, item_type)
    except ItemIdProblem as problem:
        raise ServiceError(str(problem), field="external_id") from None


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


def _flush_ticket(session, ticket):
    """Flush a ticket's changes; an External ID another request took a moment ago (past
    the check above) is the same form error, not a server error. The caller rolls back."""
    external_id = ticket.external_id  # a failed flush leaves the ticket unreadable
    try:
        session.flush()
    except IntegrityError:
        raise ServiceError(
            f"{external_id} was given to another ticket a moment ago. Each ThriveCart "
            "item can unlock one ticket per event: check the tickets and save again.",
            field="external_id") from None


def _policies(on_payment_failed, on_cancel):
    try:
        return OnPaymentFailed(on_payment_failed), OnCancel(on_cancel)
    except ValueError:
        raise ServiceError("Choose one of the access policies offered.") from None


@dataclass(frozen=True)
class TicketFields:
    """What the ticket form edits. ``external_id`` is read with ``item_type`` (a bare number
    takes it as its prefix); a policy of None keeps the ticket's own."""

    name: str
    external_id: str | None = None
    active: bool = True
    on_payment_failed: str | None = None
    on_cancel: str | None = None
    item_type: str = "product"


def create_ticket(session, event, fields, prices=(), actor=None):
    """Create a ticket; ``prices`` are (amount text, currency) pairs."""
    name = required_name(fields.name, "ticket")
    external_id = normalize_external_id(fields.external_id, fields.item_type)
    _check_external_id_free(session, event.id, external_id)
    on_payment_failed, on_cancel = _policies(fields.on_payment_failed or OnPaymentFailed.KEEP,
                                             fields.on_cancel or OnCancel.KEEP)
    ticket = Ticket(event_id=event.id, name=name, external_id=external_id, active=fields.active,
                    on_payment_failed=on_payment_failed, on_cancel=on_cancel)
    session.add(ticket)
    _flush_ticket(session, ticket)
    for amount, currency in prices:
        add_price(session, ticket, amount, currency or event.currency)
    record(session, event.id, actor, ActivityKind.TICKET_CREATED,
           f"“{name}”" + (f", External ID {external_id}" if external_id else ""))
    return ticket


def update_ticket(session, ticket, fields, actor=None):
    """Change a ticket's name, External ID, availability and access policies."""
    name = required_name(fields.name, "ticket")
    external_id = normalize_external_id(fields.external_id, fields.item_type)
    _check_external_id_free(session, ticket.event_id, external_id, ticket.id)
    policies = _policies(fields.on_payment_failed or ticket.on_payment_failed,
                         fields.on_cancel or ticket.on_cancel)
    before = _described(ticket)
    ticket.on_payment_failed, ticket.on_cancel = policies
    ticket.name, ticket.external_id, ticket.active = name, external_id, fields.active
    _flush_ticket(session, ticket)
    _record_change(session, ticket, before, actor)
    return ticket


def _described(ticket):
    return {"name": ticket.name, "External ID": ticket.external_id or "none",
            "active": "yes" if ticket.active else "no",
            "on payment failed": str(ticket.on_payment_failed),
            "on cancel": str(ticket.on_cancel)}


def _record_change(session, ticket, before, actor):
    after = _described(ticket)
    changes = [f"{what}: {before[what]} → {after[what]}" for what in after
               if before[what] != after[what]]
    if changes:
        record(session, ticket.event_id, actor, ActivityKind.TICKET_CHANGED,
               f"“{ticket.name}”: " + "; ".join(changes))


def purchase_count(session, ticket):
    return session.scalar(select(func.count(TicketPurchase.id))
                          .where(TicketPurchase.ticket_id == ticket.id))


def delete_ticket(session, ticket, actor=None):
    """Delete a ticket nobody has bought; one with purchases can be deactivated instead."""
    bought = purchase_count(session, ticket)
    if bought:
        raise ServiceError(
            f"“{ticket.name}” has {plural(bought, 'purchase')}, so it stays: "
            "deactivate it instead (untick Active) to stop ThriveCart orders granting it.")
    record(session, ticket.event_id, actor, ActivityKind.TICKET_DELETED,
           f"“{ticket.name}”" + (f", External ID {ticket.external_id}"
                                 if ticket.external_id else ""))
    session.delete(ticket)
    session.flush()


def link_ticket(session, ticket, external_id, actor=None):
    """Give a ticket the External ID of an item ThriveCart sent (as the ticket form would)."""
    external_id = normalize_external_id(external_id)
    if external_id is None:
        raise ServiceError("Choose the item to link.", field="external_id")
    _check_external_id_free(session, ticket.event_id, external_id, ticket.id)
    before = _described(ticket)
    ticket.external_id = external_id
    _flush_ticket(session, ticket)
    _record_change(session, ticket, before, actor)
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
    tickets = list(session.scalars(_TICKETS_OF, {"event_id": event_id}).unique())
    counts = dict(session.execute(
        _PURCHASE_COUNTS, {"ticket_ids": [ticket.id for ticket in tickets]}
    ).all()) if tickets else {}
    return [(ticket, counts.get(ticket.id, 0)) for ticket in tickets]


# The tickets page's statements, built once. An event has a handful of tickets with a price
# or two each: joined, they come in one statement.
_TICKETS_OF = (select(Ticket).where(Ticket.event_id == bindparam("event_id"))
               .options(joinedload(Ticket.prices)).order_by(Ticket.id))
# The counts the database keeps (TicketPurchaseCount): a few rows a ticket, however many
# purchases it has.
_PURCHASE_COUNTS = (
    select(TicketPurchaseCount.ticket_id, func.sum(TicketPurchaseCount.purchases))
    .where(any_of(TicketPurchaseCount.ticket_id, "ticket_ids"))
    .group_by(TicketPurchaseCount.ticket_id)
)


def linked_tickets(session, event_id):
    """Return the event's tickets that have an External ID (their prices load when read:
    the pages that list them show none)."""
    return list(session.scalars(_LINKED_TICKETS, {"event_id": event_id}))


_LINKED_TICKETS = (select(Ticket)
                   .where(Ticket.event_id == bindparam("event_id"), Ticket.external_id.is_not(None))
                   .order_by(Ticket.id))
