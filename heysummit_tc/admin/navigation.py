"""The event's tabs, and which tab each page belongs to (named, not guessed from endpoints)."""

from dataclasses import dataclass

from flask import has_request_context, request

from ..models import Role
from . import bp


@dataclass(frozen=True)
class Tab:
    name: str
    endpoint: str
    label: str
    section: str | None = None
    organisers_only: bool = False
    # The other pages under this tab.
    pages: tuple = ()


TABS = (
    Tab("dashboard", "admin.dashboard", "Dashboard", pages=("admin.edit_event",)),
    Tab("integrations", "admin.integrations", "Integrations", "Event Setup", True,
        ("admin.thrivecart", "admin.configure_thrivecart", "admin.disconnect_thrivecart",
         "admin.test_purchase", "admin.access_email")),
    Tab("tickets", "admin.tickets", "Tickets", "Revenue",
        pages=("admin.new_ticket", "admin.ticket", "admin.remove_ticket",
               "admin.unlinked_items")),
    Tab("orders", "admin.orders", "Orders", organisers_only=True, pages=("admin.order",)),
    Tab("attendees", "admin.attendees", "Attendees", organisers_only=True,
        pages=("admin.attendee",)),
    Tab("deliveries", "admin.deliveries", "Deliveries", organisers_only=True,
        pages=("admin.delivery", "admin.replay_delivery")),
    Tab("team", "admin.team", "Team", organisers_only=True),
    Tab("activity", "admin.activity", "Activity", organisers_only=True),
)
_TAB_OF = {endpoint: tab.name for tab in TABS for endpoint in (tab.endpoint, *tab.pages)}


def event_tabs(role):
    """The tabs a member with ``role`` sees."""
    return [tab for tab in TABS if role == Role.ORGANISER or not tab.organisers_only]


@bp.app_context_processor
def navigation():
    # Emails are rendered outside any request.
    endpoint = request.endpoint if has_request_context() else None
    return {"event_tabs": event_tabs, "current_tab": _TAB_OF.get(endpoint)}
