"""The event's timezone and details: set on the event form, every time of its pages shown in
the timezone (UTC on hover), exports in UTC."""

import html
import re

import time_machine
from sqlalchemy import select

from heysummit_tc.models import ActivityEntry, Event

from helpers import post_webhook
from orders import LATER, success


def page_text(response, status=200):
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def shown_time(page, stamp):
    """(the UTC on hover, the time shown) of the page's <time> of ``stamp``."""
    found = re.search(rf'<time datetime="{stamp}" title="([^"]+)">(.*?)</time>', page)
    return found.group(1), re.sub(r"<[^>]+>", "", found.group(2))


def details(name="Growth Summit", timezone="America/New_York", starts="2027-03-01T09:00",
            joining="Zoom: https://zoom.example/j/1\nPasscode 4411"):
    return {"name": name, "currency": "USD", "timezone": timezone, "starts": starts,
            "joining_instructions": joining}


def test_the_event_form_sets_timezone_start_and_joining_instructions(
    client, login, make_user, make_event, session
):
    event_id = make_event("Growth Summit", organiser=make_user("ada@example.com"))
    login("ada@example.com")
    url = f"/events/{event_id}/edit"
    form = page_text(client.get(url))
    assert 'list="timezones"' in form and '<option value="Europe/London">' in form
    assert client.post(url, data=details(timezone="america/new_york")).status_code == 302
    event = session.get(Event, event_id)
    session.refresh(event)
    assert event.timezone == "America/New_York"
    assert event.starts_at.isoformat() == "2027-03-01T14:00:00+00:00"  # 09:00 EST
    assert event.joining_instructions == "Zoom: https://zoom.example/j/1\nPasscode 4411"
    again = page_text(client.get(url))
    assert 'value="2027-03-01T09:00"' in again and 'value="America/New_York"' in again
    entry = session.scalars(select(ActivityEntry.detail).order_by(ActivityEntry.id.desc())).first()
    assert entry == ("timezone: UTC → America/New_York; start: none → 2027-03-01 09:00 EST; "
                     "joining instructions changed")


def test_an_unknown_timezone_or_start_says_what_to_type_and_changes_nothing(
    client, login, make_user, make_event, session
):
    event_id = make_event("Growth Summit", organiser=make_user("ada@example.com"))
    login("ada@example.com")
    url = f"/events/{event_id}/edit"
    wrong = page_text(client.post(url, data=details(timezone="Mars/Olympus")), 400)
    assert ("“Mars/Olympus” is not a timezone this app knows. Use an IANA name such as "
            "Europe/London") in wrong
    assert 'id="timezone-error"' in wrong
    late = page_text(client.post(url, data=details(starts="next tuesday")), 400)
    assert "Enter the start as a date and a time, e.g. 2027-03-01 09:00." in late
    event = session.get(Event, event_id)
    session.refresh(event)
    assert (event.timezone, event.starts_at, event.joining_instructions) == ("UTC", None, "")


def test_times_are_shown_in_the_events_timezone_with_utc_on_hover_and_exported_in_utc(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = make_event("Growth Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    connect(event_id)
    with time_machine.travel(LATER, tick=False):  # 2027-01-10 12:00 UTC
        login("ada@example.com")  # signed then, so that the session cookie is fresh then
        client.post(f"/events/{event_id}/edit", data=details(timezone="Asia/Tokyo"))
        post_webhook(client, success(order_id="T1", email="tz@example.com"))
        page = page_text(client.get(f"/events/{event_id}/deliveries/"))
        attendees = page_text(client.get(f"/events/{event_id}/attendees/"))
        csv = client.get(f"/events/{event_id}/attendees.csv").get_data(as_text=True)
    assert shown_time(page, "2027-01-10T12:00:00Z") == ("2027-01-10 12:00 UTC",
                                                        "2027-01-10 21:00 JST")
    # The order's own time (order[date_unix]): in Tokyo, the next morning.
    assert shown_time(attendees, "2023-11-08T23:48:20Z") == ("2023-11-08 23:48 UTC",
                                                             "2023-11-09 08:48 JST")
    assert "tz@example.com" in csv and ",2023-11-08T23:48:20Z," in csv
