"""Deliveries whose secret matched no integration, kept so that no order is lost."""

from datetime import timedelta

from sqlalchemy import bindparam, delete, func, select, update

from ..models import HeldDelivery, utcnow
from .statements import dialect_of

HELD_DAYS = 14

# The PostgreSQL advisory lock that takes holding a delivery one post at a time.
HELD_LOCK = 0x48454C44  # "HELD"


def hold_delivery(session, order, digest, *, client_address, per_secret, per_client, total,
                  now=None):
    """Keep a rejected delivery, redacted, under the digest of the secret it presented.

    The caps are keyed on what a sender cannot choose freely: the secret it presented (only
    someone who knows a Secret Word can crowd out deliveries made with it) and its client
    address. Past the overall cap the oldest delivery of the address holding the most goes
    first, so a flood of wrong secrets evicts its own posts before anyone else's. The
    ThriveCart account a body names is the sender's to invent and decides nothing here.

    Posts hold one at a time (on PostgreSQL under a transaction's advisory lock; SQLite has
    one writer anyway), so each trim sees every row held before it and the caps are exact
    however many posts arrive together.
    """
    if dialect_of(session) == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(HELD_LOCK)))
    held = HeldDelivery(
        received_at=now or utcnow(),
        thrivecart_account=order.account,
        secret_digest=digest,
        event_type=order.event_type[:64],
        order_id=order.order_id and order.order_id[:40],
        customer_email=order.buyer.email,
        client_address=client_address[:64],
        test=order.test,
        payload=order.payload,
    )
    session.add(held)
    session.flush()
    _drop_beyond(session, per_secret, HeldDelivery.secret_digest == digest)
    _drop_beyond(session, per_client, HeldDelivery.client_address == held.client_address)
    _drop_beyond_total(session, total)
    return held.id


def _drop_beyond(session, cap, *criteria):
    keep = (
        select(HeldDelivery.id)
        .where(HeldDelivery.released_at.is_(None), *criteria)
        .order_by(HeldDelivery.id.desc())
        .offset(cap)
    )
    session.connection().execute(
        delete(HeldDelivery).where(HeldDelivery.id.in_(keep))
    )


def _drop_beyond_total(session, total):
    unreleased = HeldDelivery.released_at.is_(None)
    excess = session.scalar(select(func.count()).where(unreleased)) - total
    if excess <= 0:
        return
    crowded = session.scalar(
        select(HeldDelivery.client_address).where(unreleased)
        .group_by(HeldDelivery.client_address)
        .order_by(func.count().desc(), func.min(HeldDelivery.id))
        .limit(1)
    )
    oldest = (
        select(HeldDelivery.id)
        .where(unreleased, HeldDelivery.client_address == crowded)
        .order_by(HeldDelivery.id)
        .limit(excess)
    )
    session.connection().execute(
        delete(HeldDelivery).where(HeldDelivery.id.in_(oldest))
    )


def held_cutoff(now=None):
    """Return the receipt time before which held deliveries are no longer kept."""
    return (now or utcnow()) - timedelta(days=HELD_DAYS)


def held_for_digest(session, digest, now=None):
    """Return the unreleased held deliveries a Secret Word with ``digest`` would have accepted."""
    return list(session.scalars(_HELD_FOR_DIGEST,
                                {"digest": digest, "cutoff": held_cutoff(now)}))


_HELD_FOR_DIGEST = (
    select(HeldDelivery)
    .where(HeldDelivery.secret_digest == bindparam("digest"),
           HeldDelivery.released_at.is_(None),
           HeldDelivery.received_at >= bindparam("cutoff"))
    .order_by(HeldDelivery.id)
)


def claim_held(session, held_id, now=None):
    """Mark a held delivery released; return False if someone else released it first."""
    return session.connection().execute(
        update(HeldDelivery)
        .where(HeldDelivery.id == held_id, HeldDelivery.released_at.is_(None))
        .values(released_at=now or utcnow())
    ).rowcount == 1


def prune_held(session, now=None):
    """Delete held deliveries past their 14 days; return how many went."""
    return session.connection().execute(
        delete(HeldDelivery).where(HeldDelivery.received_at < held_cutoff(now))
    ).rowcount
