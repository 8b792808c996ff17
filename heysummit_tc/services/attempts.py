"""One attempt of a delivery: what it needs (:class:`Attempt`), what it did (an
:class:`Outcome` per item and event) and the result the webhook, or the person replaying, is
answered with (:class:`DeliveryResult`)."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ..models import DeliveryStatus, OutcomeKind, PurchaseStatus, utcnow
from ..thrivecart.order import Order

PROCESSED, IGNORED, FAILED = (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                              DeliveryStatus.FAILED)


# The outcome a delivery reports when it leaves a purchase in a status.
OUTCOME_OF_STATUS = {
    PurchaseStatus.PAID: OutcomeKind.PAID,
    PurchaseStatus.PAYMENT_FAILED: OutcomeKind.PAYMENT_FAILED,
    PurchaseStatus.CANCELLED: OutcomeKind.CANCELLED,
    PurchaseStatus.REFUNDED: OutcomeKind.REFUNDED,
}


ALREADY = {
    PurchaseStatus.PAID: OutcomeKind.ALREADY_PAID,
    PurchaseStatus.PAYMENT_FAILED: OutcomeKind.ALREADY_PAYMENT_FAILED,
    PurchaseStatus.CANCELLED: OutcomeKind.ALREADY_CANCELLED,
    PurchaseStatus.ENDED: OutcomeKind.ALREADY_ENDED,
    PurchaseStatus.REFUNDED: OutcomeKind.ALREADY_REFUNDED,
}


@dataclass(frozen=True)
class Attempt:
    """What applying a recorded delivery needs, from the view down to the database.

    ``source`` is what purchases it grants record (``thrivecart``, ``test_purchase``);
    ``user_id`` is whoever asked for the attempt (a replay, a release, a re-run), shown in
    the log. ``event_ids`` are kept sorted, once each: events are locked and reported in
    that order.
    """

    session: Any
    delivery_id: int
    order: Order
    event_ids: tuple[int, ...]
    now: datetime | None = None
    source: str = "thrivecart"
    user_id: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "event_ids", tuple(sorted(set(self.event_ids))))
        if self.now is None:
            object.__setattr__(self, "now", utcnow())

    @property
    def connection(self):
        return self.session.connection()

    @property
    def order_id(self):
        """The order's id as stored (at most 40 characters), or None."""
        return self.order.order_id and self.order.order_id[:40]

    def everywhere(self, kind, detail, item=None):
        """The same outcome in each event the delivery addressed."""
        return [Outcome(event_id, item, kind, detail=detail) for event_id in self.event_ids]


@dataclass(frozen=True)
class Outcome:
    """What one attempt did to one item in one event."""

    event_id: int
    item: str | None
    outcome: OutcomeKind
    ticket_id: int | None = None
    attendee_id: int | None = None
    purchase_id: int | None = None
    detail: str | None = None


def unlinked(event_id, key, tickets):
    """The outcome of an item no ticket of the event links: the event's to link, unless
    another event that received the delivery links it (``tickets``, keyed by event and
    item, holds the linked tickets of every event the delivery addressed)."""
    if any(linked == key and ticket.id is not None
           for (_event_id, linked), ticket in tickets.items()):
        return Outcome(event_id, key, OutcomeKind.LINKED_ELSEWHERE,
                       detail="another event on this ThriveCart account links it")
    return Outcome(event_id, key, OutcomeKind.UNLINKED, detail="no ticket has this External ID")


def unapplied(event_id, key, ticket, tickets):
    """The outcome of an item that no active ticket of the event takes (``ticket``: what
    :func:`..sql.orders.linked_tickets` found for it), or None when one does."""
    if ticket is None:
        return unlinked(event_id, key, tickets)
    if ticket.id is None:
        return Outcome(event_id, key, OutcomeKind.IGNORED,
                       detail="ignored under Unlinked items: not a ticket")
    if not ticket.active:
        return Outcome(event_id, key, OutcomeKind.TICKET_INACTIVE, ticket.id,
                       detail="the ticket is inactive; reactivate and replay")
    return None


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    status: DeliveryStatus
    http_status: int
    outcomes: tuple[Outcome, ...] = ()
    error: str | None = None

    @property
    def granted(self):
        """Whether this attempt granted access to something: each grant's outcome row is
        its access email's outbox entry (see services.access_emails)."""
        return any(outcome.outcome == OutcomeKind.PAID for outcome in self.outcomes)

    def as_json(self):
        """Return the body the webhook answers with."""
        body = {"status": self.status, "delivery_id": self.delivery_id}
        if self.error:
            body["error"] = self.error
        if self.status != IGNORED:
            body["outcomes"] = [
                {key: value for key, value in asdict(outcome).items()
                 if key != "attendee_id" and key != "purchase_id"}
                for outcome in self.outcomes
            ]
        return body
