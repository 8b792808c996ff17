"""What a delivery did, in words: the summary, colour and filters of the delivery log.

One attempt of a delivery leaves an outcome per item in each event it reached. The log shows
them as one line (``2 paid · 1 unlinked: upsell-9``), coloured by the worst of them, and
filters on groups of them. The same groups decide what needs the organiser's attention.
"""

from dataclasses import dataclass

from ..models import OutcomeKind as K
from ..thrivecart.events import LIFECYCLE_EVENTS, LIFECYCLE_WORDS

# The log's outcome filter: a name, its label and the outcomes it matches.
GROUPS = {
    "paid": ("Paid", (K.PAID,)),
    "refunded": ("Refunded", (K.REFUNDED,)),
    "partial_refund": ("Partial refund", (K.PARTIAL_REFUND,)),
    "payment_failed": ("Payment failed", (K.PAYMENT_FAILED,)),
    "payment_recorded": ("Payment recorded", (K.PAYMENT_RECORDED,)),
    "cancelled": ("Cancelled", (K.CANCELLED,)),
    "waiting": ("Waiting for its order", (K.WAITING_FOR_ORDER,)),
    "unlinked": ("Unlinked item", (K.UNLINKED, K.TICKET_INACTIVE)),
    "no_change": ("No change", (K.ALREADY_PAID, K.ALREADY_PAYMENT_FAILED, K.ALREADY_CANCELLED,
                                K.ALREADY_ENDED, K.ALREADY_REFUNDED, K.DUPLICATE)),
    "email": ("Email change", (K.EMAIL_CHANGED, K.EMAIL_CONFLICT, K.UNKNOWN_CUSTOMER)),
    "elsewhere": ("Another event's item", (K.LINKED_ELSEWHERE,)),
    "ignored": ("Ignored", (K.IGNORED, K.NO_ITEMS)),
    "failed": ("Failed", (K.FAILED,)),
}
# The group each outcome is filtered under.
GROUP_OF = {kind: name for name, (_label, kinds) in GROUPS.items() for kind in kinds}
# Posts refused for a wrong Secret Word: not deliveries, but listed with them.
REJECTED = "rejected"

# What needs a person. A partial refund is shown in the log, not as attention: nothing is
# for anyone to do about it.
ATTENTION = frozenset({K.FAILED, K.UNLINKED, K.TICKET_INACTIVE, K.PAYMENT_FAILED,
                       K.WAITING_FOR_ORDER, K.NO_ITEMS, K.EMAIL_CONFLICT})

# Tones, from least to most telling: the row takes the most telling of its outcomes
# (a grant beside a no-change is green; a warning beside a grant is a warning).
GOOD, INFO, NEUTRAL, WARNING, DANGER = "good", "info", "neutral", "warning", "danger"
_RANK = {NEUTRAL: 0, GOOD: 1, INFO: 2, WARNING: 3, DANGER: 4}
_TONE = {
    K.PAID: GOOD,
    K.PAYMENT_RECORDED: GOOD,
    K.EMAIL_CHANGED: INFO,
    K.REFUNDED: INFO,
    K.CANCELLED: INFO,
    K.PARTIAL_REFUND: INFO,
    K.FAILED: DANGER,
    **{kind: WARNING for kind in ATTENTION if kind != K.FAILED},
}

_WORDS = {
    K.PAID: "paid",
    K.REFUNDED: "refunded",
    K.PARTIAL_REFUND: "partial refund",
    K.PAYMENT_FAILED: "payment failed",
    K.PAYMENT_RECORDED: "payment recorded",
    K.CANCELLED: "cancelled",
    K.UNLINKED: "unlinked",
    K.LINKED_ELSEWHERE: "for another event",
    K.TICKET_INACTIVE: "ticket inactive",
    K.NO_ITEMS: "no items",
    K.EMAIL_CHANGED: "email changed",
    K.EMAIL_CONFLICT: "email taken by another attendee: merge by hand",
    K.UNKNOWN_CUSTOMER: "no attendee is this customer",
}
_NO_CHANGE = {
    K.ALREADY_PAID: "already paid",
    K.ALREADY_PAYMENT_FAILED: "already payment failed",
    K.ALREADY_CANCELLED: "already cancelled",
    K.ALREADY_ENDED: "already ended",
    K.ALREADY_REFUNDED: "already refunded",
    K.DUPLICATE: "received before",
}


@dataclass(frozen=True)
class Summary:
    text: str
    tone: str
    attention: bool


def needs_attention(kinds):
    """Tell whether outcomes of these kinds need the organiser to act."""
    return any(kind in ATTENTION for kind in kinds)


def summarise(outcomes, event_type=""):
    """Sum up one attempt's outcomes in one event: ``2 paid · 1 unlinked: upsell-9``.

    ``outcomes`` are objects with ``outcome``, ``item`` (or ``item_key``) and ``detail``.
    """
    if not outcomes:
        return Summary("not processed yet", NEUTRAL, False)
    counted, no_change, parts = {}, [], []
    for outcome in outcomes:
        kind = K(outcome.outcome)
        item = getattr(outcome, "item", None) or getattr(outcome, "item_key", None)
        counted.setdefault(kind, []).append(item)
    for kind, items in counted.items():
        if kind == K.FAILED:
            detail = next((o.detail for o in outcomes if o.outcome == K.FAILED and o.detail), "")
            parts.append(f"failed: {detail}" if detail else "failed")
        elif kind == K.WAITING_FOR_ORDER:
            kind = LIFECYCLE_EVENTS.get(event_type, (None,))[0]
            parts.append(f"{LIFECYCLE_WORDS.get(kind, 'event')} waiting for its order")
        elif kind == K.IGNORED:
            parts.append("ignored")
        elif kind in _NO_CHANGE:
            no_change.append(_NO_CHANGE[kind])
        elif kind in (K.UNLINKED, K.TICKET_INACTIVE, K.LINKED_ELSEWHERE):
            keys = ", ".join(sorted({item for item in items if item}))
            parts.append(f"{len(items)} {_WORDS[kind]}" + (f": {keys}" if keys else ""))
        elif kind in (K.NO_ITEMS, K.EMAIL_CONFLICT, K.UNKNOWN_CUSTOMER):
            parts.append(_WORDS[kind])
        else:
            parts.append(f"{len(items)} {_WORDS[kind]}")
    if no_change:
        parts.append("no change: " + ", ".join(dict.fromkeys(no_change)))
    tone = max((_TONE.get(kind, NEUTRAL) for kind in counted), key=_RANK.__getitem__)
    return Summary(" · ".join(parts), tone, needs_attention(counted))
