"""The ThriveCart events the app acts on, in one table: what each does, the payload block
that names its item, what the organiser reads for it and, for the events that change an
order after its success, the order in which those at the same instant apply.

Everything else about an event type derives from :data:`EVENTS`: the lifecycle kinds a
delivery can bring (:data:`LIFECYCLE_EVENTS`), their words (:data:`LIFECYCLE_WORDS`), their
ordering (:data:`SAME_INSTANT_ORDER`) and the service that applies each
(``services.provisioning``). Any other event is recorded and ignored.
"""

from dataclasses import dataclass

from ..models import LifecycleKind

ORDER_SUCCESS = "order.success"
ORDER_REFUND = "order.refund"
# A buyer changed their email in ThriveCart (no dot in its name).
CUSTOMER_UPDATED = "customer_updated"

# What applies an event: the buyer is granted the order's tickets, the purchase its order
# paid is settled again, or the attendee's email changes.
GRANT, SETTLE, CHANGE_EMAIL = "grant", "settle", "change_email"


@dataclass(frozen=True)
class EventType:
    name: str
    action: str
    words: str
    # The events that change an order after its success (SETTLE) only:
    kind: LifecycleKind | None = None
    block: str | None = None  # the payload's block that names the item
    same_instant: int | None = None  # events at one instant apply in this order


EVENTS = (
    EventType(ORDER_SUCCESS, GRANT, "order"),
    EventType("order.subscription_payment", SETTLE, "subscription payment",
              LifecycleKind.SUBSCRIPTION_PAYMENT, "subscription", 0),
    EventType("order.rebill_failed", SETTLE, "failed rebill", LifecycleKind.REBILL_FAILED,
              "subscription", 1),
    EventType("order.subscription_cancelled", SETTLE, "cancellation",
              LifecycleKind.SUBSCRIPTION_CANCELLED, "subscription", 2),
    EventType(ORDER_REFUND, SETTLE, "refund", LifecycleKind.REFUND, "refund", 3),
    EventType(CUSTOMER_UPDATED, CHANGE_EMAIL, "email change"),
)
BY_NAME = {event.name: event for event in EVENTS}
_LIFECYCLE = [event for event in EVENTS if event.action == SETTLE]
# The events that change an order after its success: their kind and the block naming the item.
LIFECYCLE_EVENTS = {event.name: (event.kind, event.block) for event in _LIFECYCLE}
# What each lifecycle event is called in what the organiser reads.
LIFECYCLE_WORDS = {event.kind: event.words for event in _LIFECYCLE}
# Lifecycle events at the same instant apply in this order, so that ties cannot depend on
# arrival: a payment, then a failed rebill, a cancellation, a refund.
SAME_INSTANT_ORDER = {event.kind: event.same_instant for event in _LIFECYCLE}


def action_of(event_type):
    """What applies an event of this type (GRANT, SETTLE, CHANGE_EMAIL), or None."""
    event = BY_NAME.get(event_type)
    return event.action if event is not None else None
