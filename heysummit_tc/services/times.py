"""Times in an event's timezone: read from the event form, shown on its pages.

Times are stored in UTC. An event names an IANA timezone (``Europe/London``); pages show
its times there, with UTC on hover, and exports stay in UTC.
"""

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from . import ServiceError

# What the form's start field holds: an HTML datetime-local value.
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


@cache
def zone_of(name):
    """Return the zone of an IANA name; UTC for a name this host does not know."""
    try:
        return ZoneInfo(name) if name and name != "UTC" else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@cache
def timezone_names():
    """Every IANA name an event may choose, sorted."""
    return sorted(available_timezones() | {"UTC"})


def normalize_timezone(name):
    """Return the IANA name typed into the event form, or raise ServiceError."""
    name = (name or "").strip() or "UTC"
    if name == "UTC" or name in timezone_names():
        return name
    matches = [known for known in timezone_names() if known.lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    raise ServiceError(f"“{name}” is not a timezone this app knows. Use an IANA name such as "
                       "Europe/London, America/New_York or Asia/Tokyo.", field="timezone")


def read_local(text, timezone):
    """Return the UTC time of ``2027-03-01T09:00`` in ``timezone`` (None when empty), or raise
    ServiceError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        local = datetime.strptime(text, LOCAL_FORMAT)
    except ValueError:
        raise ServiceError("Enter the start as a date and a time, e.g. 2027-03-01 09:00.",
                           field="starts") from None
    return local.replace(tzinfo=zone_of(timezone)).astimezone(UTC)


def local_text(moment, timezone):
    """Return a UTC time as the event form's start field holds it, in ``timezone``."""
    return moment.astimezone(zone_of(timezone)).strftime(LOCAL_FORMAT) if moment else ""


def shown(moment, timezone=None):
    """Return a time as pages show it: ``2027-03-01 09:00 GMT`` in the timezone (UTC when
    none)."""
    local = moment.astimezone(zone_of(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
