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
    TicketExternalId,
    TicketPrice,
    TicketPurchase,
    TicketPurchaseCount,
    any_of,
)
from ..thrivecart.items import ItemIdProblem, read_external_id
from ..words import plural
from . import ServiceError, required_name
from .activity import record
from .money import format_amount, money_text, normalize_currency, parse_amount


def normalize_external_id(value, item_type="product"):
    """Return the stored form of one External ID (None when empty), or raise ServiceError.

    ``value`` may be a key, a bare number (of ``item_type``) or a ThriveCart URL.
    """
    try:
        return read_external_id(value, item_type)
    except ItemIdProblem as problem:
        raise ServiceError(str(problem), field="external_id") from None


def normalize_external_ids(value, item_type="product"):
    """Return the keys typed into External ID (several, comma-separated), each once, in the
    order typed; raise ServiceError naming the one that cannot be read."""
    keys = []
    for part in (value or "").split(","):
        key = normalize_external_id(part, item_type)
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def _check_external_ids_free(session, event_id, keys, ticket_id=None):
    if not keys:
        return
    for key, holder_id, holder in session.execute(
        select(TicketExternalId.key, Ticket.id, Ticket.name)
        .join(Ticket, Ticket.id == TicketExternalId.ticket_id)
        .where(TicketExternalId.event_id == event_id, TicketExternalId.key.in_(keys))
        .order_by(TicketExternalId.id)
    ):
        if holder_id != ticket_id:
            raise ServiceError(
                f"{key} is already an External ID of the ticket “{holder}”. Each ThriveCart "
                "item can unlock one ticket per event: remove it there first, or leave it out "
                "here.",
                field="external_id",
            )


def _set_external_ids(ticket, keys):
    """Make the ticket's External IDs exactly ``keys``, keeping the rows of those it holds."""
    for link in [link for link in ticket.links if link.key not in keys]:
        ticket.links.remove(link)
    held = set(ticket.external_ids)
    ticket.links.extend(TicketExternalId(event_id=ticket.event_id, key=key)
                        for key in keys if key not in held)


def _flush_ticket(session, ticket):
    """Flush a ticket's changes; an External ID another request took a moment ago (past
    the check above) is the same form error, not a server error. The caller rolls back."""
    keys = ticket.external_ids_text  # a failed flush leaves the ticket unreadable
    try:
        session.flush()
    except IntegrityError:
        raise ServiceError(
            f"{keys} was given to another ticket a moment ago. Each ThriveCart item can "
            "unlock one ticket per event: check the tickets and save again.",
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
    keys = normalize_external_ids(fields.external_id, fields.item_type)
    _check_external_ids_free(session, event.id, keys)
    on_payment_failed, on_cancel = _policies(fields.on_payment_failed or OnPaymentFailed.KEEP,
                                             fields.on_cancel or OnCancel.KEEP)
    ticket = Ticket(event_id=event.id, name=name, active=fields.active,
                    on_payment_failed=on_payment_failed, on_cancel=on_cancel)
    _set_external_ids(ticket, keys)
    session.add(ticket)
    _flush_ticket(session, ticket)
    for amount, currency in prices:
        _add_price(session, ticket, amount, currency or event.currency)
    record(session, event.id, actor, ActivityKind.TICKET_CREATED,
           f"“{name}”" + (f", External ID {', '.join(keys)}" if keys else ""))
    return ticket


def update_ticket(session, ticket, fields, actor=None):
    """Change a ticket's name, External ID, availability and access policies."""
    name = required_name(fields.name, "ticket")
    keys = normalize_external_ids(fields.external_id, fields.item_type)
    _check_external_ids_free(session, ticket.event_id, keys, ticket.id)
    policies = _policies(fields.on_payment_failed or ticket.on_payment_failed,
                         fields.on_cancel or ticket.on_cancel)
    before = _described(ticket)
    ticket.on_payment_failed, ticket.on_cancel = policies
    ticket.name, ticket.active = name, fields.active
    _set_external_ids(ticket, keys)
    _flush_ticket(session, ticket)
    _record_change(session, ticket, before, actor)
    return ticket


def _described(ticket):
    return {"name": ticket.name, "External ID": ticket.external_ids_text or "none",
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
           f"“{ticket.name}”" + (f", External ID {ticket.external_ids_text}"
                                 if ticket.links else ""))
    session.delete(ticket)
    session.flush()


def link_ticket(session, ticket, external_id, actor=None):
    """Add the External ID of an item ThriveCart sent to a ticket's own (never replacing
    one it holds), as the ticket form would."""
    key = normalize_external_id(external_id)
    if key is None:
        raise ServiceError("Choose the item to link.", field="external_id")
    if key in ticket.external_ids:
        return ticket
    _check_external_ids_free(session, ticket.event_id, [key], ticket.id)
    before = _described(ticket)
    _set_external_ids(ticket, [*ticket.external_ids, key])
    _flush_ticket(session, ticket)
    _record_change(session, ticket, before, actor)
    return ticket


def create_ticket_for_item(session, event, key, name=None, order=None, actor=None):
    """Create a ticket for an item ThriveCart sent: its ThriveCart name (else the key), the
    key as External ID and, when ``order`` (the latest that carried it) says, the price it
    was charged at."""
    charged = order.charged.get(key) if order is not None else None
    prices = ([(format_amount(charged, order.currency), order.currency)]
              if charged is not None and order.currency else [])
    return create_ticket(session, event, TicketFields((name or key)[:200], key), prices,
                         actor=actor)


def add_price(session, ticket, amount, currency, actor=None):
    """Add a price typed as ``97.00`` in ``currency`` to the ticket; audited."""
    price = _add_price(session, ticket, amount, currency)
    record(session, ticket.event_id, actor, ActivityKind.PRICE_ADDED,
           f"“{ticket.name}”: {money_text(price.amount, price.currency)}")
    return price


def _add_price(session, ticket, amount, currency):
    currency = normalize_currency(currency)
    price = TicketPrice(ticket_id=ticket.id, amount=parse_amount(amount, currency),
                        currency=currency)
    session.add(price)
    session.flush()
    return price


def remove_price(session, ticket, price_id, actor=None):
    """Remove one of the ticket's prices; audited."""
    price = session.get(TicketPrice, price_id)
    if price is None or price.ticket_id != ticket.id:
        raise ServiceError("That price is not on this ticket.")
    record(session, ticket.event_id, actor, ActivityKind.PRICE_REMOVED,
           f"“{ticket.name}”: {money_text(price.amount, price.currency)}")
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
               .options(joinedload(Ticket.prices), joinedload(Ticket.links))
               .order_by(Ticket.id))
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
    return list(session.scalars(_LINKED_TICKETS, {"event_id": event_id}).unique())


_LINKED_TICKETS = (select(Ticket)
                   .where(Ticket.event_id == bindparam("event_id"),
                          Ticket.links.any())
                   .options(joinedload(Ticket.links))
                   .order_by(Ticket.id))


def setup_warnings(linked):
    """Return what the ThriveCart page should warn the organiser about, given the event's
    linked tickets (:func:`linked_tickets`)."""
    inactive = sorted(ticket.name for ticket in linked if not ticket.active)
    if not inactive:
        return []
    return ["Linked but inactive, so ThriveCart orders for them are ignored: "
            + ", ".join(f"“{name}”" for name in inactive) + "."]
