"""Needs attention holds what still needs a person, and only that: it clears when a later
event settles it, or when an organiser marks it resolved with a note."""

import html
from datetime import timedelta

from sqlalchemy import select
from test_visibility import order

from heysummit_tc.models import ActivityEntry
from heysummit_tc.services.deliveries import attention_counts

from helpers import post_webhook
from orders import LATER, payment, rebill_failed, refund, success


def open_items(session, event_id):
    session.expire_all()
    return attention_counts(session, event_id)


def page_text(response, status=200):
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def summit(make_user, make_event, make_ticket, connect):
    event_id = make_event("Growth Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    connect(event_id)
    return event_id


def test_a_failed_payment_later_paid_needs_nobody(
    client, make_user, make_event, make_ticket, connect, session
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    post_webhook(client, success())
    post_webhook(client, rebill_failed())
    assert open_items(session, event_id) == {"payment_failed": 1}
    post_webhook(client, payment(2, when=LATER + timedelta(days=1)))
    assert open_items(session, event_id) == {}


def test_a_refund_that_waited_for_its_order_needs_nobody_once_applied(
    client, make_user, make_event, make_ticket, connect, session
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    post_webhook(client, refund())
    assert open_items(session, event_id) == {"waiting": 1}
    assert post_webhook(client, success()).json["outcomes"][0]["outcome"] == "refunded"
    assert open_items(session, event_id) == {}
    # A replay of the success finds the purchase: nothing else changes.
    assert post_webhook(client, success()).json["outcomes"][0]["outcome"] == "already_refunded"
    assert open_items(session, event_id) == {}


def test_a_partial_refund_is_in_the_log_not_in_needs_attention(
    client, make_user, make_event, make_ticket, connect, session
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    post_webhook(client, success())
    answer = post_webhook(client, refund(amount="100000")).json
    assert answer["outcomes"][0]["outcome"] == "partial_refund"
    assert open_items(session, event_id) == {}


def test_an_ignored_item_needs_nobody_and_listed_again_it_does(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    post_webhook(client, order("I1", ("product-12", "upsell-9")))
    assert open_items(session, event_id) == {"unlinked": 1}
    login("ada@example.com")
    inbox = f"/events/{event_id}/revenue/tickets/unlinked"
    client.post(inbox + "/ignore", data={"external_id": "upsell-9"})
    assert open_items(session, event_id) == {}
    # Later orders of it are ignored outright: in the log, never in Needs attention.
    later = post_webhook(client, order("I2", ("upsell-9",), email="bo@example.com")).json
    assert [(o["outcome"], o["detail"]) for o in later["outcomes"]] == [
        ("ignored", "ignored under Unlinked items: not a ticket")]
    assert open_items(session, event_id) == {}
    client.post(inbox + "/restore", data={"external_id": "upsell-9"})
    assert open_items(session, event_id) == {"unlinked": 1}


def test_an_organiser_resolves_a_delivery_with_a_note_and_it_is_audited(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    waiting = post_webhook(client, refund(order_id="NEVER-COMES")).json["delivery_id"]
    login("ada@example.com")
    url = f"/events/{event_id}/setup/integrations/thrivecart/deliveries/{waiting}/"
    assert "Mark resolved" in page_text(client.get(url))
    empty = page_text(client.post(url + "resolve", data={"note": "  "}), 400)
    assert "Say in a few words how it was resolved" in empty
    assert open_items(session, event_id) == {"waiting": 1}
    done = page_text(client.post(url + "resolve", data={
        "note": "Refunded in ThriveCart before launch; the order was a test"},
        follow_redirects=True))
    assert "no longer needs attention" in done
    assert "by ada@example.com: Refunded in ThriveCart before launch" in done
    assert "Mark resolved" not in done
    assert open_items(session, event_id) == {}
    entry = session.scalars(select(ActivityEntry).order_by(ActivityEntry.id.desc())).first()
    assert (entry.kind, entry.detail) == (
        "attention_resolved",
        f"delivery {waiting}: Refunded in ThriveCart before launch; the order was a test")
    again = page_text(client.post(url + "resolve", data={"note": "twice"},
                                  follow_redirects=True), 400)
    assert "Nothing of this delivery needs attention any more." in again
