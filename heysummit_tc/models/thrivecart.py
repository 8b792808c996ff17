"""The ThriveCart integration of an event and the webhook deliveries it received (the orders
they describe are in :mod:`.orders`)."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, str_enum, utcnow


class DeliveryStatus(enum.StrEnum):
    """received -> processed | ignored | failed; a replay moves it again."""

    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class OutcomeKind(enum.StrEnum):
    """What one attempt of a delivery did to one item in one event."""

    PAID = "paid"
    ALREADY_PAID = "already_paid"
    ALREADY_PAYMENT_FAILED = "already_payment_failed"
    ALREADY_CANCELLED = "already_cancelled"
    ALREADY_ENDED = "already_ended"
    ALREADY_REFUNDED = "already_refunded"
    REFUNDED = "refunded"
    PARTIAL_REFUND = "partial_refund"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_RECORDED = "payment_recorded"
    CANCELLED = "cancelled"
    WAITING_FOR_ORDER = "waiting_for_order"
    DUPLICATE = "duplicate"
    UNLINKED = "unlinked"
    # Another event that received the delivery links the item: not this event's to link.
    LINKED_ELSEWHERE = "linked_elsewhere"
    TICKET_INACTIVE = "ticket_inactive"
    NO_ITEMS = "no_items"
    IGNORED = "ignored"
    FAILED = "failed"
    # customer_updated: the buyer's email changed, collides with another attendee's, or
    # names no attendee of the event.
    EMAIL_CHANGED = "email_changed"
    EMAIL_CONFLICT = "email_conflict"
    UNKNOWN_CUSTOMER = "unknown_customer"


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
    # When a Secret Word was first saved (set_at moves on every save): posts rejected before
    # it arrived before any Secret Word, not with a wrong one.
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Posts rejected for a wrong secret before this moment no longer raise the warning.
    rejections_dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped["Event"] = relationship()  # noqa: F821
    set_by: Mapped["User | None"] = relationship()  # noqa: F821


class EventAccount(Base):
    """A ThriveCart account that has posted to an event, noted by a trigger on
    ``delivery_events`` (migration 7d2e9a4c1f58): a post rejected for its secret concerns
    the events whose accounts it names."""

    __tablename__ = "event_accounts"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          primary_key=True)
    thrivecart_account: Mapped[str] = mapped_column(String(100), primary_key=True)


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
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.RECEIVED)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The parsed body without thrivecart_secret; once ``payload_pruned_at`` is set, without
    # its buyer too (retention or erasure: thrivecart.redaction); None if pruned before that.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    payload_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @hybrid_property
    def replayable(self):
        """Whether the payload still holds the whole order (retention and erasure remove
        the buyer from it, and an order without its buyer cannot be applied again); also a
        SQL condition."""
        return self.payload is not None and self.payload_pruned_at is None

    @replayable.inplace.expression
    @classmethod
    def _replayable_expression(cls):
        return and_(cls.payload.is_not(None), cls.payload_pruned_at.is_(None))
    # The latest attempt: when, and who asked for it (None: ThriveCart itself, or the CLI).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    processed_by: Mapped["User | None"] = relationship()  # noqa: F821
    events: Mapped[list["DeliveryEvent"]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan"
    )
    outcomes: Mapped[list["DeliveryOutcome"]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan",
        order_by="(DeliveryOutcome.attempt, DeliveryOutcome.id)",
    )


class DeliveryEvent(Base):
    """An event a delivery was addressed to: the delivery log of an event reads these.

    It also keeps what the log filters on, so that a filtered page costs what the first does:
    when the delivery was received, its latest attempt in this event and whether that
    attempt left something that needs the organiser's attention.
    """

    __tablename__ = "delivery_events"
    __table_args__ = (
        Index("ix_delivery_events_event_id_delivery_id", "event_id", "delivery_id"),
        Index("ix_delivery_events_event_id_received_at", "event_id", "received_at",
              "delivery_id"),
        # The dashboard's Needs attention card: the few that need the organiser. Said as its
        # query says it (``attention IS true``), so that SQLite uses it too.
        Index("ix_delivery_events_attention", "event_id", "received_at",
              postgresql_where=text("attention IS true"), sqlite_where=text("attention IS 1")),
    )

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # 0 until processed; then the delivery's attempt whose outcomes in this event count.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    attention: Mapped[bool] = mapped_column(default=False)
    # An organiser marked what needed attention resolved: when, who, and why.
    # (Who by their email, as it was: the activity log keeps the rest.)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    resolved_note: Mapped[str | None] = mapped_column(String(500))

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="events")


class DeliveryOutcome(Base):
    """What one processing attempt of a delivery did to one item in one event."""

    __tablename__ = "delivery_outcomes"
    __table_args__ = (
        Index("ix_delivery_outcomes_delivery_id_event_id", "delivery_id", "event_id"),
        # The grants whose access email is still to be queued: a small, partial index.
        Index("ix_delivery_outcomes_email_due", "id",
              postgresql_where=text("outcome = 'paid' AND email_queued_at IS NULL"),
              sqlite_where=text("outcome = 'paid' AND email_queued_at IS NULL")),
        # Items left unapplied (the unlinked inbox, re-runs): few among many outcomes. Their
        # queries state this condition as written (services.unlinked.UNAPPLIED): SQLite uses a
        # partial index only for a query whose condition implies its own, literal by literal.
        Index("ix_delivery_outcomes_unapplied", "event_id", "item_key",
              postgresql_where=text("outcome IN ('unlinked', 'ticket_inactive')"),
              sqlite_where=text("outcome IN ('unlinked', 'ticket_inactive')")),
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
    # The item's name as ThriveCart sent it (for items no ticket links).
    item_name: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[OutcomeKind] = mapped_column(str_enum(OutcomeKind, "outcome_kind", 30))
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
    # A grant (outcome paid) is the access email's outbox entry: written in the grant's own
    # transaction, it waits here (NULL) until the worker queues its email.
    email_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="outcomes")
    ticket: Mapped["Ticket | None"] = relationship()  # noqa: F821


class HeldDelivery(Base):
    """A POST whose secret matched no integration, kept redacted in case one is saved later."""

    __tablename__ = "held_deliveries"
    __table_args__ = (
        # The caps on held deliveries count and trim the unreleased ones of a secret, of a
        # client address and in all, one post at a time: partial indexes hold just those.
        Index("ix_held_deliveries_unreleased_secret", "secret_digest", "id",
              postgresql_where=text("released_at IS NULL"),
              sqlite_where=text("released_at IS NULL")),
        Index("ix_held_deliveries_unreleased_client", "client_address", "id",
              postgresql_where=text("released_at IS NULL"),
              sqlite_where=text("released_at IS NULL")),
        Index("ix_held_deliveries_unreleased", "id",
              postgresql_where=text("released_at IS NULL"),
              sqlite_where=text("released_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    thrivecart_account: Mapped[str] = mapped_column(String(100), default="", index=True)
    # Keyed digest of the presented secret, comparable with ThriveCartIntegration.secret_digest.
    secret_digest: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64), default="")
    order_id: Mapped[str | None] = mapped_column(String(40))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    client_address: Mapped[str | None] = mapped_column(String(64))
    test: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL")
    )


class HeldRefusal(Base):
    """Posts refused because the store of held deliveries was full, counted per minute.

    A sender who knows no Secret Word must not evict held orders, so a full store refuses new
    posts (503, for ThriveCart to try again) instead; organisers are told from these counts.
    One row a minute at the most, kept as long as held deliveries are.
    """

    __tablename__ = "held_refusals"

    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
