"""The delivery log, replay, held deliveries, test purchases and retention."""

import html
import re
from datetime import timedelta

import time_machine
from sqlalchemy import func, select, update

from heysummit_tc.models import (
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    HeldDelivery,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
    utcnow,
)
from heysummit_tc.services.deliveries import LogFilter, log_of
from heysummit_tc.services.integrations import integration_of
from heysummit_tc.thrivecart.order import read_order

from helpers import (
    delivery_links,
    fixture_bytes,
    form_body,
    load_fixture,
    log_url,
    post_webhook,
    purchases_refused,
    record_only,
    text_of,
)
from orders import success


def order(number, email=None, event="order.success"):
    payload = load_fixture("order-success.json")
    payload["order_id"] = payload["order"]["id"] = str(number)
    payload["event"] = event
    if email:
        payload["customer"]["email"] = email
    return form_body(payload)


def test_log_lists_only_the_events_deliveries_each_with_its_own_outcomes(
    client, organiser, make_user, make_event, make_ticket, connect, login
):
    other = make_event("Other", organiser=make_user("bob@example.com"))
    make_ticket(other, "Other ticket", "product-99")
    connect(other, "OTHERSECRET1")
    shared_with = make_event("Shared", organiser=make_user("cy@example.com"))
    connect(shared_with)  # same secret as organiser's event, no tickets
    mine = post_webhook(client, order(1)).json["delivery_id"]
    payload = load_fixture("order-success.json") | {"thrivecart_secret": "OTHERSECRET1"}
    theirs = post_webhook(client, form_body(payload)).json["delivery_id"]

    page = text_of(client.get(log_url(organiser)))
    assert delivery_links(page) == [mine]
    assert theirs not in delivery_links(page)
    detail = text_of(client.get(f"/events/{organiser}/setup/integrations/thrivecart/"
                                f"deliveries/{mine}/"))
    assert "paid" in detail and ">All-Access</a>" in detail and "unlinked" not in detail
    assert client.get(f"/events/{organiser}/setup/integrations/thrivecart/deliveries/"
                      f"{theirs}/").status_code == 404

    login("cy@example.com")
    shared_page = text_of(client.get(f"/events/{shared_with}/setup/integrations/thrivecart/"
                                     f"deliveries/{mine}/"))
    # The other event's item is not this event's to link.
    assert "1 for another event: product-12" in shared_page and "unlinked" not in shared_page
    assert not re.search(r"/revenue/tickets/\d+/", shared_page)


def test_log_filters_by_outcome_order_and_email_and_pages_newest_first(client, organiser):
    ids = [post_webhook(client, order(1000 + n, f"buyer{n}@example.com")).json["delivery_id"]
           for n in range(27)]
    ignored = post_webhook(client, order(2000, event="cart.abandoned")).json["delivery_id"]
    # Events the app does not act on are hidden unless asked for.
    first = text_of(client.get(log_url(organiser)))
    assert delivery_links(first) == ids[::-1][:25]
    older = re.search(r'href="([^"]*before=d\d+[^"]*)"', first).group(1)
    second = text_of(client.get(html.unescape(older)))
    assert delivery_links(second) == ids[::-1][25:]
    assert delivery_links(text_of(client.get(log_url(organiser, outcome="ignored")))) == [ignored]
    assert delivery_links(text_of(client.get(log_url(organiser, ignored=1))))[:2] == [
        ignored, ids[-1]]
    assert delivery_links(text_of(client.get(log_url(organiser, q="1005")))) == [ids[5]]
    assert delivery_links(text_of(client.get(log_url(organiser, q="BUYER7@example.com")))) == [
        ids[7]]
    assert "No delivery matches" in text_of(client.get(log_url(organiser, q="nobody")))


def test_a_delivery_recorded_by_a_worker_that_died_waits_unattended_and_replays_once(
    app, client, organiser, session
):

    # The record is committed before processing starts; the worker dies right after.
    delivery_id = record_only(app, read_order(load_fixture("order-success.json")), [organiser])
    [row] = session.scalars(select(DeliveryEvent)).all()
    assert (row.delivery_id, row.event_id, row.attempt, row.attention) == (
        delivery_id, organiser, 0, False)
    assert delivery_links(text_of(client.get(log_url(organiser)))) == [delivery_id]
    assert delivery_links(text_of(client.get(log_url(organiser, attention="1")))) == []
    url = f"/events/{organiser}/setup/integrations/thrivecart/deliveries/{delivery_id}/"
    assert "Replayed: processed, 1 purchase changed." in text_of(
        client.post(url + "replay", follow_redirects=True))
    assert session.scalar(select(func.count()).select_from(TicketPurchase)) == 1


