"""The pure rules of the delivery path, one table each, without an app or a database:
how a purchase settles from its order's events, when it gives access, which price it
records, and how an attempt's outcomes read in the log."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from heysummit_tc.models import LifecycleKind, OnCancel, OnPaymentFailed, OutcomeKind
from heysummit_tc.models import PurchaseStatus as S
from heysummit_tc.services.attempts import Attempt
from heysummit_tc.services.grants import choose_price
from heysummit_tc.services.lifecycle import has_access, settle
from heysummit_tc.services.outcomes import DANGER, GOOD, INFO, NEUTRAL, WARNING, summarise
from heysummit_tc.thrivecart.order import Lifecycle, read_order

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REFUND, FAILED_REBILL, PAYMENT, CANCEL = (
    LifecycleKind.REFUND, LifecycleKind.REBILL_FAILED, LifecycleKind.SUBSCRIPTION_PAYMENT,
    LifecycleKind.SUBSCRIPTION_CANCELLED)


def event(kind, hour, amount=None, currency="USD", period_end=None, identity=None):
    """A lifecycle event ``hour`` hours after T0."""
    return Lifecycle(kind=kind, item_key="product-1", identity=identity or f"{kind}-{hour}",
                     amount=amount, currency=currency, occurred_at=T0 + timedelta(hours=hour),
                     billing_period_end=period_end, invoice_id=f"INV-{hour}")


def at(hour):
    return T0 + timedelta(hours=hour)


# (case, events, charged amount, charged currency, on_cancel, stored status,
#  expected status, expected refunded_at, expected access_ends_at, payments, refunded so far)
SETTLE = [
    ("no events: paid", [], 9700, "USD", OnCancel.KEEP, None, S.PAID, None, None, 0, 0),
    ("a full refund", [event(REFUND, 1, 9700)], 9700, "USD", OnCancel.KEEP, None,
     S.REFUNDED, at(1), None, 0, 9700),
    ("a partial refund keeps it paid", [event(REFUND, 1, 3000)], 9700, "USD", OnCancel.KEEP,
     None, S.PAID, None, None, 0, 3000),
    ("partial refunds that add up refund it when they cover the charge",
     [event(REFUND, 1, 3000), event(REFUND, 2, 6700)], 9700, "USD", OnCancel.KEEP, None,
     S.REFUNDED, at(2), None, 0, 9700),
    ("refunds past the charge: refunded when first covered",
     [event(REFUND, 1, 5000), event(REFUND, 2, 5000), event(REFUND, 3, 5000)], 9700, "USD",
     OnCancel.KEEP, None, S.REFUNDED, at(2), None, 0, 10000),
    ("a refund in another currency revokes at once", [event(REFUND, 1, 100, "EUR")], 9700,
     "USD", OnCancel.KEEP, None, S.REFUNDED, at(1), None, 0, 0),
    ("a refund without an amount revokes at once", [event(REFUND, 1, None)], 9700, "USD",
     OnCancel.KEEP, None, S.REFUNDED, at(1), None, 0, 0),
    ("a refund of an unknown charge revokes at once", [event(REFUND, 1, 100)], None, None,
     OnCancel.KEEP, None, S.REFUNDED, at(1), None, 0, 0),
    ("a failed rebill", [event(FAILED_REBILL, 1)], 9700, "USD", OnCancel.KEEP, None,
     S.PAYMENT_FAILED, None, None, 0, 0),
    ("a payment after a failed rebill pays again",
     [event(FAILED_REBILL, 1), event(PAYMENT, 2)], 9700, "USD", OnCancel.KEEP, None,
     S.PAID, None, None, 1, 0),
    ("a payment before a failed rebill does not undo it",
     [event(PAYMENT, 1), event(FAILED_REBILL, 2)], 9700, "USD", OnCancel.KEEP, None,
     S.PAYMENT_FAILED, None, None, 1, 0),
    ("the same instant: the payment applies first",
     [event(FAILED_REBILL, 1), event(PAYMENT, 1)], 9700, "USD", OnCancel.KEEP, None,
     S.PAYMENT_FAILED, None, None, 1, 0),
    ("a cancellation keeping access", [event(CANCEL, 1)], 9700, "USD", OnCancel.KEEP, None,
     S.CANCELLED, None, None, 0, 0),
    ("a cancellation ending access now", [event(CANCEL, 1)], 9700, "USD", OnCancel.NOW, None,
     S.CANCELLED, None, at(1), 0, 0),
    ("a cancellation ending at the period's end",
     [event(CANCEL, 1, period_end=at(100))], 9700, "USD", OnCancel.PERIOD_END, None,
     S.CANCELLED, None, at(100), 0, 0),
    ("a period end ThriveCart did not send ends access now", [event(CANCEL, 1)], 9700,
     "USD", OnCancel.PERIOD_END, None, S.CANCELLED, None, at(1), 0, 0),
    ("a cancellation after a failed rebill cancels",
     [event(FAILED_REBILL, 1), event(CANCEL, 2)], 9700, "USD", OnCancel.KEEP, None,
     S.CANCELLED, None, None, 0, 0),
    ("a payment after a cancellation does not restore it",
     [event(CANCEL, 1), event(PAYMENT, 2)], 9700, "USD", OnCancel.KEEP, None,
     S.CANCELLED, None, None, 1, 0),
    ("an ended purchase stays ended", [event(CANCEL, 1)], 9700, "USD", OnCancel.NOW, S.ENDED,
     S.ENDED, None, at(1), 0, 0),
    ("a refund beats an ended purchase", [event(CANCEL, 1), event(REFUND, 2, 9700)], 9700,
     "USD", OnCancel.NOW, S.ENDED, S.REFUNDED, at(2), at(1), 0, 9700),
    ("a refund beats a cancellation", [event(CANCEL, 2), event(REFUND, 1, 9700)], 9700,
     "USD", OnCancel.KEEP, None, S.REFUNDED, at(1), None, 0, 9700),
]


@pytest.mark.parametrize(
    "events, charged, currency, on_cancel, current, status, refunded_at, ends, payments, "
    "refunded", [case[1:] for case in SETTLE], ids=[case[0] for case in SETTLE])
def test_settle(events, charged, currency, on_cancel, current, status, refunded_at, ends,
                payments, refunded):
    for order in (events, list(reversed(events))):  # the order of arrival never matters
        state = settle(order, charged_amount=charged, charged_currency=currency,
                       on_cancel=on_cancel, current=current)
        assert (state.status, state.refunded_at, state.access_ends_at, state.payments,
                state.refunded) == (status, refunded_at, ends, payments, refunded)


def test_settle_keeps_the_latest_payment_and_its_invoice():
    state = settle([event(PAYMENT, 3), event(PAYMENT, 1)], charged_amount=9700,
                   charged_currency="USD", on_cancel=OnCancel.KEEP)
    assert (state.payments, state.last_payment_at, state.last_invoice_id) == (
        2, at(3), "INV-3")


# (status, access_ends_at, on_payment_failed, expected at T0)
ACCESS = [
    (S.PAID, None, OnPaymentFailed.KEEP, True),
    (S.PAID, at(-1), OnPaymentFailed.SUSPEND, True),
    (S.PAYMENT_FAILED, None, OnPaymentFailed.KEEP, True),
    (S.PAYMENT_FAILED, None, OnPaymentFailed.SUSPEND, False),
    (S.CANCELLED, None, OnPaymentFailed.KEEP, True),
    (S.CANCELLED, at(1), OnPaymentFailed.KEEP, True),
    (S.CANCELLED, at(0), OnPaymentFailed.KEEP, False),
    (S.CANCELLED, at(-1), OnPaymentFailed.KEEP, False),
    (S.ENDED, None, OnPaymentFailed.KEEP, False),
    (S.REFUNDED, None, OnPaymentFailed.KEEP, False),
    (S.PENDING, None, OnPaymentFailed.KEEP, False),
]


@pytest.mark.parametrize("status, ends, on_payment_failed, expected", ACCESS)
def test_has_access(status, ends, on_payment_failed, expected):
    assert has_access(status, ends, on_payment_failed, T0) is expected


# (prices, order currency, event currency, expected (amount, currency))
PRICES = [
    ([], "USD", "EUR", (0, "EUR")),
    ([(9700, "USD")], "USD", "USD", (9700, "USD")),
    ([(9700, "USD"), (19700, "USD")], "USD", "USD", (19700, "USD")),
    ([(19700, "USD"), (13500, "EUR")], "EUR", "USD", (13500, "EUR")),
    ([(19700, "USD"), (13500, "EUR")], "JPY", "USD", (19700, "USD")),
    ([(100, "USD"), (100, "EUR")], "GBP", "USD", (100, "USD")),
    ([(100, "USD"), (100, "EUR")], None, "USD", (100, "USD")),
]


@pytest.mark.parametrize("prices, order_currency, event_currency, expected", PRICES)
def test_choose_price(prices, order_currency, event_currency, expected):
    assert choose_price(prices, order_currency, event_currency) == expected


def outcome(kind, item=None, detail=None):
    return SimpleNamespace(outcome=kind, item=item, detail=detail)


K = OutcomeKind
# (outcomes, event type, expected text, tone, attention)
SUMMARIES = [
    ([], "order.success", "not processed yet", NEUTRAL, False),
    ([outcome(K.PAID, "product-1"), outcome(K.PAID, "bump-1")], "order.success", "2 paid",
     GOOD, False),
    ([outcome(K.PAID, "product-1"), outcome(K.UNLINKED, "upsell-9")], "order.success",
     "1 paid · 1 unlinked: upsell-9", WARNING, True),
    ([outcome(K.UNLINKED, "upsell-9"), outcome(K.UNLINKED, "bump-2")], "order.success",
     "2 unlinked: bump-2, upsell-9", WARNING, True),
    ([outcome(K.ALREADY_PAID, "product-1"), outcome(K.DUPLICATE, "bump-1")],
     "order.success", "no change: already paid, received before", NEUTRAL, False),
    ([outcome(K.PAID, "product-1"), outcome(K.ALREADY_PAID, "bump-1")], "order.success",
     "1 paid · no change: already paid", GOOD, False),
    ([outcome(K.FAILED, None, "database error: gone")], "order.success",
     "failed: database error: gone", DANGER, True),
    ([outcome(K.FAILED)], "order.success", "failed", DANGER, True),
    ([outcome(K.WAITING_FOR_ORDER, "product-1")], "order.refund",
     "refund waiting for its order", WARNING, True),
    ([outcome(K.WAITING_FOR_ORDER, "product-1")], "order.subscription_cancelled",
     "cancellation waiting for its order", WARNING, True),
    ([outcome(K.REFUNDED, "product-1")], "order.refund", "1 refunded", INFO, False),
    # In the log, not in Needs attention: nothing is for anyone to do.
    ([outcome(K.PARTIAL_REFUND, "product-1")], "order.refund", "1 partial refund", INFO,
     False),
    ([outcome(K.IGNORED)], "affiliate.commission_earned", "ignored", NEUTRAL, False),
    ([outcome(K.NO_ITEMS)], "order.success", "no items", WARNING, True),
    ([outcome(K.EMAIL_CONFLICT)], "customer_updated",
     "email taken by another attendee: merge by hand", WARNING, True),
    ([outcome(K.EMAIL_CHANGED)], "customer_updated", "1 email changed", INFO, False),
]


@pytest.mark.parametrize("outcomes, event_type, text, tone, attention", SUMMARIES)
def test_summarise(outcomes, event_type, text, tone, attention):
    summary = summarise(outcomes, event_type)
    assert (summary.text, summary.tone, summary.attention) == (text, tone, attention)


def test_an_attempt_takes_each_event_once_in_id_order_and_its_moment_or_now():
    """Events are locked and reported in this order; a duplicate would be applied twice."""
    order = read_order({"event": "order.success", "order_id": "9" * 45})
    attempt = Attempt(None, 7, order, [3, 1, 3, 2], now=T0)
    assert (attempt.event_ids, attempt.now, attempt.order_id) == ((1, 2, 3), T0, "9" * 40)
    assert Attempt(None, 7, order, [1]).now > T0
    assert [o.event_id for o in attempt.everywhere(OutcomeKind.IGNORED, "why")] == [1, 2, 3]


HELD_CASES = {
    # (status, access ends hours after T0) of each purchase of one ticket, oldest first.
    "a rebuy after a refund gives access": ([(S.REFUNDED, None), (S.PAID, None)],
                                            (S.PAID, True)),
    "an older paid purchase beside a later refund still does": (
        [(S.PAID, None), (S.REFUNDED, None)], (S.PAID, True)),
    "none gives access: the latest says why": ([(S.REFUNDED, None), (S.ENDED, -1)],
                                               (S.ENDED, False)),
    "a cancelled one until its end": ([(S.REFUNDED, None), (S.CANCELLED, 5)],
                                      (S.CANCELLED, True)),
}


@pytest.mark.parametrize(("purchases", "held"), HELD_CASES.values(), ids=HELD_CASES.keys())
def test_a_ticket_bought_twice_is_held_while_any_purchase_gives_access(purchases, held):
    from heysummit_tc.services.access_links import held_tickets

    ticket = SimpleNamespace(id=1, name="Pass", on_payment_failed=OnPaymentFailed.KEEP)
    rows = [(SimpleNamespace(status=status, access_ends_at=ends if ends is None
                             else T0 + timedelta(hours=ends)), ticket)
            for status, ends in purchases]
    [(name, status, access, _ends)] = held_tickets(rows, T0)
    assert (name, status, access) == ("Pass", *held)
