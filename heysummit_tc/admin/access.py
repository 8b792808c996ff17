"""Who may open an event's pages: members only, some pages organisers only."""

from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Role
from ..services.events import membership_of


def _membership(event_id):
    """The signed-in user's membership of the event, as the user loader read it if it did."""
    read = g.pop("membership_read", None)
    if read is not None and read[:2] == (current_user.id, event_id):
        return read[2]
    return membership_of(db.session, current_user.id, event_id)


def event_view(*roles):
    """Load the event named by ``event_id`` for a member holding one of ``roles``.

    Non-members get 404, so that an event's existence is not revealed; members without the
    role get 403. The view receives the event as its first argument.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(event_id, **kwargs):
            membership = _membership(event_id)
            if membership is None:
                abort(404)
            if roles and membership.role not in roles:
                abort(403, "This page is for the event's organisers.")
            g.event, g.membership = membership.event, membership
            return view(membership.event, **kwargs)

        return wrapper

    return decorator


organisers_only = event_view(Role.ORGANISER)
members = event_view()


def owned_or_404(model, object_id, event_id, event_of=lambda obj: obj.event_id):
    """Return the object if it belongs to the event, else 404."""
    obj = db.session.get(model, object_id)
    if obj is None or event_of(obj) != event_id:
        abort(404)
    return obj
