"""A delivery's record: stored as received before it is processed (:func:`record`), and each
attempt closed with its status, its events' attention and its outcomes (:func:`finish`)."""

from functools import cache

from sqlalchemy import (
    Boolean,
    Integer,
    bindparam,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from ..models import DeliveryEvent, DeliveryOutcome, WebhookDelivery
from . import POSTGRESQL, synchronous_commit_off

deliveries = WebhookDelivery.__table__
delivery_events = DeliveryEvent.__table__
outcomes = DeliveryOutcome.__table__

RECORD_COLUMNS = (
    "received_at", "source", "event_type", "mode", "test", "thrivecart_account", "order_id",
    "invoice_id", "customer_email", "status", "attempts", "payload",
)
OUTCOME_COLUMNS = ("event_id", "item_key", "item_name", "outcome", "ticket_id", "attendee_id",
                   "purchase_id", "detail")


def record(connection, values, event_ids):
    """Store a delivery (``values`` of :data:`RECORD_COLUMNS`) addressed to ``event_ids``, not
    yet attempted; return its id.

    ``connection`` may be outside any transaction on PostgreSQL, where this is one statement.
    """
    statement, with_events = _record_statement(connection.dialect.name)
    if with_events:
        return connection.execute(statement, {**values, "event_ids": event_ids}).first()[0]
    delivery_id = connection.execute(statement, values).scalar_one()
    connection.execute(_INSERT_DELIVERY_EVENT, [
        {"delivery_id": delivery_id, "event_id": event_id,
         "received_at": values["received_at"]}
        for event_id in event_ids  # not yet attempted (0), nothing to look at yet
    ])
    return delivery_id


@cache
def _record_statement(dialect):
    """The statement that records a delivery as received, and whether it writes the
    delivery's row per event too (it returns the delivery's id either way).

    The record need not wait for the disk: processing follows at once, and its synchronous
    commit flushes the log up to and including this record before ThriveCart hears 200. A
    crash in between loses at most a delivery that was never answered, which ThriveCart
    sends again. On PostgreSQL it is one statement (the delivery inserted in a CTE, its
    events from an array) that needs no transaction of its own, with
    ``synchronous_commit = off`` for its commit; SQLite's WAL mode at ``synchronous=NORMAL``
    never waits on a commit, and records in two statements.
    """
    values = {name: bindparam(name, type_=deliveries.c[name].type) for name in RECORD_COLUMNS}
    if dialect != POSTGRESQL:
        return insert(deliveries).values(values).returning(deliveries.c.id), False
    delivery = insert(deliveries).values(values).returning(deliveries.c.id).cte("delivery")
    event_ids = func.unnest(bindparam("event_ids", type_=postgresql.ARRAY(Integer))
                            ).table_valued("event_id").render_derived("addressed")
    return insert(delivery_events).from_select(
        ["delivery_id", "event_id", "received_at", "attempt", "attention"],
        select(delivery.c.id, event_ids.c.event_id, values["received_at"], literal(0),
               false())
        .select_from(delivery).join(event_ids, true()),
    ).returning(delivery_events.c.delivery_id, synchronous_commit_off()), True


def finish(connection, delivery_id, closing, marks, rows):
    """Close an attempt of a delivery; return the attempt's number.

    ``closing`` holds the delivery's ``status``, ``http_status``, ``error``, ``now`` and
    ``user_id``; ``marks`` are (event id, needs attention) pairs, ``rows`` the outcomes'
    values of :data:`OUTCOME_COLUMNS`. PostgreSQL does it in one statement (CTEs over arrays
    of the rows); SQLite in three. With the one-statement record, the PostgreSQL path buys
    5-19% of the webhook's throughput over SQLite's statements (see :func:`..autocommit`).
    """
    if connection.dialect.name == POSTGRESQL:
        return connection.execute(_finish_in_one(), {
            **closing, "finished_delivery": delivery_id,
            "mark_events": [event_id for event_id, _ in marks],
            "mark_attention": [attention for _, attention in marks],
            **{f"outcome_{name}": [row[name] for row in rows] for name in OUTCOME_COLUMNS},
        }).scalar_one()
    attempt = connection.execute(_finish_delivery("delivery_id"),
                                 {**closing, "delivery_id": delivery_id}).scalar_one()
    if marks:
        connection.execute(_MARK_DELIVERY_EVENT, [
            {"marked_delivery": delivery_id, "marked_event": event_id, "new_attempt": attempt,
             "needs_attention": attention}
            for event_id, attention in marks
        ])
    if rows:
        connection.execute(_INSERT_OUTCOME, [
            {"delivery_id": delivery_id, "attempt": attempt, "created_at": closing["now"],
             **row}
            for row in rows
        ])
    return attempt


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


_INSERT_DELIVERY_EVENT = insert(delivery_events)
_INSERT_OUTCOME = insert(outcomes)
# What the log of each event filters on: the attempt that counts there and its attention.
_MARK_DELIVERY_EVENT = (
    update(delivery_events)
    .where(delivery_events.c.delivery_id == bindparam("marked_delivery"),
           delivery_events.c.event_id == bindparam("marked_event"))
    .values(attempt=bindparam("new_attempt"), attention=bindparam("needs_attention"))
)


@cache
def _finish_in_one():
    """PostgreSQL's :func:`finish`: the delivery, its events and its outcomes in one
    statement."""
    # Parameters are named apart from the columns of the tables the CTEs write: SQLAlchemy
    # would take a parameter named like a column for a value to set there.
    finished = _finish_delivery("finished_delivery").cte("finished")
    marks = func.unnest(bindparam("mark_events", type_=postgresql.ARRAY(Integer)),
                        bindparam("mark_attention", type_=postgresql.ARRAY(Boolean))
                        ).table_valued("event_id", "attention").render_derived("marks")
    marked = (
        update(delivery_events)
        .where(delivery_events.c.delivery_id == bindparam("finished_delivery"),
               delivery_events.c.event_id == marks.c.event_id)
        .values(attempt=select(finished.c.attempts).scalar_subquery(),
                attention=marks.c.attention)
        .cte("marked")
    )
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
