"""The data model of the whole product, one module per aggregate."""

from .accounts import EventMember, Role, User
from .attendees import Attendee, PurchaseStatus, TicketPurchase
from .base import Base, utcnow
from .events import Event, Ticket, TicketPrice
from .thrivecart import (
    DeliveryEvent,
    DeliveryOutcome,
    HeldDelivery,
    ThriveCartIntegration,
    WebhookDelivery,
)

__all__ = [
    "Attendee",
    "Base",
    "DeliveryEvent",
    "DeliveryOutcome",
    "Event",
    "EventMember",
    "HeldDelivery",
    "PurchaseStatus",
    "Role",
    "ThriveCartIntegration",
    "Ticket",
    "TicketPrice",
    "TicketPurchase",
    "User",
    "WebhookDelivery",
    "utcnow",
]
