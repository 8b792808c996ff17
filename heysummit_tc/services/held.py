"""Deliveries whose secret matched no integration, kept so that no order is lost."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

from ..models import HeldDelivery, HeldRefusal, utcnow
from ..sql import one_at_a_time

HELD_DAYS = 14

# The PostgreSQL advisory lock that takes holding a delivery one post at a time.
HELD_LOCK = 0x48454C44  # "HELD"


@dataclass(frozen=True)
class HeldCaps:
    """How many held posts the store keeps: per presented secret, per client address, in
    all (the ``HELD_DELIVERIES_*`` settings)."""

    per_secret: int
    per_client: int
    total: int

    @classmethod
    def of(cls, config):
        return cls(config["HELD_DELIVERIES_PER_SECRET"], config["HELD_DELIVERIES_PER_CLIENT"],
                   config["HELD_DELIVERIES_TOTAL"])


def hold_delivery(session, order, digest, client_address, caps, now=None):
    """Keep a rejected delivery, redacted, under the digest of the secret it presented;
    return its id, or None when the store is full and the post was refused (``caps``, a
    :class:`HeldCaps`).

    The caps are keyed on what a sender cannot choose freely: the secret it presented (only
    someone who knows a Secret Word can crowd out deliveries made with it) and its client
    address; past either, the sender's own oldest post goes. Past the overall cap nothing is
    dropped: a sender who knows no Secret Word could otherwise evict real held orders by
    posting from enough addresses. The post is refused instead (the caller answers 503, to be
    sent again) and counted, so that organisers hear of it. The ThriveCart account a body
    names is the sender's to invent and decides nothing here.

    Posts hold one at a time (on PostgreSQL under a transaction's advisory lock; SQLite has
    one writer anyway), so each sees every row held before it and the caps are exact however
    many posts arrive together.
    """
    now = now or utcnow()
    one_at_a_time(session, HELD_LOCK)
    if session.scalar(_UNRELEASED_COUNT) >= caps.total:
        _count_refusal(session, now)
        return None
    client_address = client_address[:64]
    held_id = session.execute(_HOLD, {
        "received_at": now,
        "thrivecart_account": order.account,
        "secret_digest": digest,
        "event_type": order.event_type[:64],
        "order_id": order.order_id and order.order_id[:40],
        "customer_email": order.buyer.email,
        "client_address": client_address,
        "test": order.test,
        "payload": order.payload,
    }).scalar_one()
    session.execute(_TRIM_TO_CAPS, {"digest": digest, "per_secret": caps.per_secret,
                                    "client_address": client_address,
                                    "per_client": caps.per_client})
    return held_id


def _count_refusal(session, now):
    minute = _minute(now)
    counted = session.execute(
        update(HeldRefusal).where(HeldRefusal.minute == minute)
        .values(refused=HeldRefusal.refused + 1, last_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not counted:
        session.execute(insert(HeldRefusal).values(minute=minute, refused=1, last_at=now))


def refusals_between(session, since, until):
    """Return (posts refused for a full store, the last one's time) of the minutes that
    start in [since, until), both rounded down to the minute: windows that follow each
    other count each refusal once."""
    return session.execute(
        select(*_refusals(HeldRefusal.minute < _minute(until))),
        {"held_since": _minute(since)}).one()


def _refusals(*criteria):
    """How many posts were refused, and the last one's time, in the minutes from
    ``:held_since`` on (and ``criteria``), as two scalar subqueries."""
    window = (HeldRefusal.minute >= bindparam("held_since", type_=HeldRefusal.minute.type),
              *criteria)
    return (select(func.coalesce(func.sum(HeldRefusal.refused), 0)).where(*window)
            .scalar_subquery(),
            select(func.max(HeldRefusal.last_at)).where(*window).scalar_subquery())


# The dashboard's: every refusal since ``:held_since``, asked among its other counts.
REFUSALS_SINCE = _refusals()


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


# The statements of hold_delivery, built once. Those that read the unreleased deliveries
# state ``released_at IS NULL`` as the partial indexes that hold them do.
held = HeldDelivery.__table__
unreleased = held.c.released_at.is_(None)
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


def trim_to_caps():
    """The statement that deletes, of the unreleased held posts, those of ``:digest`` past
    the newest ``:per_secret`` and those of ``:client_address`` past the newest
    ``:per_client`` (built once, as :data:`_TRIM_TO_CAPS`)."""
    return delete(held).where(unreleased, or_(
        _past_cap(held.c.secret_digest, "digest", "per_secret"),
        _past_cap(held.c.client_address, "client_address", "per_client"),
    ))


_TRIM_TO_CAPS = trim_to_caps()
_UNRELEASED_COUNT = select(func.count()).select_from(held).where(unreleased)


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
    """Delete held deliveries, and counts of refused posts, past their 14 days; return how
    many held deliveries went."""
    cutoff = held_cutoff(now)
    session.connection().execute(delete(HeldRefusal).where(HeldRefusal.minute < cutoff))
    return session.connection().execute(
        delete(HeldDelivery).where(HeldDelivery.received_at < cutoff)
    ).rowcount
