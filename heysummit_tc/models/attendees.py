"""Attendees of an event and the tickets they purchased."""

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..thrivecart.customer import ATTRIBUTION_LENGTH
from .base import Base, UTCDateTime, str_enum, utcnow


class PurchaseStatus(enum.StrEnum):
    """Where a purchase is in its life; see services.lifecycle for what each allows."""

    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"
    ENDED = "ended"
    REFUNDED = "refunded"
    PENDING = "pending"


class Attendee(Base):
    __tablename__ = "attendees"
    # Emails are stored trimmed and lower-cased, so this is case-insensitive uniqueness.
    __table_args__ = (
        UniqueConstraint("event_id", "email"),
        # The attendee list pages newest first within an event.
        Index("ix_attendees_event_id_id", "event_id", "id"),
        # An email change names the buyer by ThriveCart's customer id.
        Index("ix_attendees_event_id_customer", "event_id", "thrivecart_customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    # ThriveCart's customer id (digit strings beyond 2^53), when an order sent one.
    thrivecart_customer_id: Mapped[str | None] = mapped_column(String(40))
    # Set when the buyer's personal data was erased: the email is then a tombstone.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    purchases: Mapped[list["TicketPurchase"]] = relationship(
        back_populates="attendee", cascade="all, delete-orphan", order_by="TicketPurchase.id"
    )

    @property
    def full_name(self):
        return full_name(self.first_name, self.last_name)


def full_name(first_name, last_name):
    """A buyer's name as pages show it: the parts they gave, in order."""
    return " ".join(part for part in (first_name, last_name) if part)


class TicketPurchase(Base):
    __tablename__ = "ticket_purchases"
    __table_args__ = (
        # One purchase per attendee, ticket and order: a rebuy is a purchase of its own.
        UniqueConstraint("attendee_id", "ticket_id", "thrivecart_order_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_ticket_purchases_ticket_id_order", "ticket_id", "thrivecart_order_id"),
        # Searching by order id: the exact lookup.
        Index("ix_ticket_purchases_thrivecart_order_id", "thrivecart_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attendee_id: Mapped[int] = mapped_column(ForeignKey("attendees.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    status: Mapped[PurchaseStatus] = mapped_column(str_enum(PurchaseStatus, "purchase_status"))
    # The ticket's price, in minor units of `currency`.
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # What ThriveCart charged for the item, in minor units of the order's currency.
    charged_amount: Mapped[int | None] = mapped_column(BigInteger)
    charged_currency: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(20), default="thrivecart")
    thrivecart_order_id: Mapped[str | None] = mapped_column(String(40))
    thrivecart_item_key: Mapped[str | None] = mapped_column(String(40))
    test: Mapped[bool] = mapped_column(default=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A cancelled subscription gives access until then (None: no end).
    access_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rebills and payment-plan instalments after the first payment.
    payments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_payment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_invoice_id: Mapped[str | None] = mapped_column(String(40))
    # Attribution as ThriveCart sent it with the order, verbatim and cut to ATTRIBUTION_LENGTH.
    country: Mapped[str | None] = mapped_column(String(ATTRIBUTION_LENGTH))
    affiliate: Mapped[str | None] = mapped_column(String(ATTRIBUTION_LENGTH))
    coupon: Mapped[str | None] = mapped_column(String(ATTRIBUTION_LENGTH))
    utm_source: Mapped[str | None] = mapped_column(String(ATTRIBUTION_LENGTH))
    utm_medium: Mapped[str | None] = mapped_column(String(ATTRIBUTION_LENGTH))
    utm_campaign: Mapped[str | None] = mapped_column(String(ATTRIBUTION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    attendee: Mapped[Attendee] = relationship(back_populates="purchases")
    ticket: Mapped["Ticket"] = relationship()  # noqa: F821
    changes: Mapped[list["PurchaseChange"]] = relationship(
        back_populates="purchase", cascade="all, delete-orphan",
        order_by="(PurchaseChange.changed_at, PurchaseChange.id)",
    )


class PurchaseChange(Base):
    """One change of a purchase's status: when, from what to what, and who or what caused it."""

    __tablename__ = "purchase_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_purchases.id", ondelete="CASCADE"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[PurchaseStatus | None] = mapped_column(
        str_enum(PurchaseStatus, "purchase_change_from"))
    to_status: Mapped[PurchaseStatus] = mapped_column(
        str_enum(PurchaseStatus, "purchase_change_to"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(200), default="")

    purchase: Mapped[TicketPurchase] = relationship(back_populates="changes")
    user: Mapped["User | None"] = relationship()  # noqa: F821


class TicketPurchaseCount(Base):
    """How many purchases a ticket has, and how many of them are paid (and paid in test
    mode), kept by triggers on ``ticket_purchases`` (migrations 2d4c1e9f7a60, 8c3b5e7d9a12
    and 3f9a1c6e2b47) so that the tickets page and the dashboard sum a few rows instead of
    counting every purchase.

    Each ticket's count is split into shards by attendee, so that deliveries buying the same
    ticket at once rarely wait for the same row.
    """

    __tablename__ = "ticket_purchase_counts"

    SHARDS = 16

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    purchases: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paid_test: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EventAttendeeCount(Base):
    """How many attendees an event has, kept by triggers on ``attendees`` (migration
    3f9a1c6e2b47) in shards by attendee, like :class:`TicketPurchaseCount`."""

    __tablename__ = "event_attendee_counts"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    attendees: Mapped[int] = mapped_column(Integer, default=0)
