"""The ThriveCart Checkout integration of an event: its Secret Word, kept only as a digest."""

import hashlib
import hmac

from sqlalchemy import bindparam, exists, select

from ..models import (
    ActivityKind,
    Event,
    EventMember,
    ThriveCartIntegration,
    TicketExternalId,
    utcnow,
)
from . import ServiceError
from .activity import record

MIN_SECRET_LENGTH = 6
MAX_SECRET_LENGTH = 200


def secret_digest(key, secret_word):
    """Return the keyed digest under which a Secret Word is stored and looked up."""
    message = secret_word.strip().encode("utf-8", "surrogatepass")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def integration_of(session, event_id):
    """Return the event's ThriveCart integration, or None."""
    return session.scalar(_INTEGRATION_OF, {"event_id": event_id})


def set_secret_word(session, event, secret_word, key, user=None, now=None):
    """Save the event's Secret Word (as a digest and its last three characters)."""
    secret_word = (secret_word or "").strip()
    if not MIN_SECRET_LENGTH <= len(secret_word) <= MAX_SECRET_LENGTH or any(
        character.isspace() for character in secret_word
    ):
        raise ServiceError(
            "Paste the Secret Word exactly as ThriveCart shows it under Settings > API & "
            "Webhooks > ThriveCart order validation (letters and digits, no spaces).",
            field="secret_word",
        )
    integration = integration_of(session, event.id)
    now = now or utcnow()
    first = integration is None
    if integration is None:
        integration = ThriveCartIntegration(event_id=event.id, connected_at=now)
        session.add(integration)
    integration.secret_digest = secret_digest(key, secret_word)
    integration.secret_last3 = secret_word[-3:]
    integration.set_by_id = user.id if user is not None else None
    integration.set_at = now
    session.flush()
    record(session, event.id, user, ActivityKind.SECRET_SAVED,
           "first Secret Word" if first else "replaced the previous Secret Word", now=now)
    return integration


def disconnect(session, event, user=None):
    """Forget the event's Secret Word; deliveries stop provisioning it."""
    integration = integration_of(session, event.id)
    if integration is not None:
        session.delete(integration)
        session.flush()
        record(session, event.id, user, ActivityKind.SECRET_DISCONNECTED)


def dismiss_rejections(session, event, now=None):
    """Stop warning about the posts rejected so far; return False when not configured."""
    integration = integration_of(session, event.id)
    if integration is None:
        return False
    integration.rejections_dismissed_at = now or utcnow()
    session.flush()
    return True


def find_event_ids(connection, key, secret_word):
    """Return the ids of every event whose integration holds this Secret Word."""
    return find_event_ids_by_digest(connection, secret_digest(key, secret_word))


def find_event_ids_by_digest(connection, digest):
    """Return the ids of every event whose integration holds the Secret Word of ``digest``."""
    rows = connection.execute(_BY_DIGEST, {"digest": digest}).all()
    # The index finds candidates; the comparison that decides is constant-time.
    return sorted(
        event_id for event_id, stored in rows if hmac.compare_digest(stored, digest)
    )


def _same_account(event_id):
    """Conditions: an integration other than the event's that holds the same Secret Word,
    so the same ThriveCart account (every order it sends reaches both events)."""
    mine = (select(ThriveCartIntegration.secret_digest)
            .where(ThriveCartIntegration.event_id == event_id).scalar_subquery())
    return (ThriveCartIntegration.secret_digest == mine,
            ThriveCartIntegration.event_id != event_id)


def _member(user_id):
    return exists().where(EventMember.event_id == Event.id, EventMember.user_id == user_id)


def sharing_events(session, event_id, user_id):
    """Return the names of the user's other events connected to the same ThriveCart account
    as this one (the same Secret Word), by name."""
    return list(session.scalars(
        select(Event.name).join(ThriveCartIntegration, ThriveCartIntegration.event_id == Event.id)
        .where(*_same_account(event_id), _member(user_id)).order_by(Event.name, Event.id)))


def linked_elsewhere(session, event_id, keys, user_id):
    """Return (key, event name or None) for each of ``keys`` that another event on the same
    ThriveCart account links: one order of it then grants a ticket in both. The name is None
    for an event the user is not a member of (its name is not theirs to read)."""
    if not keys:
        return []
    rows = session.execute(
        select(TicketExternalId.key, Event.name, _member(user_id))
        .join(Event, Event.id == TicketExternalId.event_id)
        .join(ThriveCartIntegration, ThriveCartIntegration.event_id == Event.id)
        .where(*_same_account(event_id), TicketExternalId.key.in_(keys))
        .order_by(TicketExternalId.key, Event.name))
    return [(key, name if member else None) for key, name, member in rows]


_INTEGRATION_OF = select(ThriveCartIntegration).where(
    ThriveCartIntegration.event_id == bindparam("event_id"))
_integrations = ThriveCartIntegration.__table__
_BY_DIGEST = select(_integrations.c.event_id, _integrations.c.secret_digest).where(
    _integrations.c.secret_digest == bindparam("digest")
)
