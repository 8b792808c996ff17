"""Attendees of an event: listing, searching and exporting them."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, String, bindparam, case, cast, func, or_, select, type_coerce

from ..models import (
    Attendee,
    DeliveryOutcome,
    LifecycleEvent,
    LifecycleKind,
    PurchaseStatus,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    any_of,
    full_name,
    sql_constant,
    utc_text,
    utcnow,
)
from ..models.base import UTCDateTime
from ..sql.driver import DriverQuery
from ..sql.plans import of_event, written_limit
from .lifecycle import has_access, has_access_clause
from .money import amount_text
from .pagination import Page, page_of
from .search import narrowed, plan_for

CSV_HEADER = (
    "email", "first_name", "last_name", "country", "ticket", "external_id", "status", "access",
    "charged_amount", "charged_currency", "refunded_amount", "ticket_price", "ticket_currency",
    "source", "thrivecart_order_id", "test", "paid_at", "refunded_at", "access_ends_at",
    "affiliate", "coupon", "utm_source", "utm_medium", "utm_campaign",
)
# Lines a chunk of the export holds: about 130 KB.
CSV_CHUNK = 1000
# What a spreadsheet reads as the start of a formula in a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def purchase_access(purchase, now=None):
    """Tell whether a purchase (with its ticket loaded) gives access now."""
    return has_access(purchase.status, purchase.access_ends_at,
                      purchase.ticket.on_payment_failed, now or utcnow())


@dataclass(frozen=True, slots=True)
class ListedPurchase:
    """One purchase as the attendee list shows it, with its access worked out."""

    ticket: str
    status: PurchaseStatus
    test: bool
    access: bool
    access_ends_at: datetime | None
    amount: int
    currency: str
    order_id: str | None
    paid_at: datetime | None
    charged_amount: int | None = None
    charged_currency: str | None = None
    refunded: int = 0


def refunded_of(purchase):
    """What was refunded of a purchase's charge so far, in minor units of the charge's
    currency (refunds that named no currency count as in it), as a SQL scalar."""
    refund = LifecycleEvent
    return (
        select(func.coalesce(cast(func.sum(refund.amount), BigInteger), sql_constant(0)))
        .where(refund.event_id == Ticket.event_id,
               refund.order_id == purchase.thrivecart_order_id,
               refund.item_key == purchase.thrivecart_item_key,
               type_coerce(refund.kind, String) == sql_constant(LifecycleKind.REFUND.value),
               or_(refund.currency == purchase.charged_currency, refund.currency.is_(None)))
        .scalar_subquery()
    )


def refunded_amounts(session, purchases):
    """Return {purchase id: refunded so far} for the purchases (see :func:`refunded_of`)."""
    if not purchases:
        return {}
    return dict(session.execute(
        select(TicketPurchase.id, refunded_of(TicketPurchase))
        .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
        .where(TicketPurchase.id.in_([purchase.id for purchase in purchases]))).all())


@dataclass(frozen=True, slots=True)
class ListedAttendee:
    id: int
    email: str
    full_name: str
    purchases: list
    erased: bool = False


LISTED_PURCHASES = (
    select(TicketPurchase.attendee_id, Ticket.name, TicketPurchase.status, TicketPurchase.test,
           TicketPurchase.access_ends_at, Ticket.on_payment_failed, TicketPurchase.amount,
           TicketPurchase.currency, TicketPurchase.thrivecart_order_id, TicketPurchase.paid_at,
           TicketPurchase.charged_amount, TicketPurchase.charged_currency,
           refunded_of(TicketPurchase))
    .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
    .where(any_of(TicketPurchase.attendee_id, "attendee_ids"))
    .order_by(TicketPurchase.id)
)


@dataclass(frozen=True)
class AttendeeFilter:
    """Which attendees a list shows. ``query`` finds them by email, name or ThriveCart order
    id (:mod:`.search`); ``status`` keeps those holding a purchase in that status; ``before``
    is the keyset of the page (an attendee's id)."""

    query: str | None = None
    status: str | None = None
    before: int | None = None


def attendees_of(session, event_id, filters=AttendeeFilter(), *, per_page=50, now=None):
    """Return a page of the event's attendees (see :class:`AttendeeFilter`), newest first,
    with their purchases.

    Rows are read as plain columns, two statements a page, and each purchase's access is
    worked out at ``now``: a page of 50 attendees builds no ORM object.
    """
    query, status, before = filters.query, filters.status, filters.before
    statement = (
        select(Attendee.id, Attendee.email, Attendee.first_name, Attendee.last_name,
               Attendee.erased_at)
        .order_by(Attendee.event_id.desc(), Attendee.id.desc())
        .limit(written_limit(per_page + 1))
    )
    if status in PurchaseStatus.__members__.values():
        statement = statement.where(Attendee.purchases.any(TicketPurchase.status == status))
    # NUL can be neither stored nor searched for (PostgreSQL refuses it in text).
    query = (query or "").replace("\x00", "").strip()
    if query:
        statement = narrowed(statement, session, event_id, plan_for(query), before)
    else:
        statement = statement.where(of_event(Attendee.event_id, event_id))
        if before:
            statement = statement.where(Attendee.id < before)
    page = page_of(session.execute(statement), per_page, lambda row: row.id)
    now = now or utcnow()
    purchases = {row.id: [] for row in page.items}
    if purchases:
        for (attendee_id, ticket, state, test, ends, on_failed, *money) in session.execute(
                LISTED_PURCHASES, {"attendee_ids": list(purchases)}):
            purchases[attendee_id].append(ListedPurchase(
                ticket, state, test, has_access(state, ends, on_failed, now), ends, *money))
    attendees = [ListedAttendee(id_, email, full_name(first, last), purchases[id_],
                                erased_at is not None)
                 for id_, email, first, last, erased_at in page.items]
    return Page(attendees, page.next_before)


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
        if changes and changes[0].from_status is None:  # its creation is recorded (by hand)
            entries += [_entry(purchase, change) for change in changes]
            continue
        created_by = session.scalar(
            select(DeliveryOutcome.delivery_id).where(DeliveryOutcome.purchase_id == purchase.id)
            .order_by(DeliveryOutcome.id).limit(1))
        first = changes[0].from_status if changes and changes[0].from_status else purchase.status
        entries.append(HistoryEntry(purchase.id, purchase.ticket.name, purchase.created_at,
                                    None, first, created_by, None,
                                    "created" + (f" by order {purchase.thrivecart_order_id}"
                                                 if purchase.thrivecart_order_id else "")))
        entries += [_entry(purchase, change) for change in changes]
    return sorted(entries, key=lambda entry: (entry.at, entry.purchase_id))


def _entry(purchase, change):
    return HistoryEntry(purchase.id, purchase.ticket.name, change.changed_at,
                        change.from_status, change.to_status, change.delivery_id,
                        change.user.email if change.user else None, change.reason)


def deliveries_touching(session, attendee):
    """Return the deliveries whose outcomes touched the attendee, newest first."""
    return list(session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(
            select(DeliveryOutcome.delivery_id).where(DeliveryOutcome.attendee_id == attendee.id)
        ))
        .order_by(WebhookDelivery.id.desc())
    ))


