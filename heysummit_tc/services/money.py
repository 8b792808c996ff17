"""Amounts in integer minor units, typed and shown in major units.

Minor units follow ISO 4217's exponents, as ThriveCart and its payment processors count them:
IDR 24,000,000.00 arrives as ``2400000000`` even though IDR is spent without decimals (which
is why CLDR, and so Babel, gives it none).
"""

from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import format_currency
from iso4217 import Currency
from sqlalchemy import String, case, cast, func

from ..models import sql_constant
from . import ServiceError

# Currencies with a minor unit: what tickets are priced in (not gold, SDRs or test codes).
CURRENCY_EXPONENTS = {currency.code: currency.exponent for currency in Currency
                      if currency.exponent is not None}
# The decimal places of a currency ISO 4217 does not list.
DEFAULT_EXPONENT = 2
_CURRENCIES = frozenset(CURRENCY_EXPONENTS)


@cache
def get_currency_precision(currency):
    """Return the currency's decimal places (JPY 0, USD 2, IDR 2, KWD 3); 2 when unknown."""
    return CURRENCY_EXPONENTS.get(currency, DEFAULT_EXPONENT)


def normalize_currency(code):
    """Return the upper-case ISO 4217 code, or raise ServiceError."""
    code = (code or "").strip().upper()
    if code not in _CURRENCIES or len(code) != 3:
        raise ServiceError(f"{code or 'That'} is not an ISO 4217 currency code (e.g. USD).",
                           field="currency")
    return code


def parse_amount(text, currency):
    """Return ``97.00`` as 9700 minor units of ``currency``, or raise ServiceError."""
    precision = get_currency_precision(currency)
    try:
        value = Decimal((text or "").strip().replace(",", ""))
    except InvalidOperation:
        raise ServiceError("Enter an amount such as 97.00.", field="amount") from None
    if not value.is_finite() or value < 0:
        raise ServiceError("Enter an amount of zero or more, such as 97.00.", field="amount")
    minor = value.scaleb(precision)
    if minor != minor.to_integral_value():
        raise ServiceError(
            f"{currency} amounts have {precision} decimal places at most.", field="amount"
        )
    if minor > 2**63 - 1:
        raise ServiceError("That amount is too large.", field="amount")
    return int(minor)


def format_amount(minor_units, currency):
    """Return 9700 USD as ``97.00``."""
    precision = get_currency_precision(currency)
    if precision == 0:
        return str(minor_units)
    whole, part = divmod(abs(minor_units), 10**precision)
    return f"{'-' if minor_units < 0 else ''}{whole}.{part:0{precision}d}"


# Shown with the currency's own digits and grouping (CLDR's, through Babel) and its ISO code
# after, joined by a no-break space: ``1,497.00 USD``, ``15,000 JPY``, ``135.00 EUR``. One
# form for every currency: a bare ``$`` would not say which dollars.
_SHOWN = "#,##0.00\u00a0¤¤"
_NUMBER = "#,##0.00"


def _major(minor_units, currency):
    return Decimal(minor_units).scaleb(-get_currency_precision(currency))


def money_text(minor_units, currency):
    """Return 149700 USD as ``1,497.00 USD`` (empty when either is unknown)."""
    if minor_units is None or not currency:
        return ""
    return format_currency(_major(minor_units, currency), currency, format=_SHOWN,
                           locale="en_US", decimal_quantization=False)


def refunded_text(refunded, charged, currency):
    """Return what was refunded of a charge in words: ``Refunded 30.00 of 97.00 USD``."""
    number = format_currency(_major(refunded, currency), currency, format=_NUMBER,
                             locale="en_US", decimal_quantization=False)
    return f"Refunded {number} of {money_text(charged, currency)}"


def amount_text(amount, currency):
    """:func:`format_amount` as a SQL expression over two columns, the same on PostgreSQL and
    SQLite: 9700 USD as ``97.00``, 9700 JPY as ``9700``, 9700 KWD as ``9.700``."""
    by_exponent = {}
    for code, exponent in CURRENCY_EXPONENTS.items():
        by_exponent.setdefault(exponent, []).append(code)
    sign = case((amount < sql_constant(0), sql_constant("-")), else_=sql_constant(""))
    magnitude = func.abs(amount)

    def decimal(exponent):
        unit = sql_constant(10**exponent)
        # Integers divided: both databases truncate. The part after the point is zero-padded
        # as 10^exponent + part with its first digit cut.
        part = func.substr(cast(unit + magnitude % unit, String), sql_constant(2))
        return sign + cast(magnitude.op("/")(unit), String) + sql_constant(".") + part

    return case(
        *((currency.in_([sql_constant(code) for code in sorted(codes)]),
           cast(amount, String) if exponent == 0 else decimal(exponent))
          for exponent, codes in sorted(by_exponent.items()) if exponent != DEFAULT_EXPONENT),
        else_=decimal(DEFAULT_EXPONENT),
    )
