"""The ThriveCart integration of an event and the webhook deliveries it received."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class ThriveCartIntegration(Base):
    __tablename__ = "thrivecart_integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), unique=True
    )
    # HMAC-SHA256 of the Secret Word under SECRET_WORD_KEY, hex; never the word itself.
    secret_digest: Mapped[str] = mapped_column(String(64), index=True)
    secret_last3: Mapped[str] = mapped_column(String(3))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Posts rejected for a wrong secret before this moment no longer raise the warning.
    rejections_dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped["Event"] = relationship()  # noqa: F821
    set_by: Mapped["User | None"] = relationship()  # noqa: F821


class WebhookDelivery(Base):
    """One authenticated POST from ThriveCart (or a replay source built like one)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(20), default="webhook")
    event_type: Mapped[str] = mapped_column(String(64), default="")
    mode: Mapped[str] = mapped_column(String(10), default="")
    test: Mapped[bool] = mapped_column(default=False)
    thrivecart_account: Mapped[str] = mapped_column(String(100), default="")
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(40))
    customer_email: Mapped[str | None] = mapped_column(String(254), index=True)
    # received -> processed | ignored | failed; a replay moves it again.
    status: Mapped[str] = mapped_column(String(20), default="received")
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The parsed body without thrivecart_secret; None once pruned.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    payload_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list["DeliveryEvent"]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan"
    )
    outcomes: Mapped[list["DeliveryOutcome"]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan",
        order_by="(DeliveryOutcome.attempt, DeliveryOutcome.id)",
    )


class DeliveryEvent(Base):
    """An event a delivery was addressed to: the delivery log of an event reads these."""

    __tablename__ = "delivery_events"
    __table_args__ = (
        Index("ix_delivery_events_event_id_delivery_id", "event_id", "delivery_id"),
    )

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="events")


class DeliveryOutcome(Base):
    """What one processing attempt of a delivery did to one item in one event."""

    __tablename__ = "delivery_outcomes"
    __table_args__ = (
        Index("ix_delivery_outcomes_delivery_id_event_id", "delivery_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    item_key: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(30))
    # Indexed foreign keys: deleting a ticket, purchase or event must not scan every outcome.
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    attendee_id: Mapped[int | None] = mapped_column(
        ForeignKey("attendees.id", ondelete="SET NULL"), index=True
    )
    purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket_purchases.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="outcomes")
    ticket: Mapped["Ticket | None"] = relationship()  # noqa: F821


class HeldDelivery(Base):
    """A POST whose secret matched no integration, kept redacted in case one is saved later."""

    __tablename__ = "held_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    thrivecart_account: Mapped[str] = mapped_column(String(100), default="", index=True)
    # Keyed digest of the presented secret, comparable with ThriveCartIntegration.secret_digest.
    secret_digest: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64), default="")
    order_id: Mapped[str | None] = mapped_column(String(40))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    client_address: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL")
    )
