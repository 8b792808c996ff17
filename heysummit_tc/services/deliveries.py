"""Reading the delivery log: what reached an event, and what each attempt did there."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import and_, bindparam, distinct, exists, func, or_, select
from sqlalchemy.orm import defer

from ..models import (
    DeliveryEvent,
    DeliveryOutcome,
    DeliveryStatus,
    HeldDelivery,
    User,
    WebhookDelivery,
    any_of,
    utcnow,
)
from ..sql.plans import written_limit
from .outcomes import ATTENTION, GROUP_OF, GROUPS, REJECTED, WARNING, Summary, summarise
from .pagination import page_of
from .rejections import bound_rejection_criteria, rejection_values

# The source of deliveries the ThriveCart page's test purchase makes.
TEST_PURCHASE = "test_purchase"
# How far back the dashboard's Needs attention card counts.
ATTENTION_DAYS = 30


MODES = ("live", "test")


@dataclass(frozen=True)
class LogRow:
    """A line of an event's delivery log: a delivery, or a post rejected for its secret."""

    kind: str  # "delivery" or "rejected"
    id: int
    received_at: datetime
    event_type: str
    test: bool
    order_id: str | None
    customer_email: str | None
    thrivecart_account: str
    http_status: int | None
    summary: Summary
    source: str = "webhook"
    processed_at: datetime | None = None
    processed_by: str | None = None

    @property
    def cursor(self):
        return f"{'d' if self.kind == 'delivery' else 'h'}{self.id}"


@dataclass(frozen=True)
class LogFilter:
    """What the log shows. ``outcome`` is a name of :data:`.outcomes.GROUPS` or
    ``rejected``; ``mode`` is ``live`` or ``test``; ``attention`` keeps what needs the
    organiser; ``query`` matches an order id exactly or an email; ``before`` is a row's
    cursor (keyset pagination: deep pages cost what the first does)."""

    outcome: str | None = None
    mode: str | None = None
    attention: bool = False
    query: str | None = None
    before: str | None = None
    # Deliveries of events the app does not act on (affiliates, abandoned carts): hidden
    # unless asked for, or the outcome filter is Ignored.
    ignored: bool = False


@dataclass(frozen=True)
class _Window:
    """Where a page of the log starts (a row's (received_at, is_delivery, id), or None)
    and how many rows it reads."""

    cursor: tuple | None
    limit: int


def log_of(session, event_id, integration=None, filters=LogFilter(), *, per_page=25,
           now=None):
    """Return a page of the event's delivery log (see :class:`LogFilter`), newest received
    first.

    Deliveries and the posts rejected for a wrong secret that concern the event are merged
    by time received.
    """
    window = _Window(_cursor(session, filters.before), per_page + 1)
    rows = []
    if filters.outcome != REJECTED:
        rows += _delivery_rows(session, event_id, filters, window)
    if filters.outcome in (None, REJECTED):
        rows += _rejected_rows(session, event_id, integration, filters, window, now)
    rows.sort(key=_order, reverse=True)
    return page_of(rows, per_page, lambda row: row.cursor)


def _order(row):
    return row.received_at, row.kind == "delivery", row.id


def _cursor(session, before):
    """Return (received_at, is_delivery, id) of the row a cursor names, or None."""
    if not before:
        return None
    before = str(before)
    kind, number = (before[0], before[1:]) if before[:1] in ("d", "h") else ("d", before)
    if not number.isascii() or not number.isdigit():
        return None
    model = WebhookDelivery if kind == "d" else HeldDelivery
    received_at = session.scalar(select(model.received_at).where(model.id == int(number)))
    if received_at is None:
        return None
    return received_at, kind == "d", int(number)


def _search(query):
    """``(kind, value)`` of a log search: an email (``@``) or an order id; None for none."""
    query = (query or "").strip()
    if not query:
        return None, None
    if "@" in query:
        return "email", query.lower()
    return "order", query


def _searched(model, kind):
    if kind == "email":
        return model.customer_email == bindparam("search")
    return model.order_id == bindparam("search")


def _delivery_rows(session, event_id, filters, window):
    kind, search = _search(filters.query)
    values = {"event_id": event_id, "limit": window.limit, "search": search}
    if window.cursor is not None:
        received_at, is_delivery, number = window.cursor
        values |= {"cursor_at": received_at, "cursor_id": number if is_delivery else 0}
    statement = _delivery_statement(filters.outcome if filters.outcome in GROUPS else None,
                                    filters.mode if filters.mode in MODES else None,
                                    bool(filters.attention), kind, window.cursor is not None,
                                    filters.ignored or filters.outcome == "ignored")
    found = session.execute(statement, values).all()
    outcomes = _latest_outcomes(session, event_id, {row.id: row.attempt for row in found})
    return [
        LogRow("delivery", row.id, row.received_at, row.event_type, row.test, row.order_id,
               row.customer_email, row.thrivecart_account, row.http_status,
               # Whether it still needs a person: settled or resolved since, it does not.
               replace(summarise(outcomes.get(row.id, []), row.event_type),
                       attention=row.attention),
               row.source, row.processed_at, row.email)
        for row in found
    ]


