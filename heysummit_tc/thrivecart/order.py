"""Read the fields this product acts on out of a parsed ThriveCart payload."""

import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .customer import (
    Attribution,
    Buyer,
    EmailChange,
    customer_id,
    read_attribution,
    read_buyer,
    read_email_change,
)
from .events import CUSTOMER_UPDATED, LIFECYCLE_EVENTS, ORDER_SUCCESS
from .fields import mapping as _mapping
from .fields import text as _text
from .fields import values as _values
from .items import payload_item_key
from .payload import redact

# Items one order may list. A real checkout has a product and a few bumps, upsells and
# downsells; a body naming thousands would make thousands of rows for nothing.
MAX_ITEMS = 200
# The largest amount of minor units the 64-bit money columns hold.
MAX_AMOUNT = 2**63 - 1


@dataclass(frozen=True)
class Lifecycle:
    """A refund, failed rebill, rebill or cancellation of one item of an order, as a delivery
    brings it or as it is kept (services.lifecycle settles purchases from these)."""

    kind: str
    item_key: str | None
    identity: str
    amount: int | None
    currency: str | None
    occurred_at: datetime | None
    billing_period_end: datetime | None
    invoice_id: str | None
    # A rebill's place in a payment plan or subscription, when ThriveCart says.
    payment_number: int | None = None
    remaining_payments: int | None = None
    next_payment_at: datetime | None = None


@dataclass(frozen=True)
class Order:
    event_type: str
    mode: str
    test: bool
    account: str
    order_id: str | None
    invoice_id: str | None
    currency: str | None
    buyer: Buyer
    item_keys: list[str] = field(default_factory=list)
    charged: dict[str, int] = field(default_factory=dict)
    # The items' names as ThriveCart sent them, per item key (where the payload names them).
    item_names: dict[str, str] = field(default_factory=dict)
    paid_at: datetime | None = None
    lifecycle: Lifecycle | None = None
    customer_id: str | None = None
    attribution: Attribution = field(default_factory=Attribution)
    email_change: EmailChange | None = None
    # The payload as it may be stored and shown: without the secret word.
    payload: dict = field(default_factory=dict)
    # Why the order cannot be applied as sent (an amount that no column holds), or None.
    problem: str | None = None


def read_order(payload):
    """Return the Order a parsed payload describes; never raises on odd shapes."""
    order = _mapping(payload.get("order"))
    event_type = _text(payload.get("event"))
    currency = _currency(payload.get("currency"))
    charged = charged_amounts(order, _text(payload.get("base_product")))
    lifecycle = read_lifecycle(payload, event_type, currency)
    customer = _mapping(payload.get("customer"))
    return Order(
        event_type=event_type,
        mode=_text(payload.get("mode")).lower(),
        test=_text(payload.get("mode")).lower() == "test" or _text(payload.get("mode_int")) == "1",
        account=_text(payload.get("thrivecart_account"))[:100],
        order_id=(_text(payload.get("order_id")) or _text(order.get("id")) or None),
        invoice_id=(_text(payload.get("invoice_id")) or _text(order.get("invoice_id")) or None),
        currency=currency,
        buyer=read_buyer(customer),
        item_keys=item_keys(payload),
        charged={key: amount for key, amount in charged.items() if amount <= MAX_AMOUNT},
        item_names=item_names(payload),
        paid_at=_timestamp(order.get("date_unix")) or _timestamp(payload.get("order_timestamp")),
        lifecycle=lifecycle,
        customer_id=customer_id(payload),
        attribution=(read_attribution(payload, customer) if event_type == ORDER_SUCCESS
                     else Attribution()),
        email_change=(read_email_change(payload) if event_type == CUSTOMER_UPDATED else None),
        payload=redact(payload),
        problem=_amount_problem(charged, lifecycle),
    )


def _amount_problem(charged, lifecycle):
    """Say which amount cannot be stored (over 64 bits), or return None."""
    for key, amount in charged.items():
        if amount > MAX_AMOUNT:
            return (f"the amount charged for {key} ({amount} minor units) is larger than "
                    f"{MAX_AMOUNT}, the most that can be stored")
    if lifecycle is not None and lifecycle.amount is not None and lifecycle.amount > MAX_AMOUNT:
        return (f"the {lifecycle.kind.replace('_', ' ')} amount ({lifecycle.amount} minor "
                f"units) is larger than {MAX_AMOUNT}, the most that can be stored")
    return None


def read_lifecycle(payload, event_type, order_currency):
    """Return what a refund or subscription event says about its item, or None."""
    if event_type not in LIFECYCLE_EVENTS:
        return None
    kind, block_name = LIFECYCLE_EVENTS[event_type]
    block = _mapping(payload.get(block_name))
    item_type = _text(block.get("type")) or ("product" if block.get("product_id") else "")
    item_id = _text(block.get("id")) or _text(block.get("product_id"))
    event_id = _text(payload.get("event_id")).strip()
    if event_id:
        identity = f"event:{event_id}"[:64]
    else:
        # No id from ThriveCart: the same content is the same event, however often it comes.
        content = {name: payload.get(name) for name in (
            "event", "date", "date_unix", "invoice_id", "recurring_payment_idx", block_name)}
        identity = hashlib.sha256(
            json.dumps(content, sort_keys=True).encode()).hexdigest()
    return Lifecycle(
        kind=kind,
        item_key=payload_item_key(f"{item_type}-{item_id}") if item_type and item_id else None,
        identity=identity,
        amount=_minor_units(block.get("amount")),
        currency=_currency(block.get("currency")) or order_currency,
        occurred_at=_timestamp(payload.get("date_unix")) or _iso_time(
            payload.get("date_iso8601")),
        billing_period_end=_timestamp(block.get("billing_period_end")) or _iso_time(
            block.get("billing_period_end_iso8601")),
        invoice_id=(_text(payload.get("invoice_id")) or None) and _text(
            payload.get("invoice_id"))[:40],
        payment_number=_count(block.get("recurring_payment_idx")
                              or payload.get("recurring_payment_idx")),
        remaining_payments=_count(block.get("remaining_rebills")),
        next_payment_at=_timestamp(block.get("next_payment_date")),
    )


