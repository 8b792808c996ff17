"""Events, their tickets and ticket prices."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, str_enum, utcnow


class OnPaymentFailed(enum.StrEnum):
    """What a failed rebill does to access."""

    KEEP = "keep"  # a grace period: access stays until the subscription is cancelled
    SUSPEND = "suspend"  # no access until the next payment succeeds


class OnCancel(enum.StrEnum):
    """What a cancelled subscription does to access."""

    KEEP = "keep"  # access for good
    PERIOD_END = "period_end"  # until the end of the period already paid for
    NOW = "now"  # ends at the cancellation


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list["EventMember"]] = relationship(  # noqa: F821
        back_populates="event", cascade="all, delete-orphan"
    )
    tickets: Mapped[list["Ticket"]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Ticket.id"
    )


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("event_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # The ThriveCart item key this ticket stands for (product-2, bump-2, ...); see thrivecart.items.
    external_id: Mapped[str | None] = mapped_column(String(40))
    on_payment_failed: Mapped[OnPaymentFailed] = mapped_column(
        str_enum(OnPaymentFailed, "on_payment_failed"), default=OnPaymentFailed.KEEP,
        server_default=OnPaymentFailed.KEEP.value)
    on_cancel: Mapped[OnCancel] = mapped_column(
        str_enum(OnCancel, "on_cancel"), default=OnCancel.KEEP,
        server_default=OnCancel.KEEP.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    event: Mapped[Event] = relationship(back_populates="tickets")
    prices: Mapped[list["TicketPrice"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan",
        order_by="(TicketPrice.currency, TicketPrice.amount.desc())",
    )


class TicketPrice(Base):
    __tablename__ = "ticket_prices"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    # Integer minor units (cents): 97.00 USD is 9700.
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

    ticket: Mapped[Ticket] = relationship(back_populates="prices")
