"""Turn a ThriveCart delivery into attendees and ticket purchases, exactly once.

One function, :func:`run_delivery`, applies a recorded delivery; the webhook, the replay
button, the CLI, held releases and "send a test purchase" all call it. Every effect of one
attempt is written in one transaction. Deliveries of one order are serialised by a row lock
on the order (:func:`.statements.order_lock`), and a purchase's state is worked out from all
of its order's events (:mod:`.lifecycle`), so duplicates, replays and races resolve to the
same result as any sequential order of arrival.

Reading down: :func:`record_delivery` (before processing), :func:`run_delivery` and
:func:`process_delivery`, which hand an ``order.success`` to :mod:`.grants` and a refund,
rebill or cancellation to :mod:`.settling` (both start from :mod:`.order_rows`) and a
buyer's new email to :mod:`.email_changes`, then
record the attempt and its outcomes (:mod:`.attempts`).
"""

import logging

from sqlalchemy.exc import DBAPIError

from ..models import DeliveryStatus, OutcomeKind, utcnow
from ..thrivecart.order import ORDER_SUCCESS
from . import statements as sql
from .attempts import FAILED, IGNORED, PROCESSED, DeliveryResult, Outcome
from .email_changes import apply_email_change
from .grants import apply_success
from .outcomes import needs_attention
from .settling import apply_lifecycle

log = logging.getLogger(__name__)


def record_delivery(connection, order, event_ids, *, source="webhook", now=None):
    """Store a delivery addressed to ``event_ids`` before it is processed; return its id.

    ``connection`` may be outside any transaction on PostgreSQL, where the record is one
    statement (see :func:`.statements.record_delivery`).
    """
    received_at = now or utcnow()
    event_ids = sorted(set(event_ids))
    statement, with_events = sql.record_delivery(connection.dialect.name)
    values = {
        "received_at": received_at,
        "source": source,
        "event_type": order.event_type[:64],
        "mode": order.mode[:10],
        "test": order.test,
        "thrivecart_account": order.account,
        "order_id": order.order_id and order.order_id[:40],
        "invoice_id": order.invoice_id and order.invoice_id[:40],
        "customer_email": order.buyer.email,
        "status": DeliveryStatus.RECEIVED.value,
        "attempts": 0,
        "payload": order.payload,
    }
    if with_events:
        return connection.execute(statement, {**values, "event_ids": event_ids}).first()[0]
    delivery_id = connection.execute(statement, values).scalar_one()
    connection.execute(sql.INSERT_DELIVERY_EVENT, [
        {"delivery_id": delivery_id, "event_id": event_id, "received_at": received_at}
        for event_id in event_ids  # not yet attempted (0), nothing to look at yet
    ])
    return delivery_id


def run_delivery(session, delivery_id, order, event_ids, *, source="thrivecart", now=None,
                 user_id=None):
    """Apply a recorded delivery to ``event_ids`` in one transaction and commit.

    ``user_id`` is whoever asked for this attempt (a replay, a release, a re-run); the log
    shows them. On any error nothing of the attempt is applied, the delivery is recorded as
    failed with the error, and the result says 503 so that ThriveCart (or the person
    replaying) can try again. If even that record cannot be written, the error propagates.
    """
    try:
        result = process_delivery(session, delivery_id, order, event_ids,
                                  source=source, now=now, user_id=user_id)
        session.commit()
        return result
    except Exception as error:
        session.rollback()
        message = describe_error(error)
        log.warning("delivery %s failed: %s", delivery_id, message, exc_info=True)
        record_failure(session, delivery_id, event_ids, message, http_status=503, now=now,
                       user_id=user_id)
        session.commit()
        return DeliveryResult(delivery_id, FAILED, 503, error=message)


