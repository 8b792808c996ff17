"""Emails: the per-event access email, the outbox every email is sent from, access links."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, str_enum, utcnow


class EmailKind(enum.StrEnum):
    ACCESS = "access"  # written with the grant that causes it
    RESEND = "resend"  # an organiser asked for it again
    FRESH_LINK = "fresh_link"  # the buyer asked for a new link
    INVITE = "invite"  # a new member's set-password link (to a user, not an attendee)


class EmailStatus(enum.StrEnum):
    """pending -> sending -> sent | failed (after MAX_TRIES) | skipped (switched off)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class AccessEmailSettings(Base):
    """An event's access email: whether it is sent, and its words."""

    __tablename__ = "access_email_settings"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OutboxEmail(Base):
    """An email, written in the transaction that causes it and sent by a worker.

    An access email is unique per attendee, ticket and order: a grant is written once, however
    often ThriveCart repeats the order. The worker sends an attendee's pending rows of one
    order as one email. An invite goes to a user (``user_id``), not to an attendee.
    """

    __tablename__ = "outbox_emails"
    __table_args__ = (
        UniqueConstraint("attendee_id", "ticket_id", "order_id", "kind"),
        Index("ix_outbox_emails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    attendee_id: Mapped[int | None] = mapped_column(
        ForeignKey("attendees.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # The order that granted it (access emails); a unique token for the other kinds.
    order_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[EmailKind] = mapped_column(str_enum(EmailKind, "email_kind"))
    status: Mapped[EmailStatus] = mapped_column(str_enum(EmailStatus, "email_status"),
                                                default=EmailStatus.PENDING)
    test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which worker's claim landed on the row (see services.access_emails.claim).
    claim_token: Mapped[str | None] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(String(300))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    ticket: Mapped["Ticket | None"] = relationship()  # noqa: F821


class AccessLink(Base):
    """A link sent to a buyer: signed, single use, expiring."""

    __tablename__ = "access_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendee_id: Mapped[int] = mapped_column(ForeignKey("attendees.id", ondelete="CASCADE"),
                                             index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The digest of the key the browser that first opened it holds (a cookie): that browser,
    # and no other, may open it again until it expires.
    browser_digest: Mapped[str | None] = mapped_column(String(64))


class ActivityKind(enum.StrEnum):
    """What an entry of the activity log records."""

    SECRET_SAVED = "secret_saved"  # noqa: S105  # nosec B105
    SECRET_DISCONNECTED = "secret_disconnected"  # noqa: S105  # nosec B105
    TICKET_CREATED = "ticket_created"
    TICKET_CHANGED = "ticket_changed"
    TICKET_DELETED = "ticket_deleted"
    EVENT_CHANGED = "event_changed"
    MEMBER_ADDED = "member_added"
    MEMBER_ROLE_CHANGED = "member_role_changed"
    MEMBER_REMOVED = "member_removed"
    DELIVERY_REPLAYED = "delivery_replayed"
    HELD_RELEASED = "held_released"
    UNLINKED_RERUN = "unlinked_rerun"
    TEST_PURCHASE = "test_purchase"
    ACCESS_EMAIL_SAVED = "access_email_saved"
    ACCESS_EMAIL_RESENT = "access_email_resent"
    BUYER_ERASED = "buyer_erased"
    ATTENDEE_EMAIL_CHANGED = "attendee_email_changed"
    ATTENDEES_MERGED = "attendees_merged"
    ITEM_IGNORED = "item_ignored"
    ITEM_RESTORED = "item_restored"
    ATTENTION_RESOLVED = "attention_resolved"
    ATTENDEE_EDITED = "attendee_edited"
    TICKET_GRANTED = "ticket_granted"
    TICKET_REVOKED = "ticket_revoked"
    TEST_ORDERS_DELETED = "test_orders_deleted"
    PRICE_ADDED = "price_added"
    PRICE_REMOVED = "price_removed"
    ALERTS_CHANGED = "alerts_changed"


class ActivityEntry(Base):
    """An append-only record of who did what in an event."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_event_id_id", "event_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind, "activity_kind", 40))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped["User | None"] = relationship()  # noqa: F821
