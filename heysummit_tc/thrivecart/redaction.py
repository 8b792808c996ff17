"""A stored payload without the buyer in it: what erasure and retention leave behind.

Redaction keeps a payload's fields by name, not drops them: whatever ThriveCart adds to its
customer block or custom fields later is gone too. What stays is what the log's summaries,
outcomes and money rest on: the event, its mode and account, order and invoice ids, items and
their names, amounts, currencies, times, and the refund or subscription block of a lifecycle
event (which names an item, not a person).
"""

from .fields import mapping

# Marks a redacted payload, so that a page can say what happened to it.
REDACTED = "personal_data_removed"

_KEPT = frozenset({
    "event", "mode", "mode_int", "thrivecart_account", "base_product", "base_product_name",
    "base_product_label", "base_product_owner", "order_id", "invoice_id", "order_date",
    "order_timestamp", "currency", "purchases", "purchase_map", "purchase_map_flat",
    "accessible_purchases", "accessible_purchase_map", "accessible_purchase_map_flat",
    "transactions", "subscriptions", "subscription_ids", "subscription_id",
    "recurring_payment_idx", "date", "date_iso8601", "date_unix", "event_id", "pro-rata",
    "refund", "subscription",
})
_KEPT_OF_ORDER = frozenset({
    "id", "invoice_id", "processor", "total", "total_str", "total_gross", "total_gross_str",
    "tax", "tax_type", "date", "date_iso8601", "date_unix", "charges", "future_charges",
})


def without_buyer(payload):
    """Return ``payload`` with only the fields that describe the order, not its buyer (None
    stays None: a payload pruned whole before redaction existed)."""
    if payload is None:
        return None
    if not isinstance(payload, dict):
        return {REDACTED: True}
    kept = {name: value for name, value in payload.items() if name in _KEPT}
    if "order" in payload:
        kept["order"] = {name: value for name, value in mapping(payload["order"]).items()
                         if name in _KEPT_OF_ORDER}
    kept[REDACTED] = True
    return kept
