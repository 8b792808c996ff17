"""Filters templates use to show money, times and statuses, and the CSRF field of a form.

They build their markup with f-strings over escaped values: ``Markup.format`` goes through
``string.Formatter`` and cost a third of the attendees page's rendering.
"""

from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .services.money import format_amount
from .words import plural


def register(app):
    """Add the template filters."""
    app.add_template_filter(money, "money")
    app.add_template_global(time_tag, "time")
    app.add_template_global(badge, "badge")
    app.add_template_global(csrf_input, "csrf_input")
    app.add_template_filter(plural, "plural")


def csrf_input():
    """The hidden CSRF field of a form that has no WTForms form of its own (a button)."""
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">')


def money(minor_units, currency):
    if minor_units is None:
        return ""
    return f"{format_amount(minor_units, currency)} {currency}"


def iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else ""


def utc(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def time_tag(moment):
    """A <time> showing UTC; the script re-renders it in the reader's locale and zone."""
    if not moment:
        return "—"
    shown = escape(utc(moment))
    return Markup(f'<time datetime="{escape(iso(moment))}" title="{shown}">{shown}</time>')


def badge(status, label=None):
    """A status badge: its word is its meaning, the colour only repeats it."""
    status = str(status)
    return Markup(f'<span class="badge badge-{escape(status.replace("_", "-"))}">'
                  f'{escape(label or status.replace("_", " "))}</span>')