def test_replay_after_adding_the_external_id_provisions_and_again_changes_nothing(
    client, organiser, make_ticket, session
):
    body = fixture_bytes("order-success-multi.form")
    # The multi fixture's secret is the same; its items are not linked yet.
    delivery_id = post_webhook(client, body).json["delivery_id"]
    assert session.scalar(select(func.count()).select_from(Attendee)) == 0
    ticket_id = make_ticket(organiser, "Main", "product-2", [("97.00", "GBP")])
    url = f"/events/{organiser}/setup/integrations/thrivecart/deliveries/{delivery_id}/"
    response = client.post(url + "replay", follow_redirects=True)
    assert "Replayed: processed, 1 purchase changed." in text_of(response)
    session.expire_all()
    purchase = session.scalars(select(TicketPurchase)).one()
    assert purchase.ticket_id == ticket_id
    again = client.post(url + "replay", follow_redirects=True)
    assert "Replayed: processed, 0 purchases changed." in text_of(again)
    assert session.scalar(select(func.count()).select_from(TicketPurchase)) == 1
    attempts = session.scalars(select(DeliveryOutcome.attempt).where(
        DeliveryOutcome.delivery_id == delivery_id, DeliveryOutcome.item_key == "product-2")
    ).all()
    assert attempts == [1, 2, 3]
    page = text_of(client.get(url))
    assert "Attempt 3" in page and "Attempt 1" in page and "already paid" in page


def test_a_replay_that_fails_says_why_and_who_tried(
    client, organiser, make_ticket, session, backend
):
    delivery_id = post_webhook(client, fixture_bytes("order-success-multi.form")).json[
        "delivery_id"]
    make_ticket(organiser, "Main", "product-2", [("97.00", "GBP")])
    url = f"/events/{organiser}/setup/integrations/thrivecart/deliveries/{delivery_id}/"
    with purchases_refused(session, backend):
        client.post(url + "replay")
    delivery = session.get(WebhookDelivery, delivery_id)
    assert (delivery.status, delivery.http_status, delivery.error) == (
        "failed", 503, "database error: injected failure")
    assert delivery.processed_by.email == "ada@example.com"
    assert [(o.outcome, o.detail) for o in delivery.outcomes if o.attempt == 2] == [
        ("failed", "database error: injected failure")]


def test_cli_replays_one_delivery_or_only_the_failed_ones(client, organiser, runner, session):
    ok = post_webhook(client, order(1)).json["delivery_id"]
    failed = post_webhook(client, order(2, email="not-an-email")).json["delivery_id"]
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == failed)
                    .values(payload=load_fixture("order-success.json") | {"order_id": "2"}))
    session.commit()
    result = runner.invoke(args=["thrivecart", "replay", "--failed"])
    assert result.exit_code == 0, result.output
    assert f"Delivery {failed}: processed (200)" in result.output
    assert f"Delivery {ok}:" not in result.output
    result = runner.invoke(args=["thrivecart", "replay", str(ok)])
    assert f"Delivery {ok}: processed (200) product-12: already_paid" in result.output
    assert runner.invoke(args=["thrivecart", "replay", "--failed"]).output.strip() == \
        "No failed deliveries to replay."
    assert runner.invoke(args=["thrivecart", "replay", "999"]).exit_code != 0
    session.expire_all()
    assert session.get(WebhookDelivery, ok).attempts == 2


def test_send_test_purchase_creates_a_test_marked_purchase(client, organiser, session):
    ticket = session.scalars(select(Ticket)).one()
    url = f"/events/{organiser}/setup/integrations/thrivecart/test-purchase"
    form = text_of(client.get(url))
    assert "All-Access (product-12)" in form
    response = client.post(url, data={"ticket_id": ticket.id, "email": "Me@Example.com",
                                      "first_name": "Test", "last_name": "Buyer"},
                           follow_redirects=True)
    assert "Test purchase sent: paid." in text_of(response)
    session.expire_all()
    purchase = session.scalars(select(TicketPurchase)).one()
    assert (purchase.test, purchase.source, purchase.amount, purchase.currency) == (
        True, "test_purchase", 499700, "USD")
    assert purchase.attendee.email == "me@example.com"
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.source, delivery.test, delivery.mode) == ("test_purchase", True, "test")
    assert "test" in text_of(client.get(log_url(organiser)))
    bad = client.post(url, data={"ticket_id": ticket.id, "email": "nope"})
    assert bad.status_code == 400


