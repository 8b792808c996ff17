"""Attendees of an event: listing, searching and exporting them."""

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..models import (
    Attendee,
    DeliveryOutcome,
    PurchaseStatus,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    utcnow,
)
from .lifecycle import has_access
from .money import format_amount
from .pagination import page_of

CSV_HEADER = (
    "email", "first_name", "last_name", "ticket", "external_id", "status", "access", "amount",
    "currency", "charged_amount", "charged_currency", "source", "thrivecart_order_id", "test",
    "paid_at", "refunded_at", "access_ends_at",
)
CSV_BATCH = 1000


def purchase_access(purchase, now=None):
    """Tell whether a purchase (with its ticket loaded) gives access now."""
    return has_access(purchase.status, purchase.access_ends_at,
                      purchase.ticket.on_payment_failed, now or utcnow())


def attendees_of(session, event_id, *, query=None, status=None, before=None, per_page=50):
    """Return a page of the event's attendees, newest first, with their purchases.

    ``status`` keeps the attendees holding a purchase in that status.
    """
    statement = (
        select(Attendee)
        .where(Attendee.event_id == event_id)
        .options(selectinload(Attendee.purchases).joinedload(TicketPurchase.ticket))
        .order_by(Attendee.id.desc())
        .limit(per_page + 1)
    )
    if status in PurchaseStatus.__members__.values():
        statement = statement.where(Attendee.purchases.any(TicketPurchase.status == status))
    if query:
        statement = statement.where(Attendee.email.contains(query.strip().lower(),
                                                            autoescape=True))
    if before:
        statement = statement.where(Attendee.id < before)
    return page_of(session.scalars(statement), per_page, lambda attendee: attendee.id)


@dataclass(frozen=True)
class HistoryEntry:
    purchase_id: int
    ticket: str
    at: object
    from_status: str | None
    to_status: str
    delivery_id: int | None
    who: str | None
    reason: str


def purchase_history(session, attendee):
    """Return every status change of the attendee's purchases, oldest first.

    A purchase's creation is the first entry: it started in the status its first change
    left (or holds now, if it never changed), caused by the first delivery that touched it.
    """
    entries = []
    for purchase in attendee.purchases:
        changes = list(purchase.changes)
        created_by = session.scalar(
            select(DeliveryOutcome.delivery_id).where(DeliveryOutcome.purchase_id == purchase.id)
            .order_by(DeliveryOutcome.id).limit(1))
        first = changes[0].from_status if changes and changes[0].from_status else purchase.status
        entries.append(HistoryEntry(purchase.id, purchase.ticket.name, purchase.created_at,
                                    None, first, created_by, None,
                                    "created" + (f" by order {purchase.thrivecart_order_id}"
                                                 if purchase.thrivecart_order_id else "")))
        for change in changes:
            entries.append(HistoryEntry(purchase.id, purchase.ticket.name, change.changed_at,
                                        change.from_status, change.to_status, change.delivery_id,
                                        change.user.email if change.user else None,
                                        change.reason))
    return sorted(entries, key=lambda entry: (entry.at, entry.purchase_id))


def deliveries_touching(session, attendee):
    """Return the deliveries whose outcomes touched the attendee, newest first."""
    return list(session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(
            select(DeliveryOutcome.delivery_id).where(DeliveryOutcome.attendee_id == attendee.id)
        ))
        .order_by(WebhookDelivery.id.desc())
    ))


def attendee_csv(session, event_id, batch=CSV_BATCH, now=None):
    """Yield the event's attendee CSV in chunks, a batch of attendees at a time.

    Batches are read by keyset (attendee id), so memory stays flat however large the event.
    ``access`` is worked out at ``now`` (the moment of export).
    """
    now = now or utcnow()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    last_id = 0
    while True:
        attendees = session.execute(
            select(Attendee.id, Attendee.email, Attendee.first_name, Attendee.last_name)
            .where(Attendee.event_id == event_id, Attendee.id > last_id)
            .order_by(Attendee.id)
            .limit(batch)
        ).all()
        if not attendees:
            break
        purchases = {}
        for row in session.execute(
            select(TicketPurchase.attendee_id, Ticket.name, Ticket.external_id,
                   Ticket.on_payment_failed, TicketPurchase.status, TicketPurchase.amount,
                   TicketPurchase.currency, TicketPurchase.charged_amount,
                   TicketPurchase.charged_currency, TicketPurchase.source,
                   TicketPurchase.thrivecart_order_id, TicketPurchase.test,
                   TicketPurchase.paid_at, TicketPurchase.refunded_at,
                   TicketPurchase.access_ends_at)
            .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
            .where(TicketPurchase.attendee_id.between(attendees[0].id, attendees[-1].id),
                   Ticket.event_id == event_id)
            .order_by(TicketPurchase.attendee_id, TicketPurchase.id)
        ):
            purchases.setdefault(row.attendee_id, []).append(row)
        for attendee in attendees:
            person = (_cell(attendee.email), _cell(attendee.first_name),
                      _cell(attendee.last_name))
            rows = purchases.get(attendee.id)
            if not rows:
                writer.writerow(person + ("",) * (len(CSV_HEADER) - 3))
            for row in rows or ():
                access = has_access(row.status, row.access_ends_at, row.on_payment_failed, now)
                charged_currency = row.charged_currency or ""
                writer.writerow(person + (
                    _cell(row.name), row.external_id or "", row.status.value,
                    "yes" if access else "no",
                    format_amount(row.amount, row.currency), row.currency,
                    "" if row.charged_amount is None or not charged_currency
                    else format_amount(row.charged_amount, charged_currency),
                    charged_currency, row.source, row.thrivecart_order_id or "",
                    "yes" if row.test else "no", _timestamp(row.paid_at),
                    _timestamp(row.refunded_at), _timestamp(row.access_ends_at),
                ))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        last_id = attendees[-1].id
    if buffer.tell():
        yield buffer.getvalue()


def _timestamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _cell(text):
    """Keep a spreadsheet from running buyer-supplied text as a formula."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text or ""
