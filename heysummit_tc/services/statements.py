"""The SQL behind :mod:`.provisioning`, built once per process.

Constructing these statements per delivery cost more than running them. They use Core
tables, not ORM entities, so that no unit of work is involved on the webhook's hot path.
Every write that must happen once is an ``INSERT ... ON CONFLICT`` against a unique
constraint, in PostgreSQL's and SQLite's dialects alike.
"""

from functools import cache

from sqlalchemy import (
    Boolean,
    Integer,
    bindparam,
    column,
    false,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..models import (
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    LifecycleEvent,
    OutboxEmail,
    PurchaseChange,
    PurchaseStatus,
    ThriveCartOrder,
    Ticket,
    TicketPrice,
    TicketPurchase,
    WebhookDelivery,
)

deliveries = WebhookDelivery.__table__
purchases = TicketPurchase.__table__
lifecycle_events = LifecycleEvent.__table__



RECORD_COLUMNS = (
    "received_at", "source", "event_type", "mode", "test", "thrivecart_account", "order_id",
    "invoice_id", "customer_email", "status", "attempts", "payload",
)
OUTCOME_COLUMNS = ("event_id", "item_key", "item_name", "outcome", "ticket_id", "attendee_id",
                   "purchase_id", "detail")


def _synchronous_commit_off():
    """``SET LOCAL synchronous_commit = off``, said inside a statement (no round trip)."""
    return func.set_config("synchronous_commit", "off", True)


@cache
def record_delivery(dialect):
    """The statement that records a delivery as received, and whether it writes the
    delivery's row per event too (it returns the delivery's id either way).

    The record need not wait for the disk: processing follows at once, and its synchronous
    commit flushes the log up to and including this record before ThriveCart hears 200. A
    crash in between loses at most a delivery that was never answered, which ThriveCart
    sends again. On PostgreSQL it is one statement (the delivery inserted in a CTE, its
    events from an array) that needs no transaction of its own, with
    ``synchronous_commit = off`` for its commit; SQLite's WAL mode at ``synchronous=NORMAL``
    never waits on a commit, and records in two statements: there the caller runs
    :data:`INSERT_DELIVERY_EVENT` after it.
    """
    values = {name: bindparam(name, type_=deliveries.c[name].type) for name in RECORD_COLUMNS}
    if dialect != "postgresql":
        return insert(deliveries).values(values).returning(deliveries.c.id), False
    delivery = insert(deliveries).values(values).returning(deliveries.c.id).cte("delivery")
    events = DeliveryEvent.__table__
    event_ids = func.unnest(bindparam("event_ids", type_=postgresql.ARRAY(Integer))
                            ).table_valued("event_id").render_derived("addressed")
    return insert(events).from_select(
        ["delivery_id", "event_id", "received_at", "attempt", "attention"],
        select(delivery.c.id, event_ids.c.event_id, values["received_at"], literal(0),
               false())
        .select_from(delivery).join(event_ids, true()),
    ).returning(events.c.delivery_id, _synchronous_commit_off()), True


def _finish_delivery(id_parameter):
    """Count an attempt on the delivery named by ``id_parameter``; return its number."""
    return (
        update(deliveries)
        .where(deliveries.c.id == bindparam(id_parameter))
        .values(status=bindparam("status"), http_status=bindparam("http_status"),
                error=bindparam("error"), attempts=deliveries.c.attempts + 1,
                processed_at=bindparam("now"), processed_by_id=bindparam("user_id"))
        .returning(deliveries.c.attempts)
    )


@cache
def finish_attempt(dialect):
    """Close an attempt: the delivery's status, its events' attempt and attention, and its
    outcomes, returning the attempt's number.

    PostgreSQL does it in one statement (CTEs over arrays of the rows); elsewhere this is
    :data:`FINISH_ATTEMPT` followed by :data:`MARK_DELIVERY_EVENT` and :data:`INSERT_OUTCOME`,
    and None is returned.
    """
    if dialect != "postgresql":
        return None
    # Parameters are named apart from the columns of the tables the CTEs write: SQLAlchemy
    # would take a parameter named like a column for a value to set there.
    finished = _finish_delivery("finished_delivery").cte("finished")
    events = DeliveryEvent.__table__
    marks = func.unnest(bindparam("mark_events", type_=postgresql.ARRAY(Integer)),
                        bindparam("mark_attention", type_=postgresql.ARRAY(Boolean))
                        ).table_valued("event_id", "attention").render_derived("marks")
    marked = (
        update(events)
        .where(events.c.delivery_id == bindparam("finished_delivery"),
               events.c.event_id == marks.c.event_id)
        .values(attempt=select(finished.c.attempts).scalar_subquery(),
                attention=marks.c.attention)
        .cte("marked")
    )
    outcomes = DeliveryOutcome.__table__
    rows = func.unnest(*(
        bindparam(f"outcome_{name}", type_=postgresql.ARRAY(outcomes.c[name].type))
        for name in OUTCOME_COLUMNS
    )).table_valued(*OUTCOME_COLUMNS, with_ordinality="position").render_derived("rows")
    recorded = insert(outcomes).from_select(
        ["delivery_id", "attempt", *OUTCOME_COLUMNS, "created_at"],
        select(bindparam("finished_delivery"), finished.c.attempts,
               *(rows.c[name] for name in OUTCOME_COLUMNS), bindparam("now"))
        .select_from(finished).join(rows, true()).order_by(rows.c.position),
    ).cte("recorded")
    return select(finished.c.attempts).add_cte(marked, recorded)


INSERT_DELIVERY_EVENT = insert(DeliveryEvent.__table__)
INSERT_OUTCOME = insert(DeliveryOutcome.__table__)
INSERT_CHANGE = insert(PurchaseChange.__table__)
FINISH_ATTEMPT = _finish_delivery("delivery_id")
# What the log of each event filters on: the attempt that counts there and its attention.
MARK_DELIVERY_EVENT = (
    update(DeliveryEvent.__table__)
    .where(DeliveryEvent.delivery_id == bindparam("marked_delivery"),
           DeliveryEvent.event_id == bindparam("marked_event"))
    .values(attempt=bindparam("new_attempt"), attention=bindparam("needs_attention"))
)
LINKED_TICKETS = (
    select(Ticket.id, Ticket.event_id, Ticket.external_id, Ticket.active,
           Ticket.on_payment_failed, Ticket.on_cancel, Event.currency,
           TicketPrice.amount, TicketPrice.currency)
    .join(Event, Event.id == Ticket.event_id)
    .outerjoin(TicketPrice, TicketPrice.ticket_id == Ticket.id)
    .where(Ticket.event_id.in_(bindparam("event_ids", expanding=True)),
           Ticket.external_id.in_(bindparam("keys", expanding=True)))
)
# The attendee's purchases of some tickets, before an order.success touches them.
PURCHASES_OF_ATTENDEE = (
    select(purchases.c.ticket_id, purchases.c.id, purchases.c.status,
           purchases.c.thrivecart_order_id)
    .where(purchases.c.attendee_id == bindparam("attendee_id"),
           purchases.c.ticket_id.in_(bindparam("ticket_ids", expanding=True)))
)
# The purchases an order paid for a ticket: what its refunds and rebills act on.
PURCHASES_OF_ORDER = (
    select(purchases)
    .where(purchases.c.ticket_id == bindparam("ticket_id"),
           purchases.c.thrivecart_order_id == bindparam("order_id"))
    .order_by(purchases.c.id)
)
LIFECYCLE_OF_ORDER = (
    select(lifecycle_events)
    .where(lifecycle_events.c.event_id == bindparam("event_id"),
           lifecycle_events.c.order_id == bindparam("order_id"))
)
PURCHASE_COLUMNS = (
    "attendee_id", "ticket_id", "status", "amount", "currency", "charged_amount",
    "charged_currency", "source", "thrivecart_order_id", "thrivecart_item_key", "test",
    "paid_at", "refunded_at", "access_ends_at", "payments", "last_payment_at",
    "last_invoice_id", "country", "affiliate", "coupon", "utm_source", "utm_medium",
    "utm_campaign", "created_at", "updated_at",
)


def dialect_of(session):
    return session.get_bind().dialect.name


def _insert_for(dialect):
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


_NAMED = {"postgresql": postgresql.dialect(paramstyle="named"),
          "sqlite": sqlite.dialect(paramstyle="named")}


def _compiled_once(dialect, statement):
    """``statement`` rendered once for ``dialect``, as text SQLAlchemy's cache keeps.

    SQLAlchemy never caches a dialect's ``INSERT ... ON CONFLICT`` (its ``Insert`` sets
    ``inherit_cache = False``), so every execution compiled the upserts again: about 0.3 ms
    each, three times a delivery. As text with the same typed parameters and result columns,
    each is compiled once per process.
    """
    compiled = statement.compile(dialect=_NAMED[dialect])
    # Literals in the statement (a status, an empty name) keep their values.
    sql = text(compiled.string).bindparams(
        *(bindparam(name, value=parameter.value, type_=parameter.type)
          for parameter, name in compiled.bind_names.items()))
    returned = statement.exported_columns
    return sql.columns(*(column(c.key, c.type) for c in returned)) if returned else sql


@cache
def order_lock(dialect, count):
    """Upsert ``count`` (event, order) rows, locking them until the transaction ends.

    Returns each event's flag telling whether lifecycle events were ever kept for the
    order. Deliveries of one order therefore apply one after another; rows are given in
    event order, so two deliveries never wait for each other crosswise.
    """
    orders = ThriveCartOrder.__table__
    statement = _insert_for(dialect)(orders).values([
        {"event_id": bindparam(f"event_id{row}"), "order_id": bindparam("order_id"),
         "first_seen_at": bindparam("now"), "last_seen_at": bindparam("now"),
         "has_lifecycle_events": bindparam("lifecycle")}
        for row in range(count)
    ])
    return _compiled_once(dialect, statement.on_conflict_do_update(
        index_elements=[orders.c.event_id, orders.c.order_id],
        set_={"last_seen_at": statement.excluded.last_seen_at,
              "has_lifecycle_events": orders.c.has_lifecycle_events
              | statement.excluded.has_lifecycle_events},
    ).returning(orders.c.event_id, orders.c.has_lifecycle_events))


@cache
def attendee_upsert(dialect):
    """Create the attendee or update its names (an empty name never erases one) and
    ThriveCart's customer id (a missing one never erases it).

    Returns the id and whether the row is new (its ``created_at`` is this delivery's).
    """
    attendees = Attendee.__table__
    statement = _insert_for(dialect)(attendees).values({
        name: bindparam(name) for name in ("event_id", "email", "first_name", "last_name",
                                           "thrivecart_customer_id", "created_at",
                                           "updated_at")})
    incoming = statement.excluded
    return _compiled_once(dialect, statement.on_conflict_do_update(
        index_elements=[attendees.c.event_id, attendees.c.email],
        set_={
            "first_name": func.coalesce(func.nullif(incoming.first_name, ""),
                                        attendees.c.first_name),
            "last_name": func.coalesce(func.nullif(incoming.last_name, ""),
                                       attendees.c.last_name),
            "thrivecart_customer_id": func.coalesce(incoming.thrivecart_customer_id,
                                                    attendees.c.thrivecart_customer_id),
            "updated_at": incoming.updated_at,
        },
    ).returning(attendees.c.id, attendees.c.created_at))


@cache
def purchase_upsert(dialect, count):
    """The upsert of ``count`` purchases of one attendee, parameters numbered per row.

    An existing purchase changes only when it is pending or when a *different* order buys a
    ticket whose purchase is no longer paid; the caller decided that already, and this
    condition keeps a concurrent delivery of another order from undoing its decision.
    """
    statement = _insert_for(dialect)(purchases).values([
        {name: bindparam(f"row{row}_{name}") for name in PURCHASE_COLUMNS}
        for row in range(count)
    ])
    incoming = statement.excluded
    return _compiled_once(dialect, statement.on_conflict_do_update(
        index_elements=[purchases.c.attendee_id, purchases.c.ticket_id],
        set_={name: incoming[name] for name in PURCHASE_COLUMNS[2:] if name != "created_at"},
        where=(purchases.c.status == PurchaseStatus.PENDING.value)
        | ((purchases.c.status != PurchaseStatus.PAID.value)
           & purchases.c.thrivecart_order_id.is_distinct_from(incoming.thrivecart_order_id)),
    ).returning(purchases.c.ticket_id, purchases.c.id))


@cache
def lifecycle_insert(dialect):
    """Keep a lifecycle event once: a redelivery inserts nothing and returns no row."""
    statement = _insert_for(dialect)(lifecycle_events)
    return statement.on_conflict_do_nothing(
        index_elements=[lifecycle_events.c.event_id, lifecycle_events.c.order_id,
                        lifecycle_events.c.item_key, lifecycle_events.c.kind,
                        lifecycle_events.c.identity],
    ).returning(lifecycle_events.c.id)


@cache
def outbox_insert(dialect):
    """Queue an access email for a grant, once: a grant queued before inserts nothing."""
    outbox = OutboxEmail.__table__
    return _insert_for(dialect)(outbox).on_conflict_do_nothing(
        index_elements=[outbox.c.attendee_id, outbox.c.ticket_id, outbox.c.order_id,
                        outbox.c.kind])


def numbered(rows):
    """Flatten rows of parameters into one mapping, as :func:`purchase_upsert` names them."""
    return {f"row{index}_{column}": value
            for index, row in enumerate(rows) for column, value in row.items()}