def process_delivery(session, delivery_id, order, event_ids, *, source, now, user_id):
    """Apply one delivery to the given events and record the attempt; flush, do not commit.

    ``run_delivery`` is the way in: it commits, or records the failure."""
    now = now or utcnow()
    event_ids = sorted(set(event_ids))
    error = None
    problem = order.problem or (order.buyer.problem if order.event_type == ORDER_SUCCESS
                                else None) or (order.email_change and order.email_change.problem)
    if problem is not None:
        status, http_status, error = FAILED, 422, problem
        outcomes = [Outcome(event_id, None, OutcomeKind.FAILED, detail=error)
                    for event_id in event_ids]
    elif order.event_type == ORDER_SUCCESS:
        status, http_status = PROCESSED, 200
        outcomes = apply_success(session, delivery_id, order, event_ids, source, now)
    elif order.email_change is not None:
        status, http_status = PROCESSED, 200
        outcomes = apply_email_change(session, delivery_id, order.email_change, event_ids, now)
    elif order.lifecycle is not None:
        status, http_status = PROCESSED, 200
        outcomes = apply_lifecycle(session, delivery_id, order, event_ids, now)
    else:
        status, http_status = IGNORED, 200
        detail = f"{order.event_type or 'an event without a name'} is not acted on"
        outcomes = [Outcome(event_id, None, OutcomeKind.IGNORED, detail=detail)
                    for event_id in event_ids]
    _record_attempt(session, delivery_id, status, http_status, error, outcomes, now, user_id,
                    order.item_names)
    return DeliveryResult(delivery_id, status, http_status, tuple(outcomes), error)


def record_failure(session, delivery_id, event_ids, message, *, http_status, now=None,
                   user_id=None):
    """Record a failed attempt of a delivery, with its error (``describe_error``'s), on every
    event it addressed."""
    outcomes = [Outcome(event_id, None, OutcomeKind.FAILED, detail=message)
                for event_id in sorted(set(event_ids))]
    _record_attempt(session, delivery_id, FAILED, http_status, message, outcomes,
                    now or utcnow(), user_id)


def describe_error(error):
    """Return a short, secret-free description of a processing error."""
    if isinstance(error, DBAPIError):
        # The driver's message, not SQLAlchemy's, which would append the statement's parameters;
        # a driver error without one is named by its kind.
        lines = str(error.orig).splitlines()
        text = f"database error: {lines[0] if lines else type(error.orig).__name__}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:500]


def _record_attempt(session, delivery_id, status, http_status, error, outcomes, now,
                    user_id=None, names=None):
    connection = session.connection()
    names = names or {}
    finish = {"status": status, "http_status": http_status, "error": error, "now": now,
              "user_id": user_id}
    kinds = {}
    for outcome in outcomes:
        kinds.setdefault(outcome.event_id, set()).add(outcome.outcome)
    marks = [(event_id, needs_attention(event_kinds)) for event_id, event_kinds in kinds.items()]
    rows = [{"event_id": outcome.event_id,
             "item_key": outcome.item,  # item keys are at most 40 characters
             "item_name": names.get(outcome.item), "outcome": outcome.outcome,
             "ticket_id": outcome.ticket_id, "attendee_id": outcome.attendee_id,
             "purchase_id": outcome.purchase_id,
             "detail": outcome.detail and outcome.detail[:500]} for outcome in outcomes]
    statement = sql.finish_attempt(sql.dialect_of(session))
    if statement is not None:  # one statement, each outcome column sent as an array
        return connection.execute(statement, {
            **finish, "finished_delivery": delivery_id,
            "mark_events": [event_id for event_id, _ in marks],
            "mark_attention": [attention for _, attention in marks],
            **{f"outcome_{name}": [row[name] for row in rows] for name in sql.OUTCOME_COLUMNS},
        }).scalar_one()
    attempt = connection.execute(sql.FINISH_ATTEMPT,
                                 {**finish, "delivery_id": delivery_id}).scalar_one()
    if marks:
        connection.execute(sql.MARK_DELIVERY_EVENT, [
            {"marked_delivery": delivery_id, "marked_event": event_id, "new_attempt": attempt,
             "needs_attention": attention}
            for event_id, attention in marks
        ])
    if rows:
        connection.execute(sql.INSERT_OUTCOME, [
            {"delivery_id": delivery_id, "attempt": attempt, "created_at": now, **row}
            for row in rows
        ])
    return attempt
