"""The life of a ticket purchase: what each status means for access, and how ThriveCart's
refunds, rebills and cancellations move it.

A purchase's state is worked out from its order's success and *all* the lifecycle events
kept for that order and item (:func:`settle`), never from the order in which they arrived:
a refund that came before its order, a replayed success after a refund, or two deliveries
racing on two processes all end where any sequential order would. Plain functions of their
arguments, no database: :mod:`.provisioning` feeds them and writes what they decide.
:func:`expire_cancelled`, run from cron, is the one writer here.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, or_, update

from ..models import (
    LifecycleKind,
    OnCancel,
    OnPaymentFailed,
    PurchaseChange,
    PurchaseStatus,
    TicketPurchase,
    sql_constant,
    utcnow,
)
from ..thrivecart.events import SAME_INSTANT_ORDER

# Statuses a success of the *same* order never moves a purchase out of: a replay, a held
# release or a late redelivery must not grant again what was refunded or has ended.
SETTLED_BY_ORDER = frozenset(PurchaseStatus) - {PurchaseStatus.PENDING}



@dataclass(frozen=True)
class State:
    """What a purchase's order and its lifecycle events make of it."""

    status: PurchaseStatus
    refunded_at: datetime | None = None
    access_ends_at: datetime | None = None
    payments: int = 0
    last_payment_at: datetime | None = None
    last_invoice_id: str | None = None
    # Refunded so far in the charge's currency, when the charge is known.
    refunded: int = 0


def settle(events, *, charged_amount, charged_currency, on_cancel, current=None):
    """Return the state a paid purchase reaches through ``events``, whatever their order.

    Refunds add up per item; once they cover the charge in its currency the purchase is
    refunded, for good. A refund when the charge is unknown, or in another currency, revokes
    at once. Otherwise subscription events apply by the time they happened: a failed rebill
    marks payment failed, a payment restores paid, a cancellation cancels (access until the
    ticket's policy says). ``current`` is the stored status: an ``ended`` recorded by the
    expire job stays ended.
    """
    ordered = sorted(events, key=lambda event: (
        event.occurred_at, SAME_INSTANT_ORDER[event.kind], event.identity))
    refunded_at, refunded = _refunds(ordered, charged_amount, charged_currency)
    status, access_ends_at = PurchaseStatus.PAID, None
    payments, last_payment_at, last_invoice_id = 0, None, None
    for event in ordered:
        if event.kind == LifecycleKind.SUBSCRIPTION_PAYMENT:
            payments += 1
            last_payment_at, last_invoice_id = event.occurred_at, event.invoice_id
            if status == PurchaseStatus.PAYMENT_FAILED:
                status = PurchaseStatus.PAID
        elif event.kind == LifecycleKind.REBILL_FAILED:
            if status == PurchaseStatus.PAID:
                status = PurchaseStatus.PAYMENT_FAILED
        elif event.kind == LifecycleKind.SUBSCRIPTION_CANCELLED:
            if status in (PurchaseStatus.PAID, PurchaseStatus.PAYMENT_FAILED):
                status = PurchaseStatus.CANCELLED
                access_ends_at = cancellation_end(event, on_cancel)
    if refunded_at is not None:
        status = PurchaseStatus.REFUNDED
    elif status == PurchaseStatus.CANCELLED and current == PurchaseStatus.ENDED:
        status = PurchaseStatus.ENDED
    return State(status, refunded_at, access_ends_at, payments, last_payment_at,
                 last_invoice_id, refunded)


def _refunds(ordered, charged_amount, charged_currency):
    """Return when the refunds came to cover the charge (None while they do not) and how much
    they came to by then."""
    total = 0
    for event in ordered:
        if event.kind != LifecycleKind.REFUND:
            continue
        if charged_amount is None or event.amount is None or event.currency != charged_currency:
            return event.occurred_at, total
        total += event.amount
        if total >= charged_amount:
            return event.occurred_at, total
    return None, total


def cancellation_end(event, on_cancel):
    """Return when access ends after a cancellation under the ticket's policy (None: never)."""
    if on_cancel == OnCancel.NOW:
        return event.occurred_at
    if on_cancel == OnCancel.PERIOD_END:
        # Without a period end from ThriveCart, the paid period cannot be known: end now.
        return event.billing_period_end or event.occurred_at
    return None


def has_access(status, access_ends_at, on_payment_failed, now):
    """Tell whether a purchase gives access at ``now`` (SPEC 3, Lifecycle)."""
    if status == PurchaseStatus.PAID:
        return True
    if status == PurchaseStatus.PAYMENT_FAILED:
        return on_payment_failed != OnPaymentFailed.SUSPEND
    if status == PurchaseStatus.CANCELLED:
        return access_ends_at is None or now < access_ends_at
    return False


def has_access_clause(status, access_ends_at, on_payment_failed, now):
    """:func:`has_access` as a SQL condition over the same four, stored values compared as
    text (false, or NULL, without a purchase)."""
    return or_(
        status == sql_constant(PurchaseStatus.PAID),
        and_(status == sql_constant(PurchaseStatus.PAYMENT_FAILED),
             on_payment_failed != sql_constant(OnPaymentFailed.SUSPEND)),
        and_(status == sql_constant(PurchaseStatus.CANCELLED),
             or_(access_ends_at.is_(None), access_ends_at > now)),
    )


def expire_cancelled(session, now=None):
    """Record ``ended`` for cancelled purchases whose access has run out; return how many.

    Idempotent and safe on several hosts at once: each row moves in one conditional UPDATE,
    so a purchase another run ended already is not matched again, and its change is recorded
    once. Pages and exports work access out from the clock whether or not this has run.
    """
    now = now or utcnow()
    ended = session.connection().execute(
        update(TicketPurchase)
        .where(TicketPurchase.status == PurchaseStatus.CANCELLED,
               TicketPurchase.access_ends_at <= now)  # never true of no end (NULL)
        .values(status=PurchaseStatus.ENDED, updated_at=now)
        .returning(TicketPurchase.id)
    ).scalars().all()
    if ended:
        session.execute(insert(PurchaseChange), [
            {"purchase_id": purchase_id, "changed_at": now,
             "from_status": PurchaseStatus.CANCELLED, "to_status": PurchaseStatus.ENDED,
             "reason": "access ended after the cancellation"}
            for purchase_id in ended
        ])
    return len(ended)
