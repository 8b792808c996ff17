"""Turn a ThriveCart delivery into attendees and ticket purchases, exactly once.

One function, :func:`run_delivery`, applies a recorded delivery; the webhook, replays (the
log, the CLI, the inbox's re-run), held releases and "send a test purchase" all call it.
Every effect of one attempt (an :class:`.attempts.Attempt`) is written in one transaction.
Deliveries of one order are serialised by a row lock on the order (:func:`..sql.orders.lock`),
and a purchase's state is worked out from all of its order's events (:mod:`.lifecycle`), so
duplicates, replays and races resolve to the same result as any sequential order of arrival.

Reading down: :func:`record_delivery` (before processing), :func:`run_delivery` and
:func:`process_delivery`, which hand an ``order.success`` to :mod:`.grants`, a refund,
rebill or cancellation to :mod:`.settling` and a buyer's new email to
:mod:`.email_changes`, then close the attempt with its outcomes (:func:`..sql.deliveries.finish`).
"""

import logging

from sqlalchemy.exc import DBAPIError

from ..models import DeliveryStatus, OutcomeKind, utcnow
from ..sql import deliveries
from ..thrivecart.events import CHANGE_EMAIL, GRANT, SETTLE, action_of
from .attempts import FAILED, IGNORED, PROCESSED, DeliveryResult
from .email_changes import apply_email_change
from .grants import apply_success
from .outcomes import needs_attention
from .settling import apply_lifecycle

log = logging.getLogger(__name__)


def record_delivery(connection, order, event_ids, *, source="webhook", now=None):
    """Store a delivery addressed to ``event_ids`` before it is processed; return its id.

    ``connection`` may be outside any transaction on PostgreSQL (see
    :func:`..sql.deliveries.record`).
    """
    return deliveries.record(connection, {
        "received_at": now or utcnow(),
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
    }, sorted(set(event_ids)))


def run_delivery(attempt):
    """Apply a recorded delivery in one transaction and commit.

    On any error nothing of the attempt is applied, the delivery is recorded as failed with
    the error, and the result says 503 so that ThriveCart (or the person replaying) can try
    again. If even that record cannot be written, the error propagates.
    """
    session = attempt.session
    try:
        result = process_delivery(attempt)
        session.commit()
        return result
    except Exception as error:
        session.rollback()
        message = describe_error(error)
        log.warning("delivery %s failed: %s", attempt.delivery_id, message, exc_info=True)
        record_failure(attempt, message, http_status=503)
        session.commit()
        return DeliveryResult(attempt.delivery_id, FAILED, 503, error=message)


def process_delivery(attempt):
    """Apply one delivery to its events and record the attempt; flush, do not commit.

    :func:`run_delivery` is the way in: it commits, or records the failure."""
    order, error = attempt.order, None
    action = action_of(order.event_type)
    problem = order.problem or (order.buyer.problem if action == GRANT else None) or (
        order.email_change and order.email_change.problem)
    if problem is not None:
        status, http_status, error = FAILED, 422, problem
        outcomes = attempt.everywhere(OutcomeKind.FAILED, problem)
    elif action is not None:
        status, http_status = PROCESSED, 200
        outcomes = _APPLY[action](attempt)
    else:
        status, http_status = IGNORED, 200
        outcomes = attempt.everywhere(
            OutcomeKind.IGNORED, f"{order.event_type or 'an event without a name'} is not acted on")
    _finish(attempt, status, http_status, error, outcomes)
    return DeliveryResult(attempt.delivery_id, status, http_status, tuple(outcomes), error)


# What applies each kind of event (``thrivecart.events``' table says which is which).
_APPLY = {GRANT: apply_success, SETTLE: apply_lifecycle, CHANGE_EMAIL: apply_email_change}


def record_failure(attempt, message, *, http_status):
    """Record a failed attempt of a delivery, with its error (``describe_error``'s), on every
    event it addressed."""
    _finish(attempt, FAILED, http_status, message,
            attempt.everywhere(OutcomeKind.FAILED, message))


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


def _finish(attempt, status, http_status, error, outcomes):
    """Close the attempt: the delivery's status, each event's attention, the outcomes."""
    names = attempt.order.item_names
    kinds = {}
    for outcome in outcomes:
        kinds.setdefault(outcome.event_id, set()).add(outcome.outcome)
    rows = [{"event_id": outcome.event_id,
             "item_key": outcome.item,  # item keys are at most 40 characters
             "item_name": names.get(outcome.item), "outcome": outcome.outcome,
             "ticket_id": outcome.ticket_id, "attendee_id": outcome.attendee_id,
             "purchase_id": outcome.purchase_id,
             "detail": outcome.detail and outcome.detail[:500]} for outcome in outcomes]
    return deliveries.finish(
        attempt.connection, attempt.delivery_id,
        {"status": status, "http_status": http_status, "error": error, "now": attempt.now,
         "user_id": attempt.user_id},
        [(event_id, needs_attention(event_kinds)) for event_id, event_kinds in kinds.items()],
        rows)
