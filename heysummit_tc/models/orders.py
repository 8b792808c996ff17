"""ThriveCart orders as an event knows them: the row every delivery of an order locks, and
the refunds, rebills and cancellations kept for it."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, str_enum, utcnow


class LifecycleKind(enum.StrEnum):
    """The ThriveCart events that change an order after its ``order.success``."""

    REFUND = "refund"
    REBILL_FAILED = "rebill_failed"
    SUBSCRIPTION_PAYMENT = "subscription_payment"
    SUBSCRIPTION_CANCELLED = "subscription_cancelled"


class ThriveCartOrder(Base):
    """A ThriveCart order as one event knows it.

    Every delivery that names the order upserts this row first, which locks it: deliveries of
    one order apply one after another, on any number of processes, so their interleaving
    cannot change the result.
    """

    __tablename__ = "thrivecart_orders"
    # The orders page lists an event's orders newest first.
    __table_args__ = (Index("ix_thrivecart_orders_event_id_first_seen_at", "event_id",
                            "first_seen_at", "order_id"),)

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Whether a refund, cancellation or rebill was ever received for it: only then does an
    # order.success need to read them.
    has_lifecycle_events: Mapped[bool] = mapped_column(default=False)


class LifecycleEvent(Base):
    """A refund, cancellation, failed rebill or rebill of one item of an order, kept once.

    Kept whether or not the order has arrived: a purchase's state is worked out from all of
    its order's lifecycle events, so one that arrives first waits here for its order.
    """

    __tablename__ = "lifecycle_events"
    __table_args__ = (
        # A redelivered event is the same event: counted once.
        UniqueConstraint("event_id", "order_id", "item_key", "kind", "identity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(40))
    item_key: Mapped[str] = mapped_column(String(40))
    kind: Mapped[LifecycleKind] = mapped_column(str_enum(LifecycleKind, "lifecycle_kind", 30))
    # ThriveCart's event id when it sends one, else a digest of the event's content.
    identity: Mapped[str] = mapped_column(String(64))
    # Minor units of `currency` (refunds and payments).
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    # When it happened at ThriveCart (the event's own date), which orders them.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    billing_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invoice_id: Mapped[str | None] = mapped_column(String(40))
    # A rebill's place in its plan, when ThriveCart says: its number (recurring_payment_idx),
    # how many are still to come (remaining_rebills) and when the next is due.
    payment_number: Mapped[int | None] = mapped_column(Integer)
    remaining_payments: Mapped[int | None] = mapped_column(Integer)
    next_payment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
