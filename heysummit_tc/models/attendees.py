"""Attendees of an event and the tickets they purchased."""

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class PurchaseStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"


class Attendee(Base):
    __tablename__ = "attendees"
    # Emails are stored trimmed and lower-cased, so this is case-insensitive uniqueness.
    __table_args__ = (
        UniqueConstraint("event_id", "email"),
        # The attendee list pages newest first within an event.
        Index("ix_attendees_event_id_id", "event_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    purchases: Mapped[list["TicketPurchase"]] = relationship(
        back_populates="attendee", cascade="all, delete-orphan", order_by="TicketPurchase.id"
    )

    @property
    def full_name(self):
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class TicketPurchase(Base):
    __tablename__ = "ticket_purchases"
    __table_args__ = (
        UniqueConstraint("attendee_id", "ticket_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_ticket_purchases_ticket_id_order", "ticket_id", "thrivecart_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attendee_id: Mapped[int] = mapped_column(ForeignKey("attendees.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    status: Mapped[PurchaseStatus] = mapped_column(
        Enum(PurchaseStatus, name="purchase_status",
             values_callable=lambda statuses: [s.value for s in statuses],
             native_enum=False, length=20, validate_strings=True,
             create_constraint=True)
    )
    # The ticket's price, in minor units of `currency`.
    amount: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # What ThriveCart charged for the item now, in the order's currency (minor units).
    charged_amount: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="thrivecart")
    thrivecart_order_id: Mapped[str | None] = mapped_column(String(40))
    thrivecart_item_key: Mapped[str | None] = mapped_column(String(40))
    test: Mapped[bool] = mapped_column(default=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    attendee: Mapped[Attendee] = relationship(back_populates="purchases")
    ticket: Mapped["Ticket"] = relationship()  # noqa: F821
