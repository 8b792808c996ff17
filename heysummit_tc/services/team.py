"""An event's team: its members and their roles."""

from sqlalchemy import func, select

from ..models import ActivityKind, EventMember, Role, User
from . import ServiceError
from .access_emails import queue_invite
from .accounts import create_user, end_sessions, generate_password, normalize_email
from .activity import record


def members_of(session, event_id):
    """Return the event's memberships with their users, organisers first, then by email."""
    return list(session.scalars(
        select(EventMember).join(User, User.id == EventMember.user_id)
        .where(EventMember.event_id == event_id)
        .order_by(EventMember.role, User.email)
    ))


def _role(role):
    try:
        return Role(role)
    except ValueError:
        raise ServiceError("Choose organiser or ticket editor.", field="role") from None


def add_to_team(session, event, email, role, actor=None, *, invite=False):
    """Give ``email`` a role on the event, creating the account if there is none.

    Returns (membership, created): a created account has a random password nobody knows;
    its owner sets theirs through a set-password link, which ``invite`` also emails them
    (through the outbox, like every email).
    """
    email, role = normalize_email(email), _role(role)
    if not email or "@" not in email:
        raise ServiceError("Enter the email address of the person to add.", field="email")
    user = session.scalar(select(User).where(User.email == email))
    created = user is None
    if created:
        user = create_user(session, email, generate_password())
    elif session.get(EventMember, (event.id, user.id)) is not None:
        raise ServiceError(f"{email} is already on this event's team; change their role "
                           "below.", field="email")
    membership = EventMember(event_id=event.id, user_id=user.id, role=role)
    session.add(membership)
    session.flush()
    record(session, event.id, actor, ActivityKind.MEMBER_ADDED, f"{email} as {role.label.lower()}"
           + (" (new account)" if created else ""))
    if created and invite:
        queue_invite(session, event.id, user, actor)
    return membership, created


def _membership(session, event, user_id):
    membership = session.get(EventMember, (event.id, user_id))
    if membership is None:
        raise ServiceError("That person is not on this event's team.")
    return membership


def _organisers(session, event_id):
    return session.scalar(select(func.count()).select_from(EventMember).where(
        EventMember.event_id == event_id, EventMember.role == Role.ORGANISER))


def change_role(session, event, user_id, role, actor=None):
    """Change a member's role; the last organiser stays one."""
    membership, role = _membership(session, event, user_id), _role(role)
    if membership.role == role:
        return membership
    if membership.role == Role.ORGANISER and _organisers(session, event.id) <= 1:
        raise ServiceError("The event needs an organiser: make someone else organiser first.",
                           field="role")
    old = membership.role
    membership.role = role
    session.flush()
    record(session, event.id, actor, ActivityKind.MEMBER_ROLE_CHANGED,
           f"{membership.user.email}: {old.label.lower()} → {role.label.lower()}")
    return membership


def remove_from_team(session, event, user_id, actor=None):
    """Remove a member; the last organiser stays. Someone left with no event is signed out
    everywhere."""
    membership = _membership(session, event, user_id)
    if membership.role == Role.ORGANISER and _organisers(session, event.id) <= 1:
        raise ServiceError("The event needs an organiser: make someone else organiser before "
                           "removing the last one.")
    user = membership.user
    session.delete(membership)
    session.flush()
    record(session, event.id, actor, ActivityKind.MEMBER_REMOVED, user.email)
    if session.scalar(select(func.count()).select_from(EventMember)
                      .where(EventMember.user_id == user.id)) == 0:
        end_sessions(session, user)
    return user