def attendee_csv(session, event_id, chunk=CSV_CHUNK, now=None):
    """Yield the event's attendee CSV in chunks of ``chunk`` lines.

    One statement reads the whole export, and the database writes each line's cells
    (:data:`_CSV_LINES`): the driver's tuples go to the CSV writer as they are, with no Python
    between them. Its rows are streamed (see :class:`DriverQuery`), so memory stays flat
    however large the event, and on PostgreSQL the server reads the next lines while this
    writes the last. ``access`` is worked out at ``now`` (the moment of export).
    """
    lines = DriverQuery(session.connection(), _CSV_LINES)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for rows in lines.stream(chunk, event_id=event_id, now=now or utcnow()):
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # an event without attendees: the header alone
        yield buffer.getvalue()


def _guarded(text):
    """Text a spreadsheet would run as a formula, quoted with a leading apostrophe."""
    return case((func.substr(text, sql_constant(1), sql_constant(1))
                 .in_([sql_constant(c) for c in FORMULA_PREFIXES]),
                 sql_constant("'") + text), else_=text)


def _csv_lines():
    """The cells of the export's lines, in CSV_HEADER's order; NULL is an empty cell.

    An attendee without purchases is one line of their own cells; ``access`` is worked out
    at the bound ``now``.
    """
    purchase = TicketPurchase
    status = type_coerce(purchase.status, String)
    yes, no = sql_constant("yes"), sql_constant("no")
    charged = case((purchase.charged_currency != sql_constant(""),
                    amount_text(purchase.charged_amount, purchase.charged_currency)))
    same, unnamed = _refunds().alias("same"), _refunds().alias("unnamed")
    return (
        select(case((Attendee.erased_at.is_not(None), sql_constant("erased")),
                    else_=_guarded(Attendee.email)),
               _guarded(Attendee.first_name), _guarded(Attendee.last_name),
               _guarded(purchase.country), _guarded(Ticket.name), purchase.thrivecart_item_key,
               status,
               _access_cell(status), charged, purchase.charged_currency,
               _refunded_cell(same, unnamed),
               amount_text(purchase.amount, purchase.currency), purchase.currency,
               purchase.source, purchase.thrivecart_order_id,
               case((purchase.test, yes), (~purchase.test, no)),
               utc_text(purchase.paid_at), utc_text(purchase.refunded_at),
               utc_text(purchase.access_ends_at), _guarded(purchase.affiliate),
               _guarded(purchase.coupon), _guarded(purchase.utm_source),
               _guarded(purchase.utm_medium), _guarded(purchase.utm_campaign))
        # Flat outer joins: a purchase always has its ticket.
        .select_from(Attendee)
        .outerjoin(purchase, purchase.attendee_id == Attendee.id)
        .outerjoin(Ticket, Ticket.id == purchase.ticket_id)
        # The item's refunds in the charge's currency, and those that named no currency.
        .outerjoin(same, (same.c.order_id == purchase.thrivecart_order_id)
                   & (same.c.item_key == purchase.thrivecart_item_key)
                   & (same.c.currency == purchase.charged_currency))
        .outerjoin(unnamed, (unnamed.c.order_id == purchase.thrivecart_order_id)
                   & (unnamed.c.item_key == purchase.thrivecart_item_key)
                   & (unnamed.c.currency == sql_constant("")))
        .where(Attendee.event_id == bindparam("event_id"))
        .order_by(Attendee.id, purchase.id)
    )


