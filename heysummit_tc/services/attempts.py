"""What one attempt of a delivery did: an outcome per item and event, and the result the
webhook (or the person replaying) is answered with."""

from dataclasses import asdict, dataclass

from ..models import DeliveryStatus, OutcomeKind, PurchaseStatus

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
class Outcome:
    """What one attempt did to one item in one event."""

    event_id: int
    item: str | None
    outcome: OutcomeKind
    ticket_id: int | None = None
    attendee_id: int | None = None
    purchase_id: int | None = None
    detail: str | None = None


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