@cache
def _delivery_statement(group, mode, attention, search, after, ignored):
    """The log's deliveries for one combination of filters, built once per process (building
    a statement and its cache key cost more than running it); the values are bound."""
    statement = (
        # The columns a log line shows: not the stored body, which is most of a row.
        select(WebhookDelivery.id, WebhookDelivery.event_type, WebhookDelivery.test,
               WebhookDelivery.order_id, WebhookDelivery.customer_email,
               WebhookDelivery.thrivecart_account, WebhookDelivery.http_status,
               WebhookDelivery.source, WebhookDelivery.processed_at,
               DeliveryEvent.attempt, DeliveryEvent.received_at, DeliveryEvent.attention,
               User.email)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .outerjoin(User, User.id == WebhookDelivery.processed_by_id)
        .where(DeliveryEvent.event_id == bindparam("event_id"))
        .order_by(DeliveryEvent.received_at.desc(), DeliveryEvent.delivery_id.desc())
        .limit(written_limit())
    )
    if group is not None:
        statement = statement.where(exists().where(
            DeliveryOutcome.delivery_id == DeliveryEvent.delivery_id,
            DeliveryOutcome.event_id == DeliveryEvent.event_id,
            DeliveryOutcome.attempt == DeliveryEvent.attempt,
            DeliveryOutcome.outcome.in_(GROUPS[group][1]),
        ))
    if mode is not None:
        statement = statement.where(WebhookDelivery.test.is_(mode == "test"))
    if not ignored:
        statement = statement.where(WebhookDelivery.status != DeliveryStatus.IGNORED)
    if attention:
        statement = statement.where(DeliveryEvent.attention.is_(True))
    if search is not None:
        statement = statement.where(_searched(WebhookDelivery, search))
    if after:
        statement = statement.where(or_(
            DeliveryEvent.received_at < bindparam("cursor_at"),
            and_(DeliveryEvent.received_at == bindparam("cursor_at"),
                 DeliveryEvent.delivery_id < bindparam("cursor_id")),
        ))
    return statement


def _latest_outcomes(session, event_id, attempts):
    """Return {delivery id: outcomes of its latest attempt in the event}."""
    if not attempts:
        return {}
    outcomes = {}
    for outcome in session.execute(
        select(DeliveryOutcome.delivery_id, DeliveryOutcome.attempt, DeliveryOutcome.outcome,
               DeliveryOutcome.item_key, DeliveryOutcome.detail)
        .where(DeliveryOutcome.event_id == event_id,
               any_of(DeliveryOutcome.delivery_id, "delivery_ids"))
        # By delivery first: ordered by id alone, SQLite read the event's every outcome in
        # id order to spare a sort of a few dozen rows (14 ms at 200,000 outcomes).
        .order_by(DeliveryOutcome.delivery_id, DeliveryOutcome.id),
        {"delivery_ids": list(attempts)},
    ):
        if outcome.attempt == attempts[outcome.delivery_id]:
            outcomes.setdefault(outcome.delivery_id, []).append(outcome)
    return outcomes


def _rejected_rows(session, event_id, integration, filters, window, now):
    kind, search = _search(filters.query)
    values = {**rejection_values(event_id, integration, now), "limit": window.limit,
              "search": search}
    after = None
    if window.cursor is not None:
        received_at, is_delivery, number = window.cursor
        after = "delivery" if is_delivery else "held"
        values |= {"cursor_at": received_at, "cursor_id": number}
    statement = _rejected_statement(integration is not None,
                                    filters.mode if filters.mode in MODES else None, kind, after)
    rows = []
    for held in session.scalars(statement, values):
        waiting = integration is not None and held.secret_digest == integration.secret_digest
        text = ("rejected: arrived before this Secret Word was saved; process it above"
                if waiting else "rejected: unknown Secret Word")
        rows.append(LogRow("rejected", held.id, held.received_at, held.event_type, held.test,
                           held.order_id, held.customer_email, held.thrivecart_account, 403,
                           Summary(text, WARNING, True)))
    return rows


