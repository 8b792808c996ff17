"""The access email's words: per event, a switch, a subject and a body with placeholders."""

import re
from dataclasses import dataclass

from ..models import AccessEmailSettings, ActivityKind
from . import ServiceError
from .activity import record

PLACEHOLDERS = {
    "first_name": "the buyer's first name (or “there” when ThriveCart sent none)",
    "event": "the event's name",
    "tickets": "the tickets this email is about",
    "ticket_word": "“ticket” or “tickets”, as many as the email is about",
    "access_link": "the buyer's link to their tickets (single use, 7 days)",
}


DEFAULT_SUBJECT = "Your {ticket_word} for {event}"


DEFAULT_BODY = """Hi {first_name},

thank you for your purchase. You now hold: {tickets}.

Open your tickets and how to get in here (the link works once and for 7 days):
{access_link}

See you at {event}."""


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Settings:
    """An event's access email: switched on or off, its subject and body, and whether the
    organiser saved it (unsaved, the defaults apply)."""

    enabled: bool
    subject: str
    body: str
    saved: bool = False


def settings_of(session, event_id, mail_configured):
    """Return the event's access email; unsaved, it is on exactly when mail is configured."""
    row = session.get(AccessEmailSettings, event_id)
    if row is None:
        return Settings(mail_configured, DEFAULT_SUBJECT, DEFAULT_BODY, False)
    return Settings(row.enabled, row.subject, row.body, True)


def check_template(text, field):
    """Refuse placeholders the email does not know (``{name}`` only, no expressions)."""
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        raise ServiceError(
            f"Unknown placeholder{'' if len(unknown) == 1 else 's'} "
            f"{', '.join('{' + name + '}' for name in unknown)}. Use "
            f"{', '.join('{' + name + '}' for name in PLACEHOLDERS)}.", field=field)


def save_settings(session, event, settings, user=None, now=None):
    """Save the event's access email (a :class:`Settings`' switch, subject and body) and
    record who did."""
    enabled = settings.enabled
    subject, body = (settings.subject or "").strip(), (settings.body or "").strip()
    if not subject:
        raise ServiceError("Give the email a subject.", field="subject")
    if len(subject) > 200 or len(body) > 10000:
        raise ServiceError("Keep the subject within 200 characters and the body within "
                           "10,000.", field="subject" if len(subject) > 200 else "body")
    if "{access_link}" not in body:
        raise ServiceError("Keep {access_link} in the body: it is how buyers get in.",
                           field="body")
    check_template(subject, "subject")
    check_template(body, "body")
    row = session.get(AccessEmailSettings, event.id)
    if row is None:
        row = AccessEmailSettings(event_id=event.id)
        session.add(row)
    changed_switch = row.enabled != enabled
    row.enabled, row.subject, row.body = enabled, subject, body
    record(session, event.id, user, ActivityKind.ACCESS_EMAIL_SAVED,
           ("switched " + ("on" if enabled else "off") + "; " if changed_switch else "")
           + "subject and body saved", now=now)
    return row


# A link asked for (an organiser's resend, the buyer's fresh link): not a purchase to thank
# anyone for, and only the tickets that give access now.
LINK_SUBJECT = "Your link to {event}"
LINK_BODY = """Hi {first_name},

here is a new link to your {ticket_word} for {event}: {tickets}.

It opens them and how to get in (for 7 days, in the browser you first open it in):
{access_link}"""
NO_ACCESS_BODY = """Hi {first_name},

here is a new link to your tickets for {event}. None of them gives access right now: the
page says why.

{access_link}"""


def render(template, values):
    """Fill ``{placeholder}``s with values; anything else stays as written."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)
