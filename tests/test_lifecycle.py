"""An order's whole life (SPEC 3, Lifecycle): refunds, order of arrival, subscriptions and
payment plans, currencies. Every scenario runs on SQLite and PostgreSQL; time is frozen
where it matters.
"""

import csv
import html
import io
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from heysummit_tc.models import (
    Attendee,
    DeliveryOutcome,
    PurchaseChange,
    PurchaseStatus,
    Ticket,
    TicketPurchase,
)

from helpers import PASSWORD, post_webhook
from orders import (
    EMAIL,
    LATER,
    cancellation,
    payment,
    rebill_failed,
    refund,
    success,
)


def outcomes(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [outcome["outcome"] for outcome in response.json["outcomes"]]


def purchase(session, key="product-12", email=EMAIL):
    session.expire_all()
    return session.scalars(
        select(TicketPurchase).join(Attendee).join(Ticket)
        .where(Attendee.email == email, Ticket.external_id == key)
    ).one_or_none()


def csv_rows(client, event_id):
    """The attendee CSV as the organiser downloads it now (signing in again: the clock may
    have travelled past the session's lifetime)."""
    client.post("/login", data={"email": "org@example.com", "password": PASSWORD})
    response = client.get(f"/events/{event_id}/attendees.csv")
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def owner(login, make_user):
    """The organiser signed in on ``client``: the CSV and pages are theirs to read."""
    user_id = make_user("org@example.com")
    login("org@example.com")
    return user_id


@pytest.fixture
def event(owner, make_event, make_ticket, connect):
    event_id = make_event("Growth Summit", "USD", organiser=owner)
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD"), ("147.00", "EUR")])
    connect(event_id)
    return event_id


organiser = event


def set_policies(session, on_payment_failed="keep", on_cancel="keep"):
    ticket = session.scalars(select(Ticket).where(Ticket.external_id == "product-12")).one()
    ticket.on_payment_failed, ticket.on_cancel = on_payment_failed, on_cancel
    session.commit()


# Refunds ------------------------------------------------------------------------------


def test_a_replayed_success_after_a_refund_keeps_the_purchase_refunded(client, event, session):
    assert outcomes(post_webhook(client, success())) == ["paid"]
    assert outcomes(post_webhook(client, refund(event_id="9001"))) == ["refunded"]
    refunded_at = purchase(session).refunded_at
    assert refunded_at == LATER

    # A replay, a held release or a late redelivery of the same success.
    assert outcomes(post_webhook(client, success())) == ["already_refunded"]
    again = purchase(session)
    assert (again.status, again.refunded_at) == (PurchaseStatus.REFUNDED, refunded_at)


def test_the_replay_button_never_grants_a_refunded_order_again(client, organiser, session):
    paid = post_webhook(client, success())
    post_webhook(client, refund(event_id="9001"))
    url = (f"/events/{organiser}/setup/integrations/thrivecart/deliveries/"
           f"{paid.json['delivery_id']}/replay")
    assert client.post(url).status_code == 302
    assert purchase(session).status == PurchaseStatus.REFUNDED
    replayed = session.scalars(select(DeliveryOutcome.outcome).where(
        DeliveryOutcome.delivery_id == paid.json["delivery_id"]).order_by(
        DeliveryOutcome.id)).all()
    assert replayed == ["paid", "already_refunded"]


def test_a_refund_that_arrives_before_its_order_lands_the_order_refunded(
    client, event, session
):
    assert outcomes(post_webhook(client, refund(event_id="9001"))) == ["waiting_for_order"]
    # A refund alone never creates an attendee.
    assert session.scalars(select(Attendee)).all() == []

    assert outcomes(post_webhook(client, success())) == ["refunded"]
    landed = purchase(session)
    assert (landed.status, landed.refunded_at) == (PurchaseStatus.REFUNDED, LATER)
    # Created refunded: it never passed through paid.
    assert landed.changes == []
    assert [(row["status"], row["access"]) for row in csv_rows(client, event)] == [
        ("refunded", "no")]


def test_two_partial_refunds_that_add_up_to_the_charge_revoke_it(client, event, session):
    post_webhook(client, success(charged="10000"))
    assert outcomes(post_webhook(client, refund("4000", event_id="1"))) == ["partial_refund"]
    assert purchase(session).status == PurchaseStatus.PAID
    assert outcomes(post_webhook(client, refund("6000", event_id="2",
                                                when=LATER + timedelta(days=1)))) == ["refunded"]
    assert purchase(session).refunded_at == LATER + timedelta(days=1)


def test_a_redelivered_partial_refund_counts_once(client, event, session):
    post_webhook(client, success(charged="10000"))
    body = refund("6000")  # no event id: identified by its content
    assert outcomes(post_webhook(client, body)) == ["partial_refund"]
    assert outcomes(post_webhook(client, body)) == ["duplicate"]
    assert purchase(session).status == PurchaseStatus.PAID


def test_a_eur_refund_of_a_eur_charge_revokes_a_usd_priced_ticket(client, owner, make_event,
                                                                   make_ticket, connect,
                                                                   session):
    event_id = make_event("Euro Summit", "USD", organiser=owner)
    make_ticket(event_id, "All-Access", "product-12", [("147.00", "USD")])
    connect(event_id)
    post_webhook(client, success(charged="3000", currency="EUR"))
    paid = purchase(session)
    assert (paid.amount, paid.currency) == (14700, "USD")
    assert (paid.charged_amount, paid.charged_currency) == (3000, "EUR")
    [row] = csv_rows(client, event_id)
    assert (row["amount"], row["currency"], row["charged_amount"], row["charged_currency"]) == (
        "147.00", "USD", "30.00", "EUR")

    assert outcomes(post_webhook(client, refund("3000", currency="EUR"))) == ["refunded"]


def test_a_refund_in_another_currency_than_the_charge_revokes_it(client, event, session):
    post_webhook(client, success(charged="499700", currency="USD"))
    assert outcomes(post_webhook(client, refund("100", currency="GBP"))) == ["refunded"]


def test_refunds_compare_with_the_charge_not_the_ticket_price(client, event, session):
    # Charged 97.00 (a coupon) for a ticket priced 4,997.00: refunding 97.00 refunds it all.
    post_webhook(client, success(charged="9700"))
    assert outcomes(post_webhook(client, refund("9700"))) == ["refunded"]


def test_older_charge_rows_without_item_type_are_charged_to_the_base_product(
    client, event, session
):
    # Before item_type/item_identifier: a bump row and the product row (reference 12 is
    # base_product), and the first payment of a plan listed twice.
    charges = [
        {"name": "Bump", "reference": "4", "amount": "1500", "type": "single"},
        {"name": "Ticket", "reference": "12", "amount": "4997", "type": "single"},
        {"name": "Ticket", "reference": "12", "amount": "4997", "type": "recurring"},
    ]
    assert outcomes(post_webhook(client, success(charges=charges))) == ["paid"]
    assert purchase(session).charged_amount == 4997
    assert outcomes(post_webhook(client, refund("4997"))) == ["refunded"]


def test_amounts_past_32_bits_are_stored_and_shown_with_the_currency_exponent(
    client, owner, make_event, make_ticket, connect, session
):
    event_id = make_event("Jakarta Summit", "IDR", organiser=owner)
    make_ticket(event_id, "Pass", "product-12", [("24000000.00", "IDR")])
    make_ticket(event_id, "Tokyo", "product-13", [("5000", "JPY")])
    connect(event_id)
    assert outcomes(post_webhook(client, success(charged="2400000000", currency="IDR"))) == [
        "paid"]
    assert outcomes(post_webhook(client, success(
        order_id="77", key="product-13", charged="5000", currency="JPY"))) == ["paid"]
    rows = {row["ticket"]: row for row in csv_rows(client, event_id)}
    assert (rows["Pass"]["amount"], rows["Pass"]["charged_amount"]) == (
        "24000000.00", "24000000.00")
    assert (rows["Tokyo"]["amount"], rows["Tokyo"]["currency"]) == ("5000", "JPY")
    assert purchase(session).charged_amount == 2_400_000_000


# Subscriptions and payment plans ---------------------------------------------------------


def test_a_failed_rebill_keeps_access_under_the_default_policy(client, event, session):
    post_webhook(client, success())
    assert outcomes(post_webhook(client, rebill_failed())) == ["payment_failed"]
    [row] = csv_rows(client, event)
    assert (row["status"], row["access"]) == ("payment_failed", "yes")


def test_a_failed_rebill_suspends_access_under_the_suspend_policy_and_the_next_payment_restores_it(
    client, event, session
):
    set_policies(session, on_payment_failed="suspend")
    post_webhook(client, success())
    post_webhook(client, rebill_failed(when=LATER))
    [row] = csv_rows(client, event)
    assert (row["status"], row["access"]) == ("payment_failed", "no")

    assert outcomes(post_webhook(client, payment(2, when=LATER + timedelta(days=3),
                                                 invoice_id="000000005-2"))) == ["paid"]
    restored = purchase(session)
    assert (restored.status, restored.payments, restored.last_invoice_id) == (
        PurchaseStatus.PAID, 1, "000000005-2")
    assert restored.last_payment_at == LATER + timedelta(days=3)
    assert [(c.from_status, c.to_status) for c in restored.changes] == [
        (PurchaseStatus.PAID, PurchaseStatus.PAYMENT_FAILED),
        (PurchaseStatus.PAYMENT_FAILED, PurchaseStatus.PAID)]


def test_subscription_payments_are_counted_once_each(client, event, session):
    post_webhook(client, success())
    for number in (1, 2, 2):
        post_webhook(client, payment(number, when=LATER + timedelta(days=30 * number),
                                     invoice_id=f"000000005-{number}"))
    recorded = purchase(session)
    assert (recorded.status, recorded.payments, recorded.last_invoice_id) == (
        PurchaseStatus.PAID, 2, "000000005-2")


def test_a_cancellation_with_period_end_keeps_access_until_billing_period_end_and_the_expire_job_ends_it(  # noqa: E501
    client, event, session, runner
):
    set_policies(session, on_cancel="period_end")
    period_end = LATER + timedelta(days=20)
    post_webhook(client, success())
    with time_machine.travel(LATER + timedelta(days=1), tick=False):
        assert outcomes(post_webhook(client, cancellation(period_end=period_end))) == [
            "cancelled"]
        [row] = csv_rows(client, event)
        assert (row["status"], row["access"], row["access_ends_at"]) == (
            "cancelled", "yes", "2027-01-30T12:00:00Z")
        assert "0 purchases ended." in runner.invoke(args=["thrivecart", "expire"]).output

    with time_machine.travel(period_end + timedelta(seconds=1), tick=False):
        # Pages and exports go by the clock before the job runs ...
        [row] = csv_rows(client, event)
        assert (row["status"], row["access"]) == ("cancelled", "no")
        # ... which records it, once, however often it runs.
        assert "1 purchase ended." in runner.invoke(args=["thrivecart", "expire"]).output
        assert "0 purchases ended." in runner.invoke(args=["thrivecart", "expire"]).output
    ended = purchase(session)
    assert ended.status == PurchaseStatus.ENDED
    assert [(c.from_status, c.to_status) for c in ended.changes] == [
        (PurchaseStatus.PAID, PurchaseStatus.CANCELLED),
        (PurchaseStatus.CANCELLED, PurchaseStatus.ENDED)]
    # A late redelivery of the success never grants it again.
    assert outcomes(post_webhook(client, success())) == ["already_ended"]


def test_a_cancellation_under_the_now_policy_ends_access_at_once(client, event, session):
    set_policies(session, on_cancel="now")
    post_webhook(client, success())
    with time_machine.travel(LATER + timedelta(hours=1), tick=False):
        post_webhook(client, cancellation(when=LATER))
        [row] = csv_rows(client, event)
    assert (row["status"], row["access"]) == ("cancelled", "no")


def test_a_cancellation_under_the_default_policy_keeps_access_for_good(client, event, session):
    post_webhook(client, success())
    post_webhook(client, cancellation(period_end=LATER))
    with time_machine.travel(LATER + timedelta(days=400), tick=False):
        [row] = csv_rows(client, event)
    assert (row["status"], row["access"], row["access_ends_at"]) == ("cancelled", "yes", "")


def test_a_cancellation_and_a_failed_rebill_before_their_order_apply_when_it_arrives(
    client, event, session
):
    set_policies(session, on_payment_failed="suspend")
    assert outcomes(post_webhook(client, rebill_failed())) == ["waiting_for_order"]
    assert outcomes(post_webhook(client, success())) == ["payment_failed"]
    assert purchase(session).status == PurchaseStatus.PAYMENT_FAILED


def test_a_cancelled_subscription_bought_again_by_a_new_order_is_paid(client, event, session):
    post_webhook(client, success())
    post_webhook(client, cancellation())
    assert outcomes(post_webhook(client, success(order_id="55555"))) == ["paid"]
    assert purchase(session).status == PurchaseStatus.PAID


# What organisers see -------------------------------------------------------------------


def test_the_attendee_page_shows_the_purchase_history_and_access(client, organiser, session):
    post_webhook(client, success())
    post_webhook(client, refund("100000", event_id="1"))
    post_webhook(client, refund("399700", event_id="2", when=LATER + timedelta(days=2)))
    person = session.scalars(select(Attendee)).one()
    page = html.unescape(client.get(
        f"/events/{organiser}/attendees/{person.id}/").get_data(as_text=True))
    assert "Purchase history" in page
    assert "created by order 23370556" in page
    assert "order.refund of order 23370556" in page
    changes = session.scalars(select(PurchaseChange)).all()
    assert [(c.from_status, c.to_status) for c in changes] == [
        (PurchaseStatus.PAID, PurchaseStatus.REFUNDED)]
    assert f"delivery {changes[0].delivery_id}" in page
    assert '<span class="badge badge-access-no">no</span>' in page


def test_the_attendee_list_filters_by_status_and_shows_access(client, organiser, session):
    post_webhook(client, success())
    post_webhook(client, success(order_id="2", email="grace@example.com"))
    post_webhook(client, refund(event_id="7"))
    url = f"/events/{organiser}/attendees/"
    refunded = client.get(url + "?status=refunded").get_data(as_text=True)
    assert EMAIL in refunded and "grace@example.com" not in refunded
    paid = client.get(url + "?status=paid").get_data(as_text=True)
    assert EMAIL not in paid and "grace@example.com" in paid
    assert '<span class="badge badge-access-yes">yes</span>' in paid
    assert "No attendee holds a purchase that is ended" in html.unescape(
        client.get(url + "?status=ended").get_data(as_text=True))


def test_ticket_editors_set_the_access_policies_on_the_ticket_form(client, organiser, session):
    ticket = session.scalars(select(Ticket)).one()
    url = f"/events/{organiser}/revenue/tickets/{ticket.id}/"
    form = client.get(url).get_data(as_text=True)
    assert "When a subscription or payment-plan payment fails" in form
    assert "When a subscription is cancelled" in form
    response = client.post(url, data={"name": "All-Access", "external_id": "product-12",
                                      "active": "y", "on_payment_failed": "suspend",
                                      "on_cancel": "period_end"})
    assert response.status_code == 302
    session.expire_all()
    assert (ticket.on_payment_failed, ticket.on_cancel) == ("suspend", "period_end")
    refused = client.post(url, data={"name": "All-Access", "on_payment_failed": "forever",
                                     "on_cancel": "now"})
    assert refused.status_code == 400
    assert "Not a valid choice" in refused.get_data(as_text=True)
