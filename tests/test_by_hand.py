"""Changes by hand: an attendee's name and email, a ticket granted (source manual) or
revoked, the event's test orders deleted before launch; each in the activity log, as are
price changes and alert settings."""

import csv
import html
import io

from sqlalchemy import func, select
from test_attendees import HEADER

from heysummit_tc.models import (
    ActivityEntry,
    Attendee,
    PurchaseStatus,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
)

from helpers import post_webhook
from orders import success


def page_text(response, status=200):
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def last_activity(session):
    session.expire_all()
    entry = session.scalars(select(ActivityEntry).order_by(ActivityEntry.id.desc())).first()
    return entry.kind, entry.detail


def summit(make_user, make_event, make_ticket, connect, login):
    event_id = make_event("Growth Summit", "USD", organiser=make_user("ada@example.com"))
    pass_id = make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    dinner = make_ticket(event_id, "VIP dinner", None, [("250.00", "USD")])
    old = make_ticket(event_id, "Early bird", None, [("47.00", "USD")], active=False)
    connect(event_id)
    login("ada@example.com")
    return event_id, pass_id, dinner, old


def live(body):
    return body.replace(b"mode=test", b"mode=live").replace(b"mode_int=1", b"mode_int=2")


def test_an_attendees_name_and_email_are_edited_by_hand(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id, *_ = summit(make_user, make_event, make_ticket, connect, login)
    post_webhook(client, success(order_id="A1", email="ada.l@example.com"))
    post_webhook(client, success(order_id="B1", email="bob@example.com"))
    person = session.scalar(select(Attendee).where(Attendee.email == "ada.l@example.com"))
    url = f"/events/{event_id}/attendees/{person.id}/"
    bad = page_text(client.post(url + "edit", data={"first_name": "Ada", "last_name": "K",
                                                   "email": "not an email"}), 400)
    assert "Enter the buyer's email address, such as ada@example.com." in bad
    taken = page_text(client.post(url + "edit", data={"first_name": "Ada", "last_name": "K",
                                                     "email": "BOB@example.com"}), 400)
    assert "Another attendee of this event has bob@example.com" in taken
    done = page_text(client.post(url + "edit", data={
        "first_name": "Ada", "last_name": "King", "email": "Ada.King@Example.com"},
        follow_redirects=True))
    assert "Saved: name: Ada Lovelace → Ada King; email: ada.l@example.com → " \
           "ada.king@example.com." in done
    assert last_activity(session) == (
        "attendee_edited", "ada.king@example.com: name: Ada Lovelace → Ada King; "
        "email: ada.l@example.com → ada.king@example.com")


def test_a_ticket_is_granted_and_revoked_by_hand_and_exported_as_manual(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id, pass_id, dinner, old = summit(make_user, make_event, make_ticket, connect, login)
    post_webhook(client, success(order_id="A1", email="grace@example.com"))
    person = session.scalar(select(Attendee))
    url = f"/events/{event_id}/attendees/{person.id}/"
    inactive = page_text(client.post(url + "grant", data={"ticket_id": old}), 400)
    assert "“Early bird” is inactive: reactivate it under Revenue › Tickets to grant it." \
        in inactive
    assert "Choose the ticket to grant." in page_text(
        client.post(url + "grant", data={"ticket_id": 0}), 400)
    held = page_text(client.post(url + "grant", data={"ticket_id": pass_id}), 400)
    assert "grace@example.com already has access to “All-Access”." in held
    granted = page_text(client.post(url + "grant", data={"ticket_id": dinner},
                                    follow_redirects=True))
    assert "“VIP dinner” granted to grace@example.com by hand." in granted
    assert last_activity(session) == ("ticket_granted", "“VIP dinner” to grace@example.com")
    comp = session.scalar(select(TicketPurchase).where(TicketPurchase.ticket_id == dinner))
    assert (comp.source, comp.status, comp.amount, comp.thrivecart_order_id) == (
        "manual", PurchaseStatus.PAID, 25000, None)
    [change] = comp.changes
    assert (change.to_status, change.reason, change.user.email) == (
        PurchaseStatus.PAID, "granted by hand", "ada@example.com")

    lines = client.get(f"/events/{event_id}/attendees.csv").get_data(as_text=True)
    assert lines.splitlines()[0] == HEADER
    rows = {row["ticket"]: row for row in csv.DictReader(io.StringIO(lines))}
    assert (rows["VIP dinner"]["source"], rows["VIP dinner"]["access"],
            rows["VIP dinner"]["charged_amount"]) == ("manual", "yes", "")

    revoked = page_text(client.post(url + f"purchases/{comp.id}/revoke",
                                    follow_redirects=True))
    assert "“VIP dinner” revoked: no access from now on." in revoked
    session.refresh(comp)
    assert comp.status == PurchaseStatus.ENDED
    assert comp.changes[-1].reason == "revoked by hand"
    assert last_activity(session) == ("ticket_revoked", "“VIP dinner” of grace@example.com")
    again = page_text(client.post(url + f"purchases/{comp.id}/revoke", follow_redirects=True))
    assert "This purchase gives no access already." in again


def test_test_orders_are_deleted_before_launch_after_a_confirmation_that_counts_them(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id, *_ = summit(make_user, make_event, make_ticket, connect, login)
    post_webhook(client, success(order_id="T1", email="tess@example.com"))  # test mode
    post_webhook(client, success(order_id="T2", email="both@example.com"))
    post_webhook(client, live(success(order_id="L1", email="both@example.com")))
    post_webhook(client, live(success(order_id="L2", email="lou@example.com")))
    url = f"/events/{event_id}/attendees/test-orders"
    confirm = page_text(client.get(url))
    assert "2 test purchases" in confirm and "2 test deliveries" in confirm
    assert "1 attendee who holds nothing else" in confirm
    done = page_text(client.post(url, follow_redirects=True))
    assert "Deleted 2 test purchases, 2 deliveries and 1 attendee who held nothing else." \
        in done
    session.expire_all()
    assert sorted(session.scalars(select(Attendee.email))) == [
        "both@example.com", "lou@example.com"]
    assert session.scalar(select(func.count()).select_from(TicketPurchase)) == 2
    assert session.scalars(select(WebhookDelivery.test)).all() == [False, False]
    assert last_activity(session) == ("test_orders_deleted",
                                      "2 purchases, 2 deliveries, 1 attendees")
    dashboard = page_text(client.get(f"/events/{event_id}/"))
    assert "<dt>Paid purchases</dt><dd>2</dd>" in dashboard
    assert "No test order here" in page_text(client.get(url))


def test_price_changes_and_alert_settings_are_in_the_activity_log(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id, pass_id, *_ = summit(make_user, make_event, make_ticket, connect, login)
    ticket_url = f"/events/{event_id}/revenue/tickets/{pass_id}/"
    client.post(ticket_url + "prices", data={"price-amount": "1,497.00",
                                             "price-currency": "usd"})
    assert last_activity(session) == ("price_added", "“All-Access”: 1,497.00\u00a0USD")
    price_id = max(price.id for price in session.get(Ticket, pass_id).prices)
    client.post(ticket_url + f"prices/{price_id}/delete")
    assert last_activity(session) == ("price_removed", "“All-Access”: 1,497.00\u00a0USD")
    client.post("/account/", data={"alert_event_ids": [event_id]})
    assert last_activity(session) == ("alerts_changed", "ada@example.com gets email alerts")
