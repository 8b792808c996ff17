"""The organiser pages: server-rendered HTML behind sign-in, one blueprint over several view
modules, each registering its routes on ``bp``."""

from flask import Blueprint

bp = Blueprint("admin", __name__)


def blueprint():
    """Return the blueprint with every view module's routes on it."""
    # Each view module registers its routes on ``bp`` as it is imported; they import ``bp``
    # from here, hence the import inside the function.
    from . import (  # noqa: F401
        account,
        activity,
        attendees,
        auth,
        by_hand,
        deliveries,
        emails,
        events,
        integrations,
        navigation,
        orders,
        team,
        tickets,
        unlinked,
    )
    return bp
