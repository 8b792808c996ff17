"""Email alerts: organisers hear what needs attention before their buyers complain.

``flask alerts send`` runs from cron, on any number of hosts. Each subscription (an organiser
of an event who opted in) gets at most one digest an hour, covering what is new since the
last one. The digest is claimed in the database before it is sent, so two hosts never send
the same one; a failed send releases the claim and the next run tries again with the same
findings.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, distinct, func, or_, select, update

from ..models import (
    ActivityKind,
    AlertDigest,
    AlertSubscription,
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    EventMember,
    HeldDelivery,
    OutcomeKind,
    Role,
    Ticket,
    WebhookDelivery,
    utcnow,
)
from ..thrivecart.events import ORDER_SUCCESS
from . import ServiceError
from .activity import record
from .deliveries import last_delivery
from .held import refusals_between
from .integrations import integration_of
from .rejections import rejection_criteria
from .unlinked import still_unlinked

log = logging.getLogger(__name__)

DIGEST_INTERVAL = timedelta(hours=1)
# A claim older than this was left by a run that died mid-way: it may be taken again.
STALE_CLAIM = timedelta(minutes=10)


@dataclass
class Findings:
    """What a digest reports, each with the log filter that shows it."""

    failed: int = 0
    rejected: int = 0
    rejected_accounts: list[str] = field(default_factory=list)
    unlinked: int = 0
    unlinked_keys: list[str] = field(default_factory=list)
    payment_failed: int = 0
    silent_since: datetime | None = None
    # Posts refused because the store of held deliveries was full (no event of their own).
    held_refused: int = 0

    def __bool__(self):
        return bool(self.failed or self.rejected or self.unlinked or self.payment_failed
                    or self.silent_since or self.held_refused)

    def describe(self):
        return " ".join(f"{name}={value}" for name, value in (
            ("failed", self.failed), ("rejected", self.rejected), ("unlinked", self.unlinked),
            ("payment_failed", self.payment_failed),
            ("silent", int(self.silent_since is not None)),
            ("held_refused", self.held_refused)) if value)


def organiser_events(session, user_id):
    """Return the events the user organises, by name: those they may get alerts for."""
    return list(session.scalars(
        select(Event).join(EventMember, EventMember.event_id == Event.id)
        .where(EventMember.user_id == user_id, EventMember.role == Role.ORGANISER)
        .order_by(Event.name, Event.id)
    ))


def subscribed_event_ids(session, user_id):
    return set(session.scalars(
        select(AlertSubscription.event_id).where(AlertSubscription.user_id == user_id)))


def set_alert_events(session, user, event_ids, now=None):
    """Subscribe the user to alerts of exactly these events (organised ones only)."""
    allowed = {event.id for event in organiser_events(session, user.id)}
    wanted = set(event_ids)
    if not wanted <= allowed:
        raise ServiceError("Alerts are for events you organise.", field="alert_event_ids")
    current = {subscription.event_id: subscription for subscription in session.scalars(
        select(AlertSubscription).where(AlertSubscription.user_id == user.id))}
    now = now or utcnow()
    for event_id in wanted - current.keys():
        # What happened before the opt-in is on the page already; report from now on.
        session.add(AlertSubscription(user_id=user.id, event_id=event_id, created_at=now,
                                      covered_until=now))
        record(session, event_id, user, ActivityKind.ALERTS_CHANGED,
               f"{user.email} gets email alerts", now=now)
    for event_id in current.keys() - wanted:
        session.delete(current[event_id])
        record(session, event_id, user, ActivityKind.ALERTS_CHANGED,
               f"{user.email} gets email alerts no more", now=now)
    session.flush()


def findings_for(session, event_id, since, until, silence_days, silence_reported_for=None):
    """Return what happened in the event in [since, until) that an organiser should know."""
    window = [DeliveryOutcome.event_id == event_id, DeliveryOutcome.created_at >= since,
              DeliveryOutcome.created_at < until]

    def count(*criteria):
        return session.scalar(
            select(func.count(distinct(DeliveryOutcome.delivery_id)))
            .join(DeliveryEvent, _LATEST_ATTEMPT).where(*window, *criteria))

    findings = Findings(
        failed=count(DeliveryOutcome.outcome == OutcomeKind.FAILED),
        payment_failed=count(DeliveryOutcome.outcome == OutcomeKind.PAYMENT_FAILED),
    )
    keys = _unlinked_keys(session, event_id, window)
    findings.unlinked, findings.unlinked_keys = len(keys), sorted(set(keys))
    integration = integration_of(session, event_id)
    findings.rejected, findings.rejected_accounts = _rejected(
        session, event_id, integration, since, until)
    findings.held_refused = refusals_between(session, since, until)[0]
    findings.silent_since = _silent_since(session, event_id, integration, until, silence_days,
                                          silence_reported_for)
    return findings


# An outcome of the attempt that counts in its event (the latest).
_LATEST_ATTEMPT = and_(DeliveryEvent.delivery_id == DeliveryOutcome.delivery_id,
                       DeliveryEvent.event_id == DeliveryOutcome.event_id,
                       DeliveryEvent.attempt == DeliveryOutcome.attempt)


def _unlinked_keys(session, event_id, window):
    """The item keys of the orders in ``window`` that no ticket links, one per outcome."""
    unlinked = (
        select(DeliveryOutcome.item_key)
        .join(DeliveryEvent, _LATEST_ATTEMPT)
        .join(WebhookDelivery, WebhookDelivery.id == DeliveryOutcome.delivery_id)
        .where(*window, DeliveryOutcome.outcome == OutcomeKind.UNLINKED,
               WebhookDelivery.event_type == ORDER_SUCCESS, *still_unlinked(event_id))
    )
    return [key for key in session.scalars(unlinked) if key]


def _rejected(session, event_id, integration, since, until):
    """How many posts concerning the event were rejected in [since, until), and from which
    ThriveCart accounts."""
    rejected = [*rejection_criteria(event_id, integration, until),
                HeldDelivery.received_at >= since, HeldDelivery.received_at < until]
    count = session.scalar(select(func.count()).select_from(HeldDelivery).where(*rejected))
    if not count:
        return 0, []
    return count, sorted(set(session.scalars(
        select(HeldDelivery.thrivecart_account).where(*rejected))))


def _silent_since(session, event_id, integration, until, silence_days, reported_for):
    """Return when the event last heard from ThriveCart if that is too long ago, tickets are
    linked and this silence was not reported yet; else None."""
    if integration is None or silence_days <= 0:
        return None
    linked = session.scalar(select(func.count(Ticket.id)).where(
        Ticket.event_id == event_id, Ticket.links.any(), Ticket.active.is_(True)))
    if not linked:
        return None
    last = last_delivery(session, event_id)
    heard = max(last.received_at, integration.connected_at) if last else integration.connected_at
    if until - heard < timedelta(days=silence_days) or reported_for == heard:
        return None
    return heard


@dataclass(frozen=True)
class Digest:
    subscription_id: int
    event_id: int
    event_name: str
    recipient: str
    since: datetime
    until: datetime
    findings: Findings


# What one digest's send came to (send_digests counts them).
SENT, FAILED = "sent", "failed"


def send_digests(session, deliver, *, silence_days, now=None):
    """Send every due digest through ``deliver(digest)``; return (sent, failed).

    ``deliver`` sends one email and raises on failure. Commits as it goes: each digest is
    claimed, then sent and recorded, in transactions of its own.
    """
    now = now or utcnow()
    due = session.execute(
        select(AlertSubscription.id)
        .join(EventMember, and_(EventMember.event_id == AlertSubscription.event_id,
                                EventMember.user_id == AlertSubscription.user_id))
        .where(EventMember.role == Role.ORGANISER,
               or_(AlertSubscription.last_sent_at.is_(None),
                   AlertSubscription.last_sent_at <= now - DIGEST_INTERVAL))
        .order_by(AlertSubscription.id)
    ).scalars().all()
    session.rollback()
    results = [_send_digest(session, subscription_id, deliver, silence_days, now)
               for subscription_id in due]
    return results.count(SENT), results.count(FAILED)


def _send_digest(session, subscription_id, deliver, silence_days, now):
    """Claim, send and record one subscription's digest; return SENT, FAILED or None
    (another host has it, or nothing happened)."""
    if not _claim(session, subscription_id, now):
        return None  # another host has it, or sent it a moment ago
    subscription = session.get(AlertSubscription, subscription_id)
    findings = findings_for(session, subscription.event_id, subscription.covered_until, now,
                            silence_days, subscription.silence_reported_for)
    if not findings:
        _finish(session, subscription_id, covered_until=now, claimed_at=None)
        return None
    digest = Digest(subscription_id, subscription.event_id, subscription.event.name,
                    subscription.user.email, subscription.covered_until, now, findings)
    session.commit()
    try:
        subject = deliver(digest)
    except Exception as error:  # noqa: BLE001 - any failure: retried on the next run
        log.warning("alert digest %s to user %s not sent, retried next run: %s",
                    subscription_id, subscription.user_id, type(error).__name__,
                    exc_info=True)
        _finish(session, subscription_id, claimed_at=None)
        return FAILED
    session.add(AlertDigest(subscription_id=subscription_id, sent_at=now,
                            recipient=digest.recipient, subject=subject[:300],
                            findings=findings.describe(), covered_from=digest.since,
                            covered_until=now))
    _finish(session, subscription_id, last_sent_at=now, covered_until=now, claimed_at=None,
            **({"silence_reported_for": findings.silent_since}
               if findings.silent_since else {}))
    return SENT


def _claim(session, subscription_id, now):
    """Take the digest for sending, unless a run on any host has it or sent it lately."""
    claimed = session.execute(
        update(AlertSubscription)
        .where(AlertSubscription.id == subscription_id,
               or_(AlertSubscription.claimed_at.is_(None),
                   AlertSubscription.claimed_at < now - STALE_CLAIM),
               or_(AlertSubscription.last_sent_at.is_(None),
                   AlertSubscription.last_sent_at <= now - DIGEST_INTERVAL))
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.commit()
    return claimed


def _finish(session, subscription_id, **values):
    session.execute(update(AlertSubscription).where(AlertSubscription.id == subscription_id)
                    .values(**values).execution_options(synchronize_session=False))
    session.commit()


def digests_of(session, user_id, limit=10):
    """Return the latest digests sent to the user, newest first, with their event names."""
    return session.execute(
        select(AlertDigest, Event.name)
        .join(AlertSubscription, AlertSubscription.id == AlertDigest.subscription_id)
        .join(Event, Event.id == AlertSubscription.event_id)
        .where(AlertSubscription.user_id == user_id)
        .order_by(AlertDigest.sent_at.desc(), AlertDigest.id.desc())
        .limit(limit)
    ).all()
