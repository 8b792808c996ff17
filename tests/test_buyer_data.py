"""Buyer data (SPEC 9): erasure, retention, email changes and attribution."""

import csv
import io
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, inspect, select, text, update

from heysummit_tc.extensions import db
from heysummit_tc.jobs import send_emails
from heysummit_tc.models import (
    ActivityEntry,
    Attendee,
    DeliveryEvent,
    TicketPurchase,
    User,
    WebhookDelivery,
    utcnow,
)
from heysummit_tc.services.alerts import set_alert_events

from helpers import (
    FIXTURE_SECRET,
    PASSWORD,
    form_body,
    json_body,
    load_fixture,
    mail_config,
    post_webhook,
    text_of,
)
from orders import LATER

ROOT = Path(__file__).parent.parent
MARKER = "zqmarker7"
BUYER = f"{MARKER}@example.com"


def order(order_id, email=BUYER, keys=("product-12",), secret=FIXTURE_SECRET, **extra):
    """An order.success whose buyer carries ``MARKER`` in every personal field."""
    payload = load_fixture("order-success.json")
    payload.update(thrivecart_secret=secret, order_id=order_id, invoice_id=f"I-{order_id}",
                   purchase_map=list(keys), purchase_map_flat=",".join(keys), **extra)
    payload["order"].update(id=order_id, charges=[
        {"name": key, "reference": key.split("-")[1], "item_type": key.split("-")[0],
         "amount": "4997", "type": "single", "quantity": "1"} for key in keys])
    # Another buyer's fields say "other" where the marked buyer's say the marker.
    mark = MARKER if email.startswith(MARKER) else "other"
    payload["customer"] = {
        "id": "429583657727489355" if mark == MARKER else "1000" + order_id,
        "email": email,
        "first_name": f"Ada-{mark}",
        "last_name": f"Love{mark}",
        "name": f"Ada-{mark} Love{mark}",
        "contactno": f"+44 {mark}",
        "address": {"line1": f"1 {mark} Street", "city": "London", "country": "GB"},
        "custom_fields": {"company": f"{mark} Engines Ltd"},
    }
    payload["customer_id"] = payload["customer"]["id"]
    return form_body(payload)


def refund(order_id, key=("product", "12"), amount="4997"):
    payload = load_fixture("order-refund.json")
    payload.update(order_id=order_id, currency="USD", event_id=f"R-{order_id}-{amount}")
    payload["order"]["id"] = order_id
    payload["refund"].update(type=key[0], id=key[1], amount=amount, currency="USD")
    payload["customer"].update(email=BUYER, name=f"Ada-{MARKER}",
                               address={"line1": f"1 {MARKER} Street"})
    return json_body(payload)


