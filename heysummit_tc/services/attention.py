"""Needs attention: an organiser's word that what a delivery left needing a person is
resolved (what settles by itself is cleared where it settles: a waiting refund applied, a
failed payment paid, an unlinked item linked or ignored, a failed delivery replayed)."""

from ..models import ActivityKind, DeliveryEvent, utcnow
from . import ServiceError
from .activity import record

NOTE_LENGTH = 500


def resolve(session, event_id, delivery_id, actor, note, now=None):
    """Mark what the delivery left needing attention in the event resolved, with a note; the
    activity log says who and why."""
    note = (note or "").strip()
    if not note:
        raise ServiceError("Say in a few words how it was resolved: the note is kept with "
                           "the delivery and in the activity log.", field="note")
    if len(note) > NOTE_LENGTH:
        raise ServiceError(f"Keep the note under {NOTE_LENGTH} characters.", field="note")
    marked = session.get(DeliveryEvent, (delivery_id, event_id))
    if marked is None or not marked.attention:
        raise ServiceError("Nothing of this delivery needs attention any more.")
    marked.attention = False
    marked.resolved_at, marked.resolved_by, marked.resolved_note = (
        now or utcnow(), actor.email, note)
    session.flush()
    record(session, event_id, actor, ActivityKind.ATTENTION_RESOLVED,
           f"delivery {delivery_id}: {note}"[:NOTE_LENGTH])
    return marked
