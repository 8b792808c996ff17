"""ThriveCart item keys: ``<type>-<id>``, the value a ticket's External ID holds."""

import re
from urllib.parse import urlsplit

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


_URL_TYPES = {"upsell": "upsell", "upsells": "upsell", "downsell": "downsell",
              "downsells": "downsell"}
NO_ID_IN_URL = ("This URL has no item id. In ThriveCart, open the product (or its upsell or "
                "downsell) in the editor and copy the address there: the id is the number at "
                "its end.")


class ItemIdProblem(ValueError):
    """What was typed into External ID cannot be read as an item id; the message says why."""


def read_external_id(value, item_type="product"):
    """Return the key a person means by what they typed into External ID, or None if empty.

    Accepted: a key (``product-12``, ``Product_12``); a bare number with ``item_type``; or a
    ThriveCart URL, whose last number (before any query) is the id: an upsell's or
    downsell's URL says so, anything else takes ``item_type`` (a bump has the id of the
    product it is attached to, so its URL is the product's). Raises ItemIdProblem.
    """
    text = (value or "").strip()
    if not text:
        return None
    key = normalize_item_key(text)
    if key is not None:
        return key
    if item_type not in ITEM_TYPES:
        raise ItemIdProblem(f"Choose the item type: {', '.join(ITEM_TYPES)}.")
    if text.isascii() and text.isdigit():
        number = int(text)
        if not 1 <= number < 10**18:
            raise ItemIdProblem("ThriveCart item ids are whole numbers from 1.")
        return f"{item_type}-{number}"
    if "/" in text or text.lower().startswith(("www.", "thrivecart.")):
        parts = urlsplit(text if "://" in text else f"https://{text}")
        where = f"{parts.path}/{parts.fragment.split('?')[0]}".lower()
        numbers = re.findall(r"[0-9]+", where)
        if not numbers or int(numbers[-1]) < 1 or len(numbers[-1]) > 18:
            raise ItemIdProblem(NO_ID_IN_URL)
        words = re.findall(r"[a-z]+", where)
        url_type = next((_URL_TYPES[word] for word in reversed(words) if word in _URL_TYPES),
                        None)
        return f"{url_type or item_type}-{int(numbers[-1])}"
    raise ItemIdProblem(
        f"“{text}” is not a ThriveCart item id. Use {ACCEPTED_FORMATS}, a number with its item "
        "type, or the item's ThriveCart URL.")
