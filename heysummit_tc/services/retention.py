"""Retention: stored delivery payloads lose their buyer after ``PAYLOAD_RETENTION_DAYS``.

A payload is redacted in place (:func:`..thrivecart.redaction.without_buyer`): the delivery
keeps its summary, outcomes and money, its page says when the buyer was removed, and it can
no longer be replayed. Pruning is idempotent and safe on several hosts at once: each row is
rewritten only while it is still unredacted, so two hosts count each delivery once.
"""

from datetime import timedelta

from sqlalchemy import select, update

from ..models import WebhookDelivery, utcnow
from ..thrivecart.redaction import without_buyer
from . import ServiceError

# Deliveries read and rewritten per transaction.
BATCH = 500


def prune_payloads(session, older_than_days, now=None, batch=BATCH):
    """Redact the payloads of deliveries received more than ``older_than_days`` ago; commit
    each batch and return how many this call redacted."""
    if older_than_days < 0:
        raise ServiceError("Give a number of days of zero or more.")
    now = now or utcnow()
    cutoff = now - timedelta(days=older_than_days)
    redacted, after = 0, 0
    while True:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.payload)
            .where(WebhookDelivery.received_at < cutoff, WebhookDelivery.id > after,
                   WebhookDelivery.payload_pruned_at.is_(None))
            .order_by(WebhookDelivery.id).limit(batch)).all()
        if not rows:
            return redacted
        for delivery_id, payload in rows:
            redacted += redact_delivery(session, delivery_id, payload, now)
        session.commit()
        after = rows[-1].id


def redact_delivery(session, delivery_id, payload, now):
    """Redact one delivery's payload unless another host did already; return 1 or 0."""
    return session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.payload_pruned_at.is_(None))
        .values(payload=without_buyer(payload), payload_pruned_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
