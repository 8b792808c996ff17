"""Erasing a buyer from an event (SPEC 9): the attendee becomes a tombstone and every stored
copy of them in the event is redacted in place.

Ids, item keys, amounts and statuses stay, so revenue and counts are unchanged. The email
becomes a keyed hash (:func:`tombstone`): a later order from the same address makes a new
attendee, and nobody can tell the address back from it. Redaction covers the deliveries
that reached the event for the buyer (payload, stored email, error), held deliveries
carrying the address from one of the event's ThriveCart accounts, the buyer's emails in the
outbox (subjects and errors), their access links, and the event's activity entries.
"""

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from ..models import (
    AccessLink,
    ActivityEntry,
    ActivityKind,
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    EmailStatus,
    EventAccount,
    HeldDelivery,
    OutboxEmail,
    ThriveCartIntegration,
    TicketPurchase,
    WebhookDelivery,
    utcnow,
)
from ..thrivecart.redaction import without_buyer
from . import ServiceError
from .activity import record

ERASED = "[erased]"
# The domain of tombstone addresses: reserved, so never a real mailbox (RFC 2606).
TOMBSTONE_DOMAIN = "erased.invalid"


@dataclass(frozen=True)
class Erasure:
    attendee_id: int
    deliveries: int
    held: int
    emails: int
    activity: int

    def describe(self):
        return (f"attendee #{self.attendee_id}: {self.deliveries} deliveries, {self.held} held "
                f"posts, {self.emails} emails and {self.activity} activity entries redacted")


def tombstone(key, event_id, email):
    """The address an erased attendee keeps: a keyed hash of the old one, unique per event."""
    digest = hmac.new(key.encode(), f"{event_id}:{email}".encode(), hashlib.sha256)
    return f"{digest.hexdigest()[:32]}@{TOMBSTONE_DOMAIN}"


def erasable(session, email, event_id=None):
    """Return the attendees with ``email`` not erased yet, in ``event_id`` or in every event,
    or raise ServiceError saying nobody has it."""
    found = session.scalars(select(Attendee).where(
        Attendee.email == (email or "").strip().lower(), Attendee.erased_at.is_(None),
        *([Attendee.event_id == event_id] if event_id is not None else [])
    ).order_by(Attendee.event_id)).all()
    if not found:
        where = f"event {event_id}" if event_id is not None else "any event"
        raise ServiceError(f"No attendee of {where} has that email; nothing was erased.",
                           field="email")
    return found


def erasure_preview(session, attendee):
    """Return what an erasure of ``attendee`` would redact: {what: how many}."""
    return {
        "deliveries": session.scalar(select(func.count()).select_from(
            _deliveries_of(attendee).subquery())),
        "emails": session.scalar(select(func.count(OutboxEmail.id)).where(
            OutboxEmail.attendee_id == attendee.id)),
        "purchases": len(attendee.purchases),
    }


def erase_buyer(session, attendee, key, actor=None, now=None):
    """Erase ``attendee``'s personal data from their event; flush (the caller commits)."""
    now = now or utcnow()
    event_id, email = attendee.event_id, attendee.email
    names = [name for name in {attendee.full_name, attendee.first_name, attendee.last_name,
                               email} if len(name) >= 3]
    deliveries = _redact_deliveries(session, attendee, now, names)
    held = _redact_held(session, event_id, email)
    emails = _redact_texts(session, OutboxEmail, OutboxEmail.attendee_id == attendee.id,
                           (OutboxEmail.subject, OutboxEmail.last_error), names)
    activity = _redact_texts(session, ActivityEntry, ActivityEntry.event_id == event_id,
                             (ActivityEntry.detail,), names)
    # Nothing more goes to the buyer: unsent emails are skipped, open links end now.
    session.execute(update(OutboxEmail).where(
        OutboxEmail.attendee_id == attendee.id,
        OutboxEmail.status.in_([EmailStatus.PENDING, EmailStatus.SENDING]))
        .values(status=EmailStatus.SKIPPED, last_error="the buyer's personal data was erased"))
    session.execute(update(AccessLink).where(AccessLink.attendee_id == attendee.id,
                                             AccessLink.expires_at > now)
                    .values(expires_at=now))
    session.execute(update(TicketPurchase).where(TicketPurchase.attendee_id == attendee.id)
                    .values(country=None))
    attendee.email = tombstone(key, event_id, email)
    attendee.first_name = attendee.last_name = ""
    attendee.thrivecart_customer_id = None
    attendee.erased_at = now
    erasure = Erasure(attendee.id, deliveries, held, emails, activity)
    record(session, event_id, actor, ActivityKind.BUYER_ERASED, erasure.describe(), now=now)
    return erasure


def _redact_deliveries(session, attendee, now, names):
    """Redact the deliveries of :func:`_deliveries_of`; return how many."""
    rows = session.execute(_deliveries_of(attendee)).all()
    for delivery_id, payload, error in rows:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
            payload=without_buyer(payload), payload_pruned_at=now, customer_email=None,
            error=_scrub(error, names)))
    _redact_texts(session, DeliveryOutcome,
                  DeliveryOutcome.delivery_id.in_([row.id for row in rows]),
                  (DeliveryOutcome.detail,), names)
    return len(rows)


def _deliveries_of(attendee):
    """The deliveries of the attendee's event that carried them: by their address, by the
    orders their purchases came from, or by the outcomes that touched them."""
    orders = select(TicketPurchase.thrivecart_order_id).where(
        TicketPurchase.attendee_id == attendee.id,
        TicketPurchase.thrivecart_order_id.is_not(None))
    touched = select(DeliveryOutcome.delivery_id).where(
        DeliveryOutcome.attendee_id == attendee.id)
    return (
        select(WebhookDelivery.id, WebhookDelivery.payload, WebhookDelivery.error)
        .join(DeliveryEvent, DeliveryEvent.delivery_id == WebhookDelivery.id)
        .where(DeliveryEvent.event_id == attendee.event_id,
               or_(WebhookDelivery.customer_email == attendee.email,
                   WebhookDelivery.order_id.in_(orders), WebhookDelivery.id.in_(touched)))
    )


def _redact_held(session, event_id, email):
    """Redact held posts carrying the address from this event's accounts or Secret Word."""
    accounts = select(EventAccount.thrivecart_account).where(EventAccount.event_id == event_id)
    digests = select(ThriveCartIntegration.secret_digest).where(
        ThriveCartIntegration.event_id == event_id)
    rows = session.execute(
        select(HeldDelivery.id, HeldDelivery.payload)
        .where(HeldDelivery.customer_email == email,
               or_(HeldDelivery.thrivecart_account.in_(accounts),
                   HeldDelivery.secret_digest.in_(digests)))).all()
    for held_id, payload in rows:
        session.execute(update(HeldDelivery).where(HeldDelivery.id == held_id).values(
            payload=without_buyer(payload), customer_email=None))
    return len(rows)


def _redact_texts(session, model, where, columns, names):
    """Replace the buyer's address and names in ``columns`` of the rows ``where`` selects;
    return how many rows held any of them."""
    if not names:
        return 0
    mentions = or_(*(column.contains(name, autoescape=True)
                      for column in columns for name in names))
    changed = 0
    for row in session.scalars(select(model).where(where, mentions)):
        for column in columns:
            setattr(row, column.key, _scrub(getattr(row, column.key), names))
        changed += 1
    return changed


def _scrub(text, names):
    if not text:
        return text
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, ERASED)
    return text
