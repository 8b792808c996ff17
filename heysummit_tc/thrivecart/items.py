"""ThriveCart item keys: ``<type>-<id>``, the value a ticket's External ID holds."""

import re

ITEM_TYPES = ("product", "upsell", "downsell", "bump")
ACCEPTED_FORMATS = "product-2, upsell-2, downsell-2 or bump-2"
# The longest key we store; ThriveCart ids are short integers.
MAX_KEY_LENGTH = 40

_KEY = re.compile(r"(product|upsell|downsell|bump)[-_]([0-9]{1,18})")


def normalize_item_key(value):
    """Return the canonical key for ``value`` (``Product_12`` -> ``product-12``), or None.

    ThriveCart writes keys with a dash in ``purchase_map`` and with an underscore in
    ``item_identifier``; both, in any case and with surrounding spaces, mean the same item.
    """
    if not isinstance(value, str):
        return None
    match = _KEY.fullmatch(value.strip().lower())
    if match is None:
        return None
    number = int(match.group(2))
    if number < 1:
        return None
    return f"{match.group(1)}-{number}"


def payload_item_key(value):
    """Return the key an order names: canonical when well-formed, else the trimmed text."""
    key = normalize_item_key(value)
    if key is not None:
        return key
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_KEY_LENGTH]
    return None
