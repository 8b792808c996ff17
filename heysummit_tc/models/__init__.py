"""The data model of the whole product, one module per aggregate."""

from .accounts import EventMember, Role, User
from .alerts import AlertDigest, AlertSubscription
from .attendees import (
    Attendee,
    EventAttendeeCount,
    PurchaseChange,
    PurchaseStatus,
    TicketPurchase,
    TicketPurchaseCount,
    full_name,
)
from .base import Base, any_of, sql_constant, utc_text, utcnow
from .emails import (
    AccessEmailSettings,
    AccessLink,
    ActivityEntry,
    EmailKind,
    EmailStatus,
    OutboxEmail,
)
from .events import Event, OnCancel, OnPaymentFailed, Ticket, TicketPrice
from .thrivecart import (
    DeliveryEvent,
    DeliveryOutcome,
    DeliveryStatus,
    EventAccount,
    HeldDelivery,
    LifecycleEvent,
    LifecycleKind,
    OutcomeKind,
    ThriveCartIntegration,
    ThriveCartOrder,
    WebhookDelivery,
)

__all__ = [
    "AccessEmailSettings",
    "AccessLink",
    "ActivityEntry",
    "EmailKind",
    "EmailStatus",
    "EventAccount",
    "OutboxEmail",
    "AlertDigest",
    "AlertSubscription",
    "Attendee",
    "Base",
    "DeliveryEvent",
    "DeliveryOutcome",
    "DeliveryStatus",
    "Event",
    "EventAttendeeCount",
    "EventMember",
    "HeldDelivery",
    "LifecycleEvent",
    "LifecycleKind",
    "OnCancel",
    "OnPaymentFailed",
    "OutcomeKind",
    "PurchaseChange",
    "PurchaseStatus",
    "Role",
    "ThriveCartIntegration",
    "ThriveCartOrder",
    "Ticket",
    "TicketPrice",
    "TicketPurchase",
    "TicketPurchaseCount",
    "User",
    "WebhookDelivery",
    "any_of",
    "full_name",
    "sql_constant",
    "utc_text",
    "utcnow",
]