@pytest.fixture
def summit(make_user, make_event, make_ticket, connect):
    event_id = make_event("Growth Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("49.97", "USD")])
    make_ticket(event_id, "Workbook", "bump-12", [("19.00", "USD")])
    connect(event_id)
    return event_id


def rows_with(session, needle):
    """Every row of every table of the database that holds ``needle`` anywhere."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        tables = connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
    else:
        tables = inspect(connection).get_table_names()
    found = []
    for table in tables:
        for row in connection.execute(text(f'SELECT * FROM "{table}"')):
            # Blobs too (SQLite's full-text index keeps its terms in them).
            cells = [bytes(cell).decode("utf-8", "replace")
                     if isinstance(cell, bytes | memoryview) else str(cell) for cell in row]
            if any(needle in cell.lower() for cell in cells):
                found.append((table, row))
    return found


class _AllRecords(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    """Every log line the app writes during the test, at every level."""
    handler = _AllRecords()
    logger = logging.getLogger("heysummit_tc")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def export(client, event_id):
    return list(csv.DictReader(io.StringIO(
        client.get(f"/events/{event_id}/attendees.csv").get_data(as_text=True))))


def test_erasing_a_buyer_leaves_no_copy_anywhere_and_keeps_the_money(
    make_app, smtp_server, summit, session, tmp_path, log_lines
):
    app = make_app(**mail_config(smtp_server), JOBS_URL=f"sqlite:///{tmp_path / 'jobs.db'}")
    client = app.test_client()
    organiser = session.scalar(select(User).where(User.email == "ada@example.com"))
    with app.app_context():
        set_alert_events(db.session, db.session.get(User, organiser.id), [summit])
        db.session.commit()
    assert post_webhook(client, order("E-1", keys=("product-12", "bump-12", "upsell-9"))
                        ).status_code == 200
    assert post_webhook(client, refund("E-1", key=("bump", "12"), amount="1000")
                        ).json["outcomes"][0]["outcome"] == "partial_refund"
    assert post_webhook(client, order("E-2", email="grace@example.com")).status_code == 200
    # A post with a Secret Word not saved: held, with the buyer in it.
    assert post_webhook(client, order("E-3", secret="REGENERATED1")).status_code == 403
    with app.app_context():
        send_emails()
    assert sorted(message["To"] for message in smtp_server.messages) == [
        "grace@example.com", BUYER]
    assert client.post("/login", data={"email": "ada@example.com", "password": PASSWORD}
                       ).status_code == 302
    buyer_id = session.scalar(select(Attendee.id).where(Attendee.email == BUYER))
    page = f"/events/{summit}/attendees/{buyer_id}/"
    # The organiser resends the access email: the activity log names the buyer.
    assert client.post(page + "resend").status_code == 302
    with app.app_context():
        send_emails()
    assert len(smtp_server.messages) == 3
    # The organiser's alert digest (the unlinked upsell-9) goes out.
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["alerts", "send"]).exit_code == 0
    [digest] = smtp_server.messages[3:]
    assert digest["To"] == "ada@example.com" and "unlinked" in digest["Subject"]
    before = export(client, summit)
    assert rows_with(session, MARKER), "the marker must be planted before the erasure"

    confirm = text_of(client.get(page + "erase"))
    assert "Erase Ada-" in confirm and "2 deliveries" in confirm and "This cannot be undone" \
        in confirm
    response = client.post(page + "erase", follow_redirects=True)
    assert response.status_code == 200 and "Personal data erased" in text_of(response)

    session.expire_all()
    assert rows_with(session, MARKER) == []
    assert not [line for line in log_lines if MARKER in line.lower()]
    # The digest the organiser received named no buyer; the access emails went to the buyer.
    assert MARKER not in digest.as_string().lower()
    # Money, counts and the other buyer are unchanged; the erased rows say so.
    after = export(client, summit)
    assert len(after) == len(before) == 3
    for old, new in zip(before, after, strict=True):
        money = ("ticket", "status", "charged_amount", "charged_currency", "refunded_amount",
                 "ticket_price", "thrivecart_order_id", "paid_at")
        assert {key: new[key] for key in money} == {key: old[key] for key in money}
        if old["email"] == BUYER:
            assert (new["email"], new["first_name"], new["country"]) == ("erased", "", "")
        else:
            assert new == old
    erased = session.get(Attendee, buyer_id)
    assert erased.erased_at is not None and erased.email.endswith("@erased.invalid")
    [entry] = session.scalars(select(ActivityEntry).where(ActivityEntry.kind == "buyer_erased"))
    assert entry.detail.startswith(f"attendee #{buyer_id}: 2 deliveries, 1 held posts")
    shown = text_of(client.get(page))
    assert "Erased buyer" in shown and MARKER not in shown.lower()
    # A later order from the same address is a new attendee.
    assert post_webhook(client, order("E-4")).json["outcomes"][0]["outcome"] == "paid"
    assert session.scalar(select(Attendee.id).where(Attendee.email == BUYER)) != buyer_id


def test_erasing_an_unknown_email_says_so_and_changes_nothing(runner, summit, client, session):
    post_webhook(client, order("U-1"))
    result = runner.invoke(args=["buyers", "erase", "nobody@example.com"])
    assert result.exit_code == 1
    assert "No attendee of any event has that email; nothing was erased." in result.output
    result = runner.invoke(args=["buyers", "erase", BUYER, "--event", str(summit + 1)])
    assert result.exit_code == 1 and f"event {summit + 1}" in result.output
    assert session.scalar(select(Attendee.email)) == BUYER

    result = runner.invoke(args=["buyers", "erase", BUYER.upper(), "--event", str(summit)])
    assert result.exit_code == 0, result.output
    assert f"Event {summit}: erased attendee #" in result.output and MARKER not in result.output
    session.expire_all()
    assert session.scalar(select(Attendee.erased_at)) is not None
    assert rows_with(session, MARKER) == []


# Retention -------------------------------------------------------------------------------

def test_retention_redacts_payloads_past_the_configured_days_with_a_frozen_clock(
    make_app, summit, session
):
    app = make_app(PAYLOAD_RETENTION_DAYS=30)
    client = app.test_client()
    with time_machine.travel(LATER, tick=False):
        old = post_webhook(client, order("R-1")).json["delivery_id"]
    with time_machine.travel(LATER + timedelta(days=20), tick=False):
        new = post_webhook(client, order("R-2", email="grace@example.com")).json["delivery_id"]
    runner = app.test_cli_runner()
    with time_machine.travel(LATER + timedelta(days=30, seconds=1), tick=False):
        result = runner.invoke(args=["deliveries", "prune"])
    assert result.exit_code == 0, result.output
    assert "payloads of 1 deliveries older than 30 days" in result.output
    session.expire_all()
    pruned, kept = session.get(WebhookDelivery, old), session.get(WebhookDelivery, new)
    assert pruned.payload_pruned_at == LATER + timedelta(days=30, seconds=1)
    assert MARKER not in str(pruned.payload) and pruned.payload["order"]["charges"][0][
        "amount"] == "4997"
    assert kept.payload_pruned_at is None and kept.replayable


def test_prune_on_four_hosts_at_once_redacts_each_delivery_once(
    client, database_url, summit, session
):
    """Cron on several hosts: four processes prune the same deliveries at the same moment."""
    for number in range(60):
        post_webhook(client, order(f"H-{number}", email=f"b{number}@example.com"))
    session.execute(update(WebhookDelivery).values(received_at=utcnow() - timedelta(days=2)))
    session.commit()
    env = {**os.environ, "APP_ENV": "production", "DATABASE_URL": database_url,
           "SECRET_KEY": "test-secret-key", "SECRET_WORD_KEY": "test-secret-word-key"}
    hosts = [subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "deliveries", "prune",
         "--older-than", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [host.communicate(timeout=120)[0] for host in hosts]
    assert all(host.returncode == 0 for host in hosts), outputs
    counts = [int(re.search(r"payloads of (\d+) deliveries", output).group(1))
              for output in outputs]
    assert sum(counts) == 60, outputs
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.payload_pruned_at.is_(None))) == 0
    payloads = session.scalars(select(WebhookDelivery.payload)).all()
    assert len(payloads) == 60 and not any("customer" in payload for payload in payloads)


# Email changes -------------------------------------------------------------------------

def customer_updated(new_email, customer="429583657727489355", old_email=None, **extra):
    payload = {"event": "customer_updated", "thrivecart_account": "examplesummits",
               "thrivecart_secret": FIXTURE_SECRET, "customer_id": customer,
               "customer": {"id": customer, "email": new_email}, **extra}
    if old_email:
        payload["customer"]["old_email"] = old_email
    return json_body(payload)


def test_a_new_email_from_thrivecart_changes_the_attendee_named_by_customer_id(
    client, summit, session
):
    post_webhook(client, order("C-1"))
    response = post_webhook(client, customer_updated("Ada.New@Example.com"))
    assert response.status_code == 200
    assert [o["outcome"] for o in response.json["outcomes"]] == ["email_changed"]
    assert session.scalars(select(Attendee.email)).all() == ["ada.new@example.com"]
    # Sent again: no change, nothing to do.
    again = post_webhook(client, customer_updated("ada.new@example.com"))
    assert [o["outcome"] for o in again.json["outcomes"]] == ["duplicate"]
    # By the old email when the customer id is unknown.
    post_webhook(client, order("C-2", email="grace@example.com"))
    by_email = post_webhook(client, customer_updated("grace.h@example.com", customer="999",
                                                     old_email="Grace@example.com"))
    assert [o["outcome"] for o in by_email.json["outcomes"]] == ["email_changed"]
    nobody = post_webhook(client, customer_updated("x@example.com", customer="12345"))
    assert [o["outcome"] for o in nobody.json["outcomes"]] == ["unknown_customer"]
    assert session.scalar(select(ActivityEntry.detail).where(
        ActivityEntry.kind == "attendee_email_changed").limit(1)).startswith("attendee #")


@pytest.mark.parametrize(("body", "reason"), [
    ({"customer": {"id": "1"}}, "the body names no new email"),
    ({"customer": {"id": "1", "email": "not an address"}}, "the new email is not an email"),
    ({"customer": {"email": "new@example.com"}},
     "the body names neither a customer id nor an old email"),
    ({"customer": "a string"}, "the body names no new email"),
])
def test_an_unreadable_email_change_fails_with_the_reason(client, summit, session, body,
                                                          reason):
    payload = {"event": "customer_updated", "thrivecart_account": "examplesummits",
               "thrivecart_secret": FIXTURE_SECRET, **body}
    response = post_webhook(client, json_body(payload))
    assert response.status_code == 422 and reason in response.json["error"]
    delivery = session.get(WebhookDelivery, response.json["delivery_id"])
    assert (delivery.status, delivery.payload["event"]) == ("failed", "customer_updated")


def test_an_email_taken_by_another_attendee_waits_for_a_merge_that_keeps_both(
    client, login, summit, session
):
    post_webhook(client, order("M-1"))
    post_webhook(client, order("M-2", email="grace@example.com", keys=("bump-12",)))
    response = post_webhook(client, customer_updated("grace@example.com"))
    assert [o["outcome"] for o in response.json["outcomes"]] == ["email_conflict"]
    source = session.scalar(select(Attendee.id).where(Attendee.email == BUYER))
    target = session.scalar(select(Attendee.id).where(Attendee.email == "grace@example.com"))
    attention = select(DeliveryEvent.attention).where(
        DeliveryEvent.delivery_id == response.json["delivery_id"])
    assert session.scalar(attention) is True
    login("ada@example.com")
    page = text_of(client.get(f"/events/{summit}/attendees/{source}/"))
    assert "Merge into grace@example.com" in page
    dashboard = text_of(client.get(f"/events/{summit}/"))
    assert "Email change" in dashboard

    merged = client.post(f"/events/{summit}/attendees/{source}/merge",
                         data={"into": target}, follow_redirects=True)
    assert "1 purchases moved" in text_of(merged)
    session.expire_all()
    assert session.get(Attendee, source) is None
    tickets = session.scalars(select(TicketPurchase.thrivecart_order_id).where(
        TicketPurchase.attendee_id == target).order_by(TicketPurchase.id)).all()
    assert tickets == ["M-1", "M-2"]
    assert session.scalar(attention) is False
    assert session.scalar(select(ActivityEntry.detail).where(
        ActivityEntry.kind == "attendees_merged")) == (
        f"attendee #{source} merged into #{target} (1 purchases moved)")


def test_a_merge_of_two_attendees_holding_the_same_ticket_is_refused(client, login, summit,
                                                                     session):
    post_webhook(client, order("S-1"))
    post_webhook(client, order("S-2", email="grace@example.com"))
    post_webhook(client, customer_updated("grace@example.com"))
    source = session.scalar(select(Attendee.id).where(Attendee.email == BUYER))
    target = session.scalar(select(Attendee.id).where(Attendee.email == "grace@example.com"))
    login("ada@example.com")
    refused = client.post(f"/events/{summit}/attendees/{source}/merge", data={"into": target},
                          follow_redirects=True)
    assert "Both attendees hold “All-Access”" in text_of(refused)
    assert session.scalar(select(Attendee.id).where(Attendee.id == source)) == source


# Attribution ---------------------------------------------------------------------------

def test_attribution_is_kept_verbatim_bounded_and_exported_safely(client, login, summit,
                                                                  session):
    response = post_webhook(client, order(
        "A-1", affiliate="partner-42", coupon="=HYPERLINK(\"x\")" + "C" * 10_000,
        passthrough={"utm_source": "<b>newsletter</b>", "utm_medium": "null",
                     "utm_campaign": "launch"}))
    assert response.json["outcomes"][0]["outcome"] == "paid"
    purchase = session.scalar(select(TicketPurchase))
    assert (purchase.country, purchase.affiliate, purchase.utm_source, purchase.utm_medium,
            purchase.utm_campaign) == ("GB", "partner-42", "<b>newsletter</b>", None, "launch")
    assert len(purchase.coupon) == 200 and purchase.coupon.startswith("=HYPERLINK")
    post_webhook(client, order("A-2", email="grace@example.com"))
    login("ada@example.com")
    [row, _other] = export(client, summit)
    assert (row["country"], row["affiliate"], row["utm_source"], row["utm_campaign"]) == (
        "GB", "partner-42", "<b>newsletter</b>", "launch")
    assert row["coupon"].startswith("'=HYPERLINK") and row["utm_medium"] == ""
    attendee = session.scalar(select(Attendee.id).where(Attendee.email == BUYER))
    markup = client.get(f"/events/{summit}/attendees/{attendee}/").get_data(as_text=True)
    assert "&lt;b&gt;newsletter&lt;/b&gt;" in markup and "<b>newsletter" not in markup
    assert "partner-42" in markup


def test_a_coupon_block_in_the_order_gives_its_code(client, summit, session):
    body = order("B-1")
    post_webhook(client, body.replace(b"order%5Bid%5D=B-1",
                                      b"order%5Bid%5D=B-1&order%5Bcoupon%5D%5Bcode%5D=LAUNCH50"))
    assert session.scalar(select(TicketPurchase.coupon)) == "LAUNCH50"
