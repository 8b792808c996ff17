"""Revenue: what ThriveCart charged and refunded for an event's tickets, per currency, live
apart from test, in total and per day.

Money is what ThriveCart charged for each item (``charged_amount``, in the order's
currency) and what its refunds gave back, never the tickets' list prices. Amounts in
different currencies are never added together. Days are UTC days.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import BigInteger, String, bindparam, cast, func, select, type_coerce

from ..models import (
    Event,
    LifecycleEvent,
    LifecycleKind,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    sql_constant,
    utc_text,
    utcnow,
)

# How many days the chart shows, today included.
CHART_DAYS = 30


@dataclass
class Takings:
    """One currency's money in one mode: charged, refunded, and what is left."""

    currency: str
    gross: int = 0
    refunded: int = 0

    @property
    def net(self):
        return self.gross - self.refunded


@dataclass
class Revenue:
    """An event's takings per currency (live and test apart), and the live money of each of
    the last CHART_DAYS days per currency: {currency: [(day, paid, refunded)]}."""

    live: list = field(default_factory=list)
    test: list = field(default_factory=list)
    days: dict = field(default_factory=dict)

    def __bool__(self):
        return bool(self.live or self.test)


def revenue_of(session, event_id, today=None):
    """Return the event's :class:`Revenue`."""
    today = today or utcnow().date()
    first = today - timedelta(days=CHART_DAYS - 1)
    totals, daily = {}, {}
    for kind, currency, test, day, amount in session.execute(_MONEY, {"event_id": event_id}):
        takings = totals.setdefault((bool(test), currency), Takings(currency))
        setattr(takings, kind, getattr(takings, kind) + int(amount))
        moment = date.fromisoformat(day)
        if not test and first <= moment <= today:
            paid, refunded = daily.setdefault(currency, {}).get(moment, (0, 0))
            daily[currency][moment] = ((paid + int(amount), refunded) if kind == "gross"
                                       else (paid, refunded + int(amount)))
    revenue = Revenue()
    for (test, _currency), takings in sorted(totals.items()):
        (revenue.test if test else revenue.live).append(takings)
    for currency, by_day in sorted(daily.items()):
        revenue.days[currency] = [(first + timedelta(days=n), *by_day.get(
            first + timedelta(days=n), (0, 0))) for n in range(CHART_DAYS)]
    return revenue


def _day(column):
    """The UTC day of a timestamp, as ``2026-12-07`` on either database."""
    return func.substr(utc_text(column), 1, 10)


def _sum(column):
    # PostgreSQL sums bigints as numeric: back to a whole number of minor units.
    return cast(func.sum(column), BigInteger)


_purchase = TicketPurchase
_charged_day = _day(func.coalesce(_purchase.paid_at, _purchase.created_at))
# What ThriveCart charged: every purchase an order made (not those granted by hand), even one
# refunded before its order arrived (the charge happened all the same).
_CHARGED = (
    select(sql_constant("gross"), _purchase.charged_currency, _purchase.test, _charged_day,
           _sum(_purchase.charged_amount))
    .join(Ticket, Ticket.id == _purchase.ticket_id)
    .where(Ticket.event_id == bindparam("event_id"), _purchase.charged_amount.is_not(None),
           _purchase.charged_currency.is_not(None))
    .group_by(_purchase.charged_currency, _purchase.test, _charged_day)
)
_refund = LifecycleEvent
_refund_currency = func.coalesce(_refund.currency, Event.currency)
_refund_test = func.coalesce(WebhookDelivery.test, False)
_refund_day = _day(_refund.occurred_at)
# What its refunds gave back, in the refund's currency (the event's when it named none); test
# as the delivery that brought it was. A refund of an order that never reached this event
# (it waits for it) is not money this event took.
_REFUNDED = (
    select(sql_constant("refunded"), type_coerce(_refund_currency, String), _refund_test,
           _refund_day, _sum(_refund.amount))
    .join(Event, Event.id == _refund.event_id)
    .outerjoin(WebhookDelivery, WebhookDelivery.id == _refund.delivery_id)
    .where(_refund.event_id == bindparam("event_id"),
           type_coerce(_refund.kind, String) == sql_constant(LifecycleKind.REFUND.value),
           _refund.amount.is_not(None),
           select(_purchase.id).join(Ticket, Ticket.id == _purchase.ticket_id)
           .where(Ticket.event_id == _refund.event_id,
                  _purchase.thrivecart_order_id == _refund.order_id,
                  _purchase.thrivecart_item_key == _refund.item_key).exists())
    .group_by(_refund_currency, _refund_test, _refund_day)
)
# Both in one statement.
_MONEY = _CHARGED.union_all(_REFUNDED)


@dataclass(frozen=True)
class Bar:
    """One day of the chart, placed: the day, its money and the two bars' geometry."""

    day: date
    paid: int
    refunded: int
    x: float
    paid_height: float
    refunded_height: float


def chart(days, width=600, height=120):
    """Place a currency's days (:attr:`Revenue.days`) on a chart ``width`` x ``height``: per
    day a paid bar and a refunded bar beside it, scaled to the largest amount."""
    top = max((max(paid, refunded) for _day, paid, refunded in days), default=0) or 1
    step = width / max(len(days), 1)
    return [Bar(day, paid, refunded, round(n * step, 2), round(paid / top * height, 2),
                round(refunded / top * height, 2))
            for n, (day, paid, refunded) in enumerate(days)]
