"""Filters and globals templates use to show money, times and statuses."""

from .services.money import format_amount


def register(app):
    """Add the template filters."""
    app.add_template_filter(_money, "money")
    app.add_template_filter(_iso, "iso")
    app.add_template_filter(_utc, "utc")


def _money(minor_units, currency):
    if minor_units is None:
        return ""
    return f"{format_amount(minor_units, currency)} {currency}"


def _iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else ""


def _utc(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""
