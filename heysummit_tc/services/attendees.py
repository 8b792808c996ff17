"""Attendees of an event: listing, searching and exporting them."""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, bindparam, select, type_coerce

from ..models import (
    Attendee,
    DeliveryOutcome,
    PurchaseStatus,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    full_name,
    utc_text,
    utcnow,
)
from .lifecycle import has_access
from .money import format_amount
from .pagination import Page, page_of

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


@dataclass(frozen=True, slots=True)
class ListedAttendee:
    id: int
    email: str
    full_name: str
    purchases: list


LISTED_PURCHASES = (
    select(TicketPurchase.attendee_id, Ticket.name, TicketPurchase.status, TicketPurchase.test,
           TicketPurchase.access_ends_at, Ticket.on_payment_failed, TicketPurchase.amount,
           TicketPurchase.currency, TicketPurchase.thrivecart_order_id, TicketPurchase.paid_at)
    .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
    .where(TicketPurchase.attendee_id.in_(bindparam("attendee_ids", expanding=True)))
    .order_by(TicketPurchase.id)
)


def attendees_of(session, event_id, *, query=None, status=None, before=None, per_page=50,
                 now=None):
    """Return a page of the event's attendees, newest first, with their purchases.

    ``status`` keeps the attendees holding a purchase in that status. Rows are read as plain
    columns, two statements a page, and each purchase's access is worked out at ``now``: a
    page of 50 attendees builds no ORM object.
    """
    statement = (
        select(Attendee.id, Attendee.email, Attendee.first_name, Attendee.last_name)
        .where(Attendee.event_id == event_id)
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
    page = page_of(session.execute(statement), per_page, lambda row: row.id)
    now = now or utcnow()
    purchases = {row.id: [] for row in page.items}
    if purchases:
        for (attendee_id, ticket, state, test, ends, on_failed, amount, currency, order_id,
             paid_at) in session.execute(LISTED_PURCHASES, {"attendee_ids": list(purchases)}):
            purchases[attendee_id].append(ListedPurchase(
                ticket, state, test, has_access(state, ends, on_failed, now), ends, amount,
                currency, order_id, paid_at))
    attendees = [ListedAttendee(id_, email, full_name(first, last), purchases[id_])
                 for id_, email, first, last in page.items]
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
    ``access`` is worked out at ``now`` (the moment of export). Rows come as plain tuples
    with the timestamps already text and the statuses as their stored values, so that no
    column of 200,000 rows is converted to an object only to be written out again, and they
    are the driver's own tuples (see :class:`_DriverQuery`); each amount is formatted once.
    """
    now = now or utcnow()
    amounts = _Memo(format_amount)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    no_purchase = ("",) * (len(CSV_HEADER) - 3)
    # Built once, run per batch. access_ends_at comes raw, with no processor: a processor
    # on any column costs every row, and only cancelled purchases read it (see _moment).
    attendees_after = (
        select(Attendee.id, Attendee.email, Attendee.first_name, Attendee.last_name)
        .where(Attendee.event_id == event_id, Attendee.id > bindparam("last_id"))
        .order_by(Attendee.id)
        .limit(batch)
    )
    purchases_between = (
        select(TicketPurchase.attendee_id, Ticket.name, Ticket.external_id,
               type_coerce(Ticket.on_payment_failed, String),
               type_coerce(TicketPurchase.status, String), TicketPurchase.amount,
               TicketPurchase.currency, TicketPurchase.charged_amount,
               TicketPurchase.charged_currency, TicketPurchase.source,
               TicketPurchase.thrivecart_order_id, TicketPurchase.test,
               utc_text(TicketPurchase.paid_at), utc_text(TicketPurchase.refunded_at),
               utc_text(TicketPurchase.access_ends_at),
               type_coerce(TicketPurchase.access_ends_at, String))
        .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
        .where(Ticket.event_id == event_id,
               TicketPurchase.attendee_id.between(bindparam("first"), bindparam("last")))
        .order_by(TicketPurchase.attendee_id, TicketPurchase.id)
    )
    last_id = 0
    connection = session.connection()
    read_attendees = _DriverQuery(connection, attendees_after)
    read_purchases = _DriverQuery(connection, purchases_between)
    while True:
        attendees = read_attendees(last_id=last_id)
        if not attendees:
            break
        purchases = {}
        for attendee_id, *purchase in read_purchases(first=attendees[0][0],
                                                     last=attendees[-1][0]):
            purchases.setdefault(attendee_id, []).append(purchase)
        rows = []
        for attendee_id, email, first_name, last_name in attendees:
            person = (_cell(email), _cell(first_name), _cell(last_name))
            held = purchases.get(attendee_id)
            if not held:
                rows.append(person + no_purchase)
                continue
            for (name, external_id, on_payment_failed, status, amount, currency,
                 charged_amount, charged_currency, source, order_id, test, paid_at,
                 refunded_at, access_ends, access_ends_at) in held:
                access = has_access(status, access_ends_at and _moment(access_ends_at),
                                    on_payment_failed, now)
                rows.append(person + (
                    _cell(name), external_id, status, "yes" if access else "no",
                    amounts(amount, currency), currency,
                    None if charged_amount is None or not charged_currency
                    else amounts(charged_amount, charged_currency),
                    charged_currency, source, order_id, "yes" if test else "no",
                    paid_at, refunded_at, access_ends,  # None is written as an empty cell
                ))
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        last_id = attendees[-1][0]
    if buffer.tell():  # an event without attendees: the header alone
        yield buffer.getvalue()


class _DriverQuery:
    """A Core SELECT compiled once for ``connection``'s database and run on its driver
    cursor, in the connection's transaction; calling it returns the driver's row tuples.

    Its parameters and columns must need no conversion on either side (integers and text
    in; integers, text, booleans and raw timestamps out): SQLAlchemy's type processing is
    what this leaves out, and the engine's events with it (``SQL_STATEMENT_COUNTS`` does not
    see these statements, which run after the response's headers anyway). Building a Row for
    each of 200,000 purchases was a quarter of an export's time.
    """

    def __init__(self, connection, statement):
        self.connection = connection
        self.compiled = statement.compile(dialect=connection.dialect)

    def __call__(self, **values):
        parameters = self.compiled.construct_params(values)
        if self.compiled.positional:
            parameters = [parameters[name] for name in self.compiled.positiontup]
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(self.compiled.string, parameters)
            return cursor.fetchall()  # at once: row by row costs a driver call each
        finally:
            cursor.close()


class _Memo(dict):
    """``function(*arguments)``, worked out once per distinct arguments; at most ``size`` of
    them are kept, so that memory stays flat."""

    def __init__(self, function, size=10_000):
        super().__init__()
        self.function, self.size = function, size

    def __call__(self, *arguments):
        try:
            return self[arguments]
        except KeyError:
            if len(self) >= self.size:
                self.clear()
            value = self[arguments] = self.function(*arguments)
            return value


def _moment(value):
    """A timestamp as the driver returns it (naive UTC text on SQLite), timezone-aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _cell(text):
    """Keep a spreadsheet from running buyer-supplied text as a formula."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text or ""
