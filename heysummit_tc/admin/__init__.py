"""The organiser pages: server-rendered HTML behind sign-in."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import attendees, auth, deliveries, events, integrations, tickets  # noqa: E402,F401
