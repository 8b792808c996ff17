"""Who bought: the buyer's email and names, ThriveCart's customer id, where the order came
from (affiliate, coupon, UTM values, country), and a ``customer_updated`` email change."""

from dataclasses import dataclass
from dataclasses import replace as _replace

from email_validator import EmailNotValidError, validate_email

from .fields import mapping as _mapping
from .fields import name as _name
from .fields import text as _text

# The most characters kept of each attribution value (affiliate, coupon, UTM, country).
ATTRIBUTION_LENGTH = 200


@dataclass(frozen=True)
class Buyer:
    email: str | None
    first_name: str
    last_name: str
    problem: str | None = None


@dataclass(frozen=True)
class Attribution:
    """Where an order came from, as ThriveCart sent it: each value verbatim (``"null"`` read
    as empty), cut to ATTRIBUTION_LENGTH characters, or None."""

    country: str | None = None
    affiliate: str | None = None
    coupon: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


@dataclass(frozen=True)
class EmailChange:
    """What a ``customer_updated`` delivery says: the buyer, by ThriveCart's customer id or
    old email, and their new email (``problem`` says why it cannot be applied)."""

    customer_id: str | None
    old_email: str | None
    new_email: str | None
    problem: str | None = None


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
            # The validator holds the address to 254 octets, so its lower case fits the column.
            email = raw_email.lower()
    first = _name(customer.get("first_name")) or _name(customer.get("firstname"))
    last = _name(customer.get("last_name")) or _name(customer.get("lastname"))
    if not first and not last:
        first, _, last = _name(customer.get("name")).partition(" ")
        last = last.strip()
    return Buyer(email=email, first_name=first[:200], last_name=last[:200], problem=problem)


def customer_id(payload):
    """ThriveCart's id of the buyer (a digit string kept as text), or None."""
    customer = _mapping(payload.get("customer"))
    found = _text(payload.get("customer_id")).strip() or _text(customer.get("id")).strip()
    return found[:40] or None


# Where an order's coupon has been seen: top level or in the order block, as text or as a
# block with a code.
_COUPON_FIELDS = ("coupon", "coupon_code")


def read_attribution(payload, customer):
    """Return the order's affiliate, coupon, UTM passthrough values and buyer's country.

    None of these is documented: what arrives is kept as text, never interpreted, and cut
    to ATTRIBUTION_LENGTH characters.
    """
    order, passthrough = _mapping(payload.get("order")), _mapping(payload.get("passthrough"))
    coupon = next((found for block in (payload, order) for name in _COUPON_FIELDS
                   if (found := _label(block.get(name), "code", "name", "id"))), None)
    return Attribution(
        country=_bounded(_label(_mapping(customer.get("address")).get("country"))
                         or _label(customer.get("country"))),
        affiliate=_bounded(_label(payload.get("affiliate"), "id", "username", "name")),
        coupon=_bounded(coupon),
        **{name: _bounded(_label(passthrough.get(name)) or _label(payload.get(name)))
           for name in ("utm_source", "utm_medium", "utm_campaign")},
    )


def _label(value, *keys):
    """A value as text: a string as it is, or the first of ``keys`` a block gives."""
    if isinstance(value, dict):
        return next((text for key in keys if (text := _text(value.get(key)).strip())), "")
    return _text(value).strip()


def _bounded(text):
    return (text or "")[:ATTRIBUTION_LENGTH] or None


# Where a customer_updated delivery may carry the old and the new email.
_OLD_EMAIL = (("customer", "old_email"), ("customer", "previous_email"), ("old_email",),
              ("previous_email",), ("previous", "email"), ("old", "email"))
_NEW_EMAIL = (("customer", "new_email"), ("new_email",), ("customer", "email"), ("email",))


def read_email_change(payload):
    """Return what a ``customer_updated`` delivery asks: whose email changes, and to what.

    Its shape is not documented. The buyer is named by ``customer_id`` (or ``customer[id]``)
    and the old email where one of the usual names carries it; the new email is
    ``customer[new_email]``, ``new_email``, ``customer[email]`` or ``email``.
    """
    old_email = _email_at(payload, _OLD_EMAIL)
    new_raw = _email_at(payload, _NEW_EMAIL)
    found = customer_id(payload)
    change = EmailChange(found, old_email and old_email.lower(), None)
    if not new_raw:
        return _replace(change, problem="the body names no new email")
    try:
        validate_email(new_raw, check_deliverability=False)
    except EmailNotValidError as error:
        return _replace(change, problem=f"the new email is not an email address: {error}")
    if not found and not old_email:
        return _replace(change, problem="the body names neither a customer id nor an old email")
    return _replace(change, new_email=new_raw.lower())


def _email_at(payload, paths):
    for path in paths:
        value = payload
        for name in path:
            value = _mapping(value).get(name)
        if text := _text(value).strip():
            return text
    return None


