"""Filters templates use to show money, times and statuses, and the CSRF field of a form.

They build their markup with f-strings in which every value is escaped (hence the
``noqa: S704``): ``Markup.format`` and ``%`` go through a formatter three times slower, and
cost a third of the attendees page's rendering.
"""

from functools import lru_cache

from flask import g, has_app_context
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .services.money import money_text, refunded_text
from .services.times import shown
from .words import plural


def register(app):
    """Add the template filters."""
    app.add_template_filter(money_text, "money")
    app.add_template_global(refunded_text, "refunded_text")
    # Filters, not globals: Jinja calls a filter directly, where every call of a global goes
    # through Context.call, which inspects the function first. A page of 50 attendees makes
    # about 150 such calls.
    app.add_template_filter(time_tag, "time")
    app.add_template_filter(badge, "badge")
    app.add_template_global(csrf_input, "csrf_input")
    app.add_template_filter(plural, "plural")


def csrf_input():
    """The hidden CSRF field of a form that has no WTForms form of its own (a button)."""
    token = escape(generate_csrf())
    return Markup(f'<input type="hidden" name="csrf_token" value="{token}">')  # noqa: S704  # nosec B704


def iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else ""


def utc(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def time_tag(moment, timezone=None):
    """A <time> in ``timezone``, else the event the page is about's (UTC on pages of no
    event), with the UTC time on hover."""
    if not moment:
        return "—"
    if timezone is None and has_app_context():
        event = g.get("event")
        timezone = event.timezone if event is not None else None
    day, _, clock = shown(moment, timezone).partition(" ")
    stamp = escape(iso(moment))
    # The day and the clock each stay whole; a narrow cell may put them on two lines.
    return Markup(f'<time datetime="{stamp}" title="{escape(utc(moment))}"><span>{escape(day)}'  # noqa: S704  # nosec B704
                  f'</span> <span>{escape(clock)}</span></time>')


@lru_cache(maxsize=128)
def badge(status, label=None):
    """A status badge: its word is its meaning, the colour only repeats it.

    Statuses are a handful of words and a page shows a hundred badges: each is built once.
    """
    status = str(status)
    kind, word = escape(status.replace("_", "-")), escape(label or status.replace("_", " "))
    return Markup(f'<span class="badge badge-{kind}">{word}</span>')  # noqa: S704  # nosec B704
