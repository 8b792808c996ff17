"""Deliveries whose secret matched no integration, kept so that no order is lost."""

from datetime import timedelta

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

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
        session.execute(_HOLD_ONE_AT_A_TIME)
    client_address = client_address[:64]
    held_id = session.execute(_HOLD, {
        "received_at": now or utcnow(),
        "thrivecart_account": order.account,
        "secret_digest": digest,
        "event_type": order.event_type[:64],
        "order_id": order.order_id and order.order_id[:40],
        "customer_email": order.buyer.email,
        "client_address": client_address,
        "test": order.test,
        "payload": order.payload,
    }).scalar_one()
    session.execute(_TRIM_TO_CAPS, {"digest": digest, "per_secret": per_secret,
                                    "client_address": client_address,
                                    "per_client": per_client})
    _drop_beyond_total(session, total)
    return held_id


def _drop_beyond_total(session, total):
    excess = session.scalar(_UNRELEASED_COUNT) - total
    if excess <= 0:
        return
    crowded = session.scalar(_MOST_HELD_CLIENT)
    session.execute(_DROP_OLDEST_OF_CLIENT, {"client_address": crowded, "skip": excess - 1})


# The statements of hold_delivery, built once. Those that read the unreleased deliveries
# state ``released_at IS NULL`` as the partial indexes that hold them do.
held = HeldDelivery.__table__
unreleased = held.c.released_at.is_(None)
_HOLD_ONE_AT_A_TIME = select(func.pg_advisory_xact_lock(HELD_LOCK))
_HOLD = insert(held).values(
    {name: bindparam(name, type_=held.c[name].type) for name in (
        "received_at", "thrivecart_account", "secret_digest", "event_type", "order_id",
        "customer_email", "client_address", "test", "payload")}
).returning(held.c.id)


def _past_cap(column, value, cap):
    """Rows of ``column = value`` past the newest ``cap`` of its unreleased deliveries.

    The newest id past the cap is found once (an uncorrelated subquery), and everything up
    to it goes: however stale the planner's statistics, this is one walk of the index, never
    a walk per row.
    """
    newest_past_cap = (select(held.c.id).where(unreleased, column == bindparam(value))
                       .order_by(held.c.id.desc()).offset(bindparam(cap)).limit(1)
                       .scalar_subquery())
    return and_(column == bindparam(value), held.c.id <= newest_past_cap)


_TRIM_TO_CAPS = delete(held).where(unreleased, or_(
    _past_cap(held.c.secret_digest, "digest", "per_secret"),
    _past_cap(held.c.client_address, "client_address", "per_client"),
))
_UNRELEASED_COUNT = select(func.count()).select_from(held).where(unreleased)
# Past the overall cap, the oldest deliveries of the address holding the most go.
_MOST_HELD_CLIENT = (
    select(held.c.client_address).where(unreleased)
    .group_by(held.c.client_address)
    .order_by(func.count().desc(), func.min(held.c.id))
    .limit(1)
)
_OF_CROWDED = (unreleased, held.c.client_address == bindparam("client_address"))
# Its ``excess`` oldest: every one up to the excess-th, or all it has if it has fewer (after
# the cap was lowered, several over it).
_DROP_OLDEST_OF_CLIENT = delete(held).where(*_OF_CROWDED, held.c.id <= func.coalesce(
    select(held.c.id).where(*_OF_CROWDED).order_by(held.c.id).offset(bindparam("skip"))
    .limit(1).scalar_subquery(),
    select(func.max(held.c.id)).where(*_OF_CROWDED).scalar_subquery(),
))


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
