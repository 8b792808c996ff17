"""Read the fields this product acts on out of a parsed ThriveCart payload."""

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from .items import payload_item_key
from .payload import redact

ORDER_SUCCESS = "order.success"
ORDER_REFUND = "order.refund"
# Items one order may list. A real checkout has a product and a few bumps, upsells and
# downsells; a body naming thousands would make thousands of rows for nothing.
MAX_ITEMS = 200


@dataclass(frozen=True)
class Buyer:
    email: str | None
    first_name: str
    last_name: str
    problem: str | None = None


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
    paid_at: datetime | None = None
    refund_key: str | None = None
    refund_amount: int | None = None
    # The payload as it may be stored and shown: without the secret word.
    payload: dict = field(default_factory=dict)


def read_order(payload):
    """Return the Order a parsed payload describes; never raises on odd shapes."""
    order = _mapping(payload.get("order"))
    refund = _mapping(payload.get("refund"))
    refund_key = None
    if refund:
        refund_key = payload_item_key(f"{_text(refund.get('type'))}-{_text(refund.get('id'))}")
    return Order(
        event_type=_text(payload.get("event")),
        mode=_text(payload.get("mode")).lower(),
        test=_text(payload.get("mode")).lower() == "test" or _text(payload.get("mode_int")) == "1",
        account=_text(payload.get("thrivecart_account"))[:100],
        order_id=(_text(payload.get("order_id")) or _text(order.get("id")) or None),
        invoice_id=(_text(payload.get("invoice_id")) or _text(order.get("invoice_id")) or None),
        currency=_currency(payload.get("currency")),
        buyer=read_buyer(_mapping(payload.get("customer"))),
        item_keys=item_keys(payload),
        charged=charged_amounts(order),
        paid_at=_timestamp(order.get("date_unix")) or _timestamp(payload.get("order_timestamp")),
        refund_key=refund_key,
        refund_amount=_minor_units(refund.get("amount")),
        payload=redact(payload),
    )


def read_buyer(customer):
    """Return the buyer's email and names as the attendee should get them."""
    raw_email = _text(customer.get("email")).strip()
    email, problem = None, None
    if not raw_email:
        problem = "the order has no customer email"
    else:
        try:
            validate_email(raw_email, check_deliverability=False)
        except EmailNotValidError as error:
            problem = f"customer email is not an email address: {error}"
        else:
            email = raw_email.lower()[:254]
    first = _name(customer.get("first_name")) or _name(customer.get("firstname"))
    last = _name(customer.get("last_name")) or _name(customer.get("lastname"))
    if not first and not last:
        first, _, last = _name(customer.get("name")).partition(" ")
        last = last.strip()
    return Buyer(email=email, first_name=first[:200], last_name=last[:200], problem=problem)


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
    for charge in _values(_mapping(payload.get("order")).get("charges")):
        keys.append(_charge_key(_mapping(charge)))
    return list(dict.fromkeys(key for key in keys if key))


def charged_amounts(order):
    """Return what was charged now per item key, from the ``single`` charge rows only.

    Older payloads list a subscription's first payment twice, as a ``single`` and a
    ``recurring`` row, so summing every row would double it.
    """
    charged = {}
    for charge in _values(order.get("charges")):
        charge = _mapping(charge)
        key = _charge_key(charge)
        amount = _minor_units(charge.get("amount"))
        if key is None or amount is None or _text(charge.get("type")) not in ("single", ""):
            continue
        charged[key] = charged.get(key, 0) + amount
    return charged


def _charge_key(charge):
    item_type, reference = _text(charge.get("item_type")), _text(charge.get("reference"))
    if item_type and reference:
        return payload_item_key(f"{item_type}-{reference}")
    return payload_item_key(_text(charge.get("item_identifier")))


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _values(value):
    # A list with indexes past the parser's list limit arrives as a dict keyed by index.
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return []


def _text(value):
    return value if isinstance(value, str) else ""


def _name(value):
    return html.unescape(_text(value)).strip()


def _currency(value):
    text = _text(value).strip().upper()
    return text if len(text) == 3 and text.isalpha() else None


def _minor_units(value):
    text = _text(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return int(text)
    return None


def _timestamp(value):
    seconds = _minor_units(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
