"""The organiser pages: server-rendered HTML behind sign-in."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import (  # noqa: E402,F401
    account,
    activity,
    attendees,
    auth,
    deliveries,
    emails,
    events,
    integrations,
    team,
    tickets,
    unlinked,
)
