"""Email alerts: who asked for them, per event, and the digests sent."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class AlertSubscription(Base):
    """An organiser's wish to hear by email what needs attention in one event.

    ``covered_until`` is the end of what the last digest reported; ``claimed_at`` marks a
    digest being sent right now, so that cron on several hosts sends it once.
    """

    __tablename__ = "alert_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    user: Mapped["User"] = relationship()  # noqa: F821
    event: Mapped["Event"] = relationship()  # noqa: F821
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    covered_until: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last delivery's time when silence was last reported: one alert per silence.
    silence_reported_for: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertDigest(Base):
    """One digest email as it was sent."""

    __tablename__ = "alert_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscriptions.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # How many of each finding it reported, e.g. "failed=1 unlinked=2".
    findings: Mapped[str] = mapped_column(Text)
    covered_from: Mapped[datetime] = mapped_column(UTCDateTime)
    covered_until: Mapped[datetime] = mapped_column(UTCDateTime)
