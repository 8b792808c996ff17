"""ThriveCart bodies for lifecycle scenarios: an order's success and its later events."""

from datetime import UTC, datetime

from helpers import FIXTURE_SECRET, form_body, json_body, load_fixture

EMAIL = "ada.lovelace@example.com"
ORDER = "23370556"
# Later events of the fixture's order (paid 2023-11-08). Ahead of the real clock, so that
# travelling there keeps the signed session cookie valid (its signature dates from now).
LATER = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)


def at(moment):
    return str(int(moment.timestamp()))


def success(order_id=ORDER, key="product-12", charged="499700", currency="USD", email=EMAIL,
            charges=None, secret=FIXTURE_SECRET, when=None):
    """An order.success for one item, as ThriveCart posts it (paid ``when``: the fixture's
    2023 date unless given)."""
    payload = load_fixture("order-success.json")
    if when is not None:
        payload["order_timestamp"] = payload["order"]["date_unix"] = at(when)
    payload["thrivecart_secret"] = secret
    item_type, reference = key.split("-")
    payload.update(order_id=order_id, invoice_id=f"INV-{order_id}", currency=currency,
                   purchase_map=[key], purchase_map_flat=key)
    payload["order"].update(id=order_id, total=charged)
    payload["order"]["charges"] = charges if charges is not None else [{
        "name": "Ticket", "reference": reference, "item_type": item_type,
        "item_identifier": f"{item_type}_{reference}", "amount": charged, "type": "single",
        "quantity": "1"}]
    payload["customer"]["email"] = email
    return form_body(payload)


def lifecycle(event, block, order_id=ORDER, when=LATER, event_id=None, invoice_id="000000005",
              secret=FIXTURE_SECRET, **fields):
    """A refund or subscription event of one item, built on the refund fixture's envelope."""
    payload = load_fixture("order-refund.json")
    payload["thrivecart_secret"] = secret
    payload.pop("refund")
    payload.pop("event_id")
    payload.update(event=event, order_id=order_id, invoice_id=invoice_id, date_unix=at(when),
                   date_iso8601=when.isoformat())
    payload["order"]["id"] = order_id
    payload[block] = fields
    if event_id:
        payload["event_id"] = event_id
    return json_body(payload)


def refund(amount="499700", currency="USD", key=("product", "12"), **options):
    return lifecycle("order.refund", "refund", type=key[0], id=key[1], amount=amount,
                     currency=currency, **options)


def rebill_failed(when=LATER, **options):
    return lifecycle("order.rebill_failed", "subscription", when=when, type="product", id="12",
                     amount="4997", **options)


def payment(number, when=LATER, **options):
    return lifecycle("order.subscription_payment", "subscription", when=when, type="product",
                     id="12", amount="4997", recurring_payment_idx=str(number), **options)


def cancellation(when=LATER, period_end=None, **options):
    fields = {"type": "product", "id": "12"}
    if period_end:
        fields["billing_period_end"] = at(period_end)
    return lifecycle("order.subscription_cancelled", "subscription", when=when, **fields,
                     **options)
