"""Posts rejected for their secret (held: :mod:`.held`) as an event sees them: those claiming
a ThriveCart account the event has seen, within the 14 days they are kept, and those its
saved Secret Word would have accepted (offered for processing)."""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import defer

from ..models import EventAccount, HeldDelivery
from ..sql.plans import written_limit
from .held import held_cutoff


def seen_accounts(event_id):
    """The ThriveCart accounts that have posted to the event (noted by a trigger)."""
    return select(EventAccount.thrivecart_account).where(EventAccount.event_id == event_id)


def rejection_criteria(event_id, integration, now=None, *, waiting=False):
    """Criteria of the posts rejected for their secret that concern the event and are still
    held: they claim an account it has seen, with a secret other than its own. ``waiting``
    adds those that carry its current Secret Word (offered for processing)."""
    return _rejection_criteria(event_id, held_cutoff(now),
                               integration and integration.secret_digest, waiting)


def _rejection_criteria(event_id, cutoff, digest, waiting):
    claims = HeldDelivery.thrivecart_account.in_(seen_accounts(event_id))
    criteria = [HeldDelivery.released_at.is_(None), HeldDelivery.received_at >= cutoff]
    if digest is None:
        return [claims, *criteria]
    current = HeldDelivery.secret_digest == digest
    return [or_(claims, current) if waiting else and_(claims, ~current), *criteria]


def bound_rejection_criteria(configured, waiting):
    """:func:`rejection_criteria` with its values bound at execution (``event_id``,
    ``cutoff`` and, when ``configured``, ``digest``: see :func:`rejection_values`)."""
    return _rejection_criteria(bindparam("event_id"), bindparam("cutoff"),
                               bindparam("digest") if configured else None, waiting)


def rejection_values(event_id, integration, now=None):
    """The values :func:`rejections_count` and the log's rejected rows are bound to."""
    return {"event_id": event_id, "cutoff": held_cutoff(now),
            "digest": integration and integration.secret_digest}


def rejections_count(configured):
    """How many rejected posts need the organiser (those :func:`rejection_criteria` finds,
    the ones offered for processing included), as a scalar subquery: its values come from
    :func:`rejection_values`, ``configured`` telling whether the event has an integration."""
    return rejections_count_statement(configured, waiting=True).scalar_subquery()


@cache
def rejections_count_statement(configured, waiting):
    """How many posts :func:`rejection_criteria` finds (``waiting``: those offered for
    processing included, as the log lists them)."""
    return select(func.count()).select_from(HeldDelivery).where(
        *bound_rejection_criteria(configured, waiting))


@dataclass(frozen=True)
class Rejections:
    """Posts rejected for their secret that claim an account the event has seen, counted
    apart: those that arrived before any Secret Word was saved here, and those whose secret
    matches nothing although one was. Each: how many in all, and the newest few."""

    before_secret: tuple[int, list]
    wrong_secret: tuple[int, list]

    def __bool__(self):
        return bool(self.before_secret[0] or self.wrong_secret[0])


def rejected_posts(session, event_id, integration, now=None, limit=20):
    """Return the :class:`Rejections` the ThriveCart page warns about.

    The account is whatever the body said, so the warning can only say what is known. Posts
    made with the event's current Secret Word (offered for processing instead) and posts
    from before the organiser dismissed the warning are left out.
    """
    values = {**rejection_values(event_id, integration, now), "limit": limit}
    if integration is None:
        total = session.scalar(rejections_count_statement(False, waiting=False), values)
        return Rejections(_listed(session, _rejection_list_statement(False, False, None),
                                  values, total), (0, []))
    dismissed = integration.rejections_dismissed_at is not None
    values |= {"dismissed_at": integration.rejections_dismissed_at,
               "connected_at": integration.connected_at}
    # Both counts in one statement; the lists are read only when there is something to list.
    counts = session.execute(_rejection_counts_statement(dismissed), values).one()
    return Rejections(
        _listed(session, _rejection_list_statement(True, dismissed, True), values, counts[0]),
        _listed(session, _rejection_list_statement(True, dismissed, False), values, counts[1]))


def _listed(session, statement, values, total):
    """``(total, the newest held posts the statement lists)``: read only if there are any."""
    if not total:
        return 0, []
    return total, list(session.scalars(statement, values))


def _configured_rejections(dismissed):
    criteria = bound_rejection_criteria(True, waiting=False)
    if dismissed:
        criteria.append(HeldDelivery.received_at > bindparam("dismissed_at"))
    return criteria


_BEFORE_SECRET = HeldDelivery.received_at < bindparam("connected_at")


@cache
def _rejection_counts_statement(dismissed):
    """How many posts were rejected for an event with a Secret Word: those received before
    it was saved, and those after."""
    return (select(func.count().filter(_BEFORE_SECRET), func.count().filter(~_BEFORE_SECRET))
            .select_from(HeldDelivery).where(*_configured_rejections(dismissed)))


@cache
def _rejection_list_statement(configured, dismissed, before_secret):
    """The newest of those posts (``before_secret``: True, False, or None for all)."""
    criteria = (_configured_rejections(dismissed) if configured
                else bound_rejection_criteria(False, waiting=False))
    if before_secret is not None:
        criteria.append(_BEFORE_SECRET if before_secret else ~_BEFORE_SECRET)
    return (select(HeldDelivery).options(defer(HeldDelivery.payload)).where(*criteria)
            .order_by(HeldDelivery.received_at.desc(), HeldDelivery.id.desc())
            .limit(written_limit()))