def _count(value):
    """A small whole number ThriveCart sent as text (a rebill's index), or None."""
    text = _text(value).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def item_keys(payload):
    """Return every item an order lists, in order and without duplicates.

    The union of ``purchase_map``, ``purchase_map_flat`` and ``order[charges]``: older
    payloads lack some of them, and none is documented to be complete on its own.
    """
    keys = []
    for value in _values(payload.get("purchase_map")):
        keys.append(payload_item_key(value))
    flat = payload.get("purchase_map_flat")
    if isinstance(flat, str):
        keys.extend(payload_item_key(part) for part in flat.split(","))
    base_product = _text(payload.get("base_product"))
    for charge in _values(_mapping(payload.get("order")).get("charges")):
        keys.append(_charge_key(_mapping(charge), base_product))
    return list(dict.fromkeys(key for key in keys if key))


def item_names(payload):
    """Return {item key: name} from the charge rows and ``purchases`` beside ``purchase_map``.

    ThriveCart HTML-escapes names (``&amp;``); they are unescaped here, escaped again when shown.
    """
    names = {}
    base_product = _text(payload.get("base_product"))
    for charge in _values(_mapping(payload.get("order")).get("charges")):
        charge = _mapping(charge)
        key, name = _charge_key(charge, base_product), _text(charge.get("name"))
        if key and name:
            names.setdefault(key, html.unescape(name)[:200])
    for value, name in zip(_values(payload.get("purchase_map")),
                           _values(payload.get("purchases")), strict=False):
        key, name = payload_item_key(value), _text(name)
        if key and name:
            names.setdefault(key, html.unescape(name)[:200])
    return names


def charged_amounts(order, base_product):
    """Return what was charged now per item key, from the ``single`` charge rows only.

    Older payloads list a subscription's first payment twice, as a ``single`` and a
    ``recurring`` row, so summing every row would double it.
    """
    charged = {}
    for charge in _values(order.get("charges")):
        charge = _mapping(charge)
        key = _charge_key(charge, base_product)
        amount = _minor_units(charge.get("amount"))
        if key is None or amount is None or _text(charge.get("type")) not in ("single", ""):
            continue
        charged[key] = charged.get(key, 0) + amount
    return charged


@dataclass(frozen=True)
class Charge:
    """A row of ``order[charges]``, as the order page lists it."""

    item_key: str | None
    name: str
    amount: int | None
    kind: str  # "single" or "recurring" ("" in older payloads)
    plan: str


def charge_rows(payload):
    """Return every charge row of an order.success as ThriveCart sent it, each row's item
    read as :func:`charged_amounts` reads it."""
    base_product = _text(payload.get("base_product"))
    rows = []
    for charge in _values(_mapping(payload.get("order")).get("charges")):
        charge = _mapping(charge)
        rows.append(Charge(
            _charge_key(charge, base_product),
            html.unescape(_text(charge.get("name")) or _text(charge.get("label")))[:200],
            _minor_units(charge.get("amount")), _text(charge.get("type")),
            _text(charge.get("payment_plan_name"))[:200]))
    return rows


def _charge_key(charge, base_product):
    item_type, reference = _text(charge.get("item_type")), _text(charge.get("reference"))
    if item_type and reference:
        return payload_item_key(f"{item_type}-{reference}")
    identifier = _text(charge.get("item_identifier"))
    if identifier:
        return payload_item_key(identifier)
    # Older payloads name neither: the front-end product's row is the one whose reference
    # is base_product; other rows are matched through purchase_map only.
    if reference and reference == base_product:
        return payload_item_key(f"product-{reference}")
    return None


def _currency(value):
    text = _text(value).strip().upper()
    return text if len(text) == 3 and text.isalpha() else None


# Digits read as a number at the most: past 64 bits' 19 digits, a number is only told apart
# as too large, never converted digit by digit.
_MAX_DIGITS = 40


def _minor_units(value):
    """A whole number of minor units (any size: the caller decides what fits), or None."""
    text = _text(value).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text.lstrip("0")) > _MAX_DIGITS:
        return 10**_MAX_DIGITS  # too large for anything; said so by _amount_problem
    return int(text)


def _iso_time(value):
    """An ISO 8601 time as UTC, or None when it is not one or lies outside years 1-9999
    once moved to UTC (``0001-01-01T00:00:00+01:00``)."""
    try:
        moment = datetime.fromisoformat(_text(value).strip())
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _timestamp(value):
    seconds = _minor_units(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
