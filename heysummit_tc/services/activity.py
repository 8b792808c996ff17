"""The activity log: who did what in an event, and when. Append-only."""

from sqlalchemy import select

from ..models import ActivityEntry, ActivityKind, User, utcnow
from ..sql.plans import of_event, written_limit
from .pagination import page_of

A = ActivityKind
# Every kind the log records, with its label for the filter.
KINDS = {
    A.SECRET_SAVED: "Secret Word saved",
    A.SECRET_DISCONNECTED: "ThriveCart disconnected",
    A.TICKET_CREATED: "Ticket created",
    A.TICKET_CHANGED: "Ticket changed (External ID, policies, name, availability)",
    A.TICKET_DELETED: "Ticket deleted",
    A.EVENT_CHANGED: "Event renamed or currency changed",
    A.MEMBER_ADDED: "Member added",
    A.MEMBER_ROLE_CHANGED: "Member's role changed",
    A.MEMBER_REMOVED: "Member removed",
    A.DELIVERY_REPLAYED: "Delivery replayed",
    A.HELD_RELEASED: "Held orders processed",
    A.UNLINKED_RERUN: "Unlinked item's deliveries re-run",
    A.TEST_PURCHASE: "Test purchase sent",
    A.ACCESS_EMAIL_SAVED: "Access email changed",
    A.ACCESS_EMAIL_RESENT: "Access email resent",
    A.BUYER_ERASED: "Buyer's personal data erased",
    A.ATTENDEE_EMAIL_CHANGED: "Attendee's email changed by ThriveCart",
    A.ATTENDEES_MERGED: "Attendees merged",
    A.ITEM_IGNORED: "Unlinked item ignored",
    A.ITEM_RESTORED: "Ignored item listed again",
    A.ATTENTION_RESOLVED: "Delivery marked resolved",
    A.ATTENDEE_EDITED: "Attendee's name or email edited",
    A.TICKET_GRANTED: "Ticket granted by hand",
    A.TICKET_REVOKED: "Ticket revoked by hand",
    A.TEST_ORDERS_DELETED: "Test orders deleted",
    A.PRICE_ADDED: "Price added",
    A.PRICE_REMOVED: "Price removed",
    A.ALERTS_CHANGED: "Email alerts switched on or off",
}


def record(session, event_id, user, kind, detail="", now=None):
    """Append one entry of an :class:`..models.ActivityKind`; ``user`` is whoever did it
    (None: the system)."""
    kind = ActivityKind(kind)
    entry = ActivityEntry(event_id=event_id, user_id=user.id if user is not None else None,
                          kind=kind, detail=detail[:500], created_at=now or utcnow())
    session.add(entry)
    session.flush()
    return entry


def activity_of(session, event_id, kind=None, before=None, per_page=50):
    """Return a page of the event's activity, newest first, with each entry's actor."""
    statement = (
        select(ActivityEntry, User.email)
        .outerjoin(User, User.id == ActivityEntry.user_id)
        .where(of_event(ActivityEntry.event_id, event_id))
        .order_by(ActivityEntry.event_id.desc(), ActivityEntry.id.desc())
        .limit(written_limit(per_page + 1))
    )
    if kind in KINDS:
        statement = statement.where(ActivityEntry.kind == kind)
    if before:
        statement = statement.where(ActivityEntry.id < before)
    return page_of(session.execute(statement), per_page, lambda row: row[0].id)