@cache
def _rejected_statement(configured, mode, search, after):
    """The log's rejected posts for one combination of filters, built once per process."""
    statement = (
        select(HeldDelivery)
        .options(defer(HeldDelivery.payload))
        .where(*bound_rejection_criteria(configured, waiting=True))
        .order_by(HeldDelivery.received_at.desc(), HeldDelivery.id.desc())
        .limit(written_limit())
    )
    if mode is not None:
        statement = statement.where(HeldDelivery.test.is_(mode == "test"))
    if search is not None:
        statement = statement.where(_searched(HeldDelivery, search))
    if after == "delivery":  # after a delivery's cursor: the posts received up to it
        statement = statement.where(HeldDelivery.received_at <= bindparam("cursor_at"))
    elif after == "held":
        statement = statement.where(or_(
            HeldDelivery.received_at < bindparam("cursor_at"),
            and_(HeldDelivery.received_at == bindparam("cursor_at"),
                 HeldDelivery.id < bindparam("cursor_id"))))
    return statement


def attention_counts(session, event_id, rejected=0, now=None):
    """Return {outcome group: deliveries} needing attention in the last ATTENTION_DAYS, and
    the ``rejected`` posts (:func:`.rejections.rejections_count`'s) under REJECTED if there
    are any."""
    since = (now or utcnow()) - timedelta(days=ATTENTION_DAYS)
    counts = {}
    for kind, count in session.execute(_ATTENTION_COUNTS,
                                       {"event_id": event_id, "since": since}):
        group = GROUP_OF[kind]
        counts[group] = counts.get(group, 0) + count
    if rejected:
        counts[REJECTED] = rejected
    return counts


_ATTENTION_COUNTS = (
    select(DeliveryOutcome.outcome, func.count(distinct(DeliveryOutcome.delivery_id)))
    .join(DeliveryEvent, and_(DeliveryEvent.delivery_id == DeliveryOutcome.delivery_id,
                              DeliveryEvent.event_id == DeliveryOutcome.event_id,
                              DeliveryEvent.attempt == DeliveryOutcome.attempt))
    .where(DeliveryEvent.event_id == bindparam("event_id"), DeliveryEvent.attention.is_(True),
           DeliveryEvent.received_at >= bindparam("since"),
           DeliveryOutcome.outcome.in_(ATTENTION))
    .group_by(DeliveryOutcome.outcome)
)


def delivery_for_event(session, delivery_id, event_id):
    """Return the delivery if it was addressed to the event, else None."""
    return session.scalar(
        select(WebhookDelivery)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .where(WebhookDelivery.id == delivery_id, DeliveryEvent.event_id == event_id)
    )


def outcomes_for_event(session, delivery_id, event_id):
    """Return every attempt's outcomes of a delivery in one event, oldest attempt first."""
    return list(session.scalars(
        select(DeliveryOutcome)
        .where(DeliveryOutcome.delivery_id == delivery_id, DeliveryOutcome.event_id == event_id)
        .order_by(DeliveryOutcome.attempt, DeliveryOutcome.id)
    ))


def last_delivery(session, event_id, *, orders=False, from_thrivecart=False):
    """Return the delivery received last of those addressed to the event, or None; with
    ``orders``, of those the app acted on (not an ignored event such as an affiliate's
    commission); with ``from_thrivecart``, of those a ThriveCart account posted (not the
    built-in test purchase)."""
    statement = _LAST_DELIVERY
    if orders:
        statement = _LAST_ORDER
    elif from_thrivecart:
        statement = _LAST_FROM_THRIVECART
    return session.scalar(statement, {"event_id": event_id})


_LAST_DELIVERY = (
    select(WebhookDelivery)
    .options(defer(WebhookDelivery.payload))  # a few KB nobody here reads
    .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
    .where(DeliveryEvent.event_id == bindparam("event_id"))
    .order_by(DeliveryEvent.received_at.desc(), DeliveryEvent.delivery_id.desc())
    .limit(written_limit(1))
)
_LAST_ORDER = _LAST_DELIVERY.where(WebhookDelivery.status != DeliveryStatus.IGNORED)
_LAST_FROM_THRIVECART = _LAST_DELIVERY.where(WebhookDelivery.source != TEST_PURCHASE)


def event_ids_of(session, delivery_id):
    """Return the events a delivery was addressed to."""
    return list(session.scalars(
        select(DeliveryEvent.event_id).where(DeliveryEvent.delivery_id == delivery_id)
    ))


def failed_delivery_ids(session):
    """Return the deliveries whose latest attempt failed and that can still be replayed."""
    return list(session.scalars(
        select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.FAILED,
                                         WebhookDelivery.replayable)
        .order_by(WebhookDelivery.id)))
