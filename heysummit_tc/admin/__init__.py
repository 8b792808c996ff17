"""The organiser pages: server-rendered HTML behind sign-in, one blueprint over several view
modules, each registering its routes on ``bp``."""

import importlib

from flask import Blueprint

bp = Blueprint("admin", __name__)

VIEW_MODULES = ("account", "activity", "attendees", "auth", "deliveries", "emails", "events",
                "integrations", "navigation", "team", "tickets", "unlinked")


def blueprint():
    """Return the blueprint with every view module's routes on it."""
    for name in VIEW_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return bp
