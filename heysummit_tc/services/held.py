"""Deliveries whose secret matched no integration, kept so that no order is lost."""

from datetime import timedelta

from sqlalchemy import delete, select, update

from ..models import HeldDelivery, utcnow
from ..thrivecart.order import read_order
from ..thrivecart.payload import redact

HELD_DAYS = 14


def hold_delivery(session, payload, digest, *, client_address, per_account, total, now=None):
    """Keep a rejected delivery, redacted, under the digest of the secret it presented.

    The oldest held deliveries go first once the account's or the overall cap is passed.
    """
    order = read_order(payload)
    held = HeldDelivery(
        received_at=now or utcnow(),
        thrivecart_account=order.account,
        secret_digest=digest,
        event_type=order.event_type[:64],
        order_id=order.order_id and order.order_id[:40],
        customer_email=order.buyer.email,
        client_address=client_address[:64],
        payload=redact(payload),
    )
    session.add(held)
    session.flush()
    _drop_beyond(session, per_account, HeldDelivery.thrivecart_account == order.account)
    _drop_beyond(session, total)
    return held.id


def _drop_beyond(session, cap, *criteria):
    # SKIP LOCKED: two posts trimming the same oldest rows at once must not deadlock (a cap
    # overshot by a row for a moment is harmless). SQLite, one writer at a time, ignores it.
    keep = (
        select(HeldDelivery.id)
        .where(HeldDelivery.released_at.is_(None), *criteria)
        .order_by(HeldDelivery.id.desc())
        .offset(cap)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(HeldDelivery).where(HeldDelivery.id.in_(keep))
        .execution_options(synchronize_session=False)
    )


def held_cutoff(now=None):
    """Return the receipt time before which held deliveries are no longer kept."""
    return (now or utcnow()) - timedelta(days=HELD_DAYS)


def held_for_digest(session, digest, now=None):
    """Return the unreleased held deliveries a Secret Word with ``digest`` would have accepted."""
    return list(session.scalars(
        select(HeldDelivery)
        .where(HeldDelivery.secret_digest == digest, HeldDelivery.released_at.is_(None),
               HeldDelivery.received_at >= held_cutoff(now))
        .order_by(HeldDelivery.id)
    ))


def claim_held(session, held_id, now=None):
    """Mark a held delivery released; return False if someone else released it first."""
    return session.execute(
        update(HeldDelivery)
        .where(HeldDelivery.id == held_id, HeldDelivery.released_at.is_(None))
        .values(released_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def prune_held(session, now=None):
    """Delete held deliveries past their 14 days; return how many went."""
    return session.execute(
        delete(HeldDelivery).where(HeldDelivery.received_at < held_cutoff(now))
        .execution_options(synchronize_session=False)
    ).rowcount