def _access_cell(status):
    """``yes`` or ``no`` for a purchase, by :func:`.lifecycle.has_access` at the bound
    ``now``; empty without a purchase."""
    purchase = TicketPurchase
    return case((has_access_clause(status, purchase.access_ends_at,
                                   type_coerce(Ticket.on_payment_failed, String),
                                   bindparam("now", type_=UTCDateTime)), sql_constant("yes")),
                (purchase.id.is_not(None), sql_constant("no")))


def _refunded_cell(same, unnamed):
    """What was refunded of the charge, from the refunds in its currency (``same``) and
    those that named none (``unnamed``); empty when the charge is unknown."""
    purchase = TicketPurchase
    return case((purchase.charged_currency != sql_constant(""), amount_text(
        func.coalesce(same.c.total, sql_constant(0))
        + func.coalesce(unnamed.c.total, sql_constant(0)), purchase.charged_currency)))


def _refunds():
    """The event's refunds summed per order, item and currency ('' where none was named).

    Refunds are few beside purchases: the export joins these sums (a hash join) rather than
    looking each purchase's up, which cost a third of its time.
    """
    refund = LifecycleEvent
    currency = func.coalesce(refund.currency, sql_constant(""))
    return (
        # PostgreSQL sums bigints as numeric: cast back to a whole number of minor units.
        select(refund.order_id, refund.item_key, currency.label("currency"),
               cast(func.sum(refund.amount), BigInteger).label("total"))
        .where(refund.event_id == bindparam("event_id"),
               type_coerce(refund.kind, String) == sql_constant(LifecycleKind.REFUND.value))
        .group_by(refund.order_id, refund.item_key, currency)
        .subquery()
    )


_CSV_LINES = _csv_lines()