def test_prune_removes_the_buyer_from_old_payloads_in_place_and_keeps_outcomes(
    client, organiser, runner, session
):
    old = post_webhook(client, order(1)).json["delivery_id"]
    new = post_webhook(client, order(2)).json["delivery_id"]
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == old)
                    .values(received_at=utcnow() - timedelta(days=40)))
    session.commit()  # before the app writes again (SQLite has one writer at a time)
    held_payload = load_fixture("order-success.json") | {"thrivecart_secret": "NOPE-NOPE"}
    post_webhook(client, form_body(held_payload))
    post_webhook(client, form_body(held_payload))
    session.execute(update(HeldDelivery).where(HeldDelivery.id == session.scalar(
        select(func.min(HeldDelivery.id)))).values(received_at=utcnow() - timedelta(days=15)))
    session.commit()
    result = runner.invoke(args=["deliveries", "prune", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "payloads of 1 deliveries" in result.output and "dropped 1 held" in result.output
    session.expire_all()
    pruned, kept = session.get(WebhookDelivery, old), session.get(WebhookDelivery, new)
    assert pruned.payload_pruned_at is not None and not pruned.replayable
    # Redacted in place: the order and its money stay, the buyer goes.
    assert pruned.payload["order_id"] == "1" and pruned.payload["purchase_map"] == [
        "product-12"]
    assert "customer" not in pruned.payload and "ada.lovelace" not in str(pruned.payload)
    assert [o.outcome for o in pruned.outcomes] == ["paid"]
    assert kept.replayable and "ada.lovelace" in str(kept.payload)
    assert session.scalar(select(func.count()).select_from(HeldDelivery)) == 1
    page = text_of(client.get(f"/events/{organiser}/setup/integrations/thrivecart/"
                              f"deliveries/{old}/"))
    assert "Payload removed" in page and "paid" in page
    shown = page.split('aria-label="Request payload">', 1)[1].split("</pre>", 1)[0]
    assert '"order_id": "1"' in shown and "ada.lovelace" not in shown
    replay = client.post(f"/events/{organiser}/setup/integrations/thrivecart/deliveries/"
                         f"{old}/replay", follow_redirects=True)
    assert "cannot be replayed" in text_of(replay)
    # Idempotent: a second run (another host's cron) finds nothing left to do.
    again = runner.invoke(args=["deliveries", "prune", "--older-than", "30"])
    assert "payloads of 0 deliveries" in again.output


def test_the_log_pages_through_deliveries_and_rejected_posts_each_once_in_time_order(
    client, organiser, session
):
    start = utcnow().replace(microsecond=0)
    expected = []
    for minute in range(7):
        payload = load_fixture("order-success.json")
        payload["order_id"] = payload["order"]["id"] = f"P{minute}"
        payload["customer"]["email"] = f"buyer{minute}@example.com"
        if minute not in (2, 3):  # the fixture is a test-mode order
            payload["mode"], payload["mode_int"] = "live", "0"
        rejected = minute % 2 == 1  # the account was seen first: each wrong post is listed
        if rejected:
            payload["thrivecart_secret"] = "REGENERATED1"
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            assert post_webhook(client, form_body(payload)).status_code == (
                403 if rejected else 200)
        expected.append(("rejected" if rejected else "delivery", f"P{minute}"))
    expected.reverse()  # newest first
    integration = integration_of(session, organiser)

    def rows(**filters):
        return [(row.kind, row.order_id) for row in log_of(
            session, organiser, integration, LogFilter(**filters), per_page=50).items]

    assert rows() == expected
    for per_page in (1, 2, 3):
        seen, before = [], None
        while True:
            page = log_of(session, organiser, integration, LogFilter(before=before),
                          per_page=per_page)
            seen += [(row.kind, row.order_id) for row in page.items]
            if page.next_before is None:
                break
            before = page.next_before
        assert seen == expected, per_page
    assert rows(query="P3") == [("rejected", "P3")]
    assert rows(query="BUYER5@example.com") == [("rejected", "P5")]
    assert rows(query="P4") == [("delivery", "P4")]
    assert rows(outcome="rejected") == [row for row in expected if row[0] == "rejected"]
    assert rows(mode="test") == [("rejected", "P3"), ("delivery", "P2")]
    assert rows(mode="live") == [row for row in expected if row[1] not in ("P2", "P3")]


def test_the_delivery_log_pages_at_exactly_25(client, organiser):
    url = f"/events/{organiser}/deliveries/"
    for number in range(25):
        post_webhook(client, success(order_id=f"D{number}", email=f"d{number}@example.com"))
    assert ">Older<" not in client.get(url).get_data(as_text=True)
    post_webhook(client, success(order_id="D25", email="d25@example.com"))
    assert ">Older<" in client.get(url).get_data(as_text=True)


def test_the_dashboard_names_the_last_order_not_the_last_ignored_event(client, organiser):
    post_webhook(client, order(3000, "buyer@example.com"))
    post_webhook(client, order(3001, event="affiliate.commission_earned"))
    page = text_of(client.get(f"/events/{organiser}/"))
    last = page.split("Last order received", 1)[1].split("</p>", 1)[0]
    assert "order.success" in last and "3000" in last
    assert "affiliate" not in last
