"""Events, their tickets and ticket prices."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
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
    # An IANA name: pages show every time in it (exports stay in UTC).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # For buyers, on their access page: when it starts and how to get in.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joining_instructions: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list["EventMember"]] = relationship(  # noqa: F821
        back_populates="event", cascade="all, delete-orphan"
    )
    tickets: Mapped[list["Ticket"]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Ticket.id"
    )


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
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
    links: Mapped[list["TicketExternalId"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketExternalId.id",
    )

    @property
    def external_ids(self):
        """The ThriveCart item keys this ticket stands for, in the order they were given."""
        return [link.key for link in self.links]

    @property
    def external_ids_text(self):
        """The External IDs as the ticket form's field holds them: ``product-2, downsell-5``."""
        return ", ".join(self.external_ids)


class TicketExternalId(Base):
    """One External ID of a ticket: a ThriveCart item key (product-2, bump-2, ...; see
    thrivecart.items) whose orders grant it. A key unlocks one ticket per event."""

    __tablename__ = "ticket_external_ids"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The ticket's event, kept here so that the database holds each key to one ticket.
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(40))

    ticket: Mapped[Ticket] = relationship(back_populates="links")


class IgnoredItem(Base):
    """An item ThriveCart sends that the organisers chose not to link (a workbook bump, say):
    listed under Ignored in the inbox and counted nowhere, until restored."""

    __tablename__ = "ignored_items"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped["User | None"] = relationship()  # noqa: F821


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
