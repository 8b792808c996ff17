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
    LifecycleEvent,
    PurchaseChange,
    PurchaseStatus,
    Ticket,
    TicketPurchase,
    WebhookDelivery,
)
from heysummit_tc.services.lifecycle import expire_cancelled, has_access

from helpers import (
    PASSWORD,
    post_webhook,
)
from orders import (
    EMAIL,
    LATER,
    cancellation,
    lifecycle,
    payment,
    rebill_failed,
    refund,
    success,
)


def outcomes(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [outcome["outcome"] for outcome in response.json["outcomes"]]


def purchase(session, key="product-12", email=EMAIL, order_id=None):
    """The buyer's purchase of the ticket (through ``order_id``, when they bought it twice)."""
    session.expire_all()
    statement = (select(TicketPurchase).join(Attendee).join(Ticket)
                 .where(Attendee.email == email, Ticket.links.any(key=key)))
    if order_id is not None:
        statement = statement.where(TicketPurchase.thrivecart_order_id == order_id)
    return session.scalars(statement).one_or_none()


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
    ticket = session.scalars(select(Ticket).where(Ticket.links.any(key="product-12"))).one()
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
    assert (row["ticket_price"], row["ticket_currency"], row["charged_amount"],
            row["charged_currency"]) == ("147.00", "USD", "30.00", "EUR")

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
    assert (rows["Pass"]["ticket_price"], rows["Pass"]["charged_amount"]) == (
        "24000000.00", "24000000.00")
    assert (rows["Tokyo"]["ticket_price"], rows["Tokyo"]["ticket_currency"]) == ("5000", "JPY")
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


def test_access_ends_at_the_exact_period_end_and_the_history_records_that_moment(
    client, event, session
):
    set_policies(session, on_cancel="period_end")
    period_end = LATER + timedelta(days=20)
    post_webhook(client, success())
    post_webhook(client, cancellation(period_end=period_end))
    cancelled = purchase(session)
    assert has_access(cancelled.status, cancelled.access_ends_at, None,
                      period_end - timedelta(seconds=1))
    assert not has_access(cancelled.status, cancelled.access_ends_at, None, period_end)
    assert expire_cancelled(session, period_end - timedelta(seconds=1)) == 0
    assert expire_cancelled(session, period_end) == 1
    session.commit()
    session.expire_all()
    ended = purchase(session)
    assert (ended.status, ended.updated_at) == (PurchaseStatus.ENDED, period_end)
    last = ended.changes[-1]
    assert (last.from_status, last.to_status, last.changed_at, last.reason) == (
        PurchaseStatus.CANCELLED, PurchaseStatus.ENDED, period_end,
        "access ended after the cancellation")


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
    # The rebuy is a purchase of its own; the cancelled one keeps its state and history.
    assert purchase(session, order_id="55555").status == PurchaseStatus.PAID
    earlier = purchase(session, order_id="23370556")
    assert earlier.status == PurchaseStatus.CANCELLED
    assert [change.to_status for change in earlier.changes] == [PurchaseStatus.CANCELLED]


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


def test_lifecycle_answers_name_the_item_and_say_why_nothing_applied(
    client, make_event, make_ticket, connect
):
    # The lower event id comes first, and its ticket does not link the refunded item.
    first = make_event("First Summit", "USD")
    make_ticket(first, "Workbook", "product-99", [("9.00", "USD")])
    second = make_event("Second Summit", "USD")
    ticket = make_ticket(second, "All-Access", "product-12", [("4997.00", "USD")])
    for event_id in (first, second):
        connect(event_id)
    post_webhook(client, success())
    assert post_webhook(client, refund()).json["outcomes"] == [
        {"event_id": first, "item": "product-12", "outcome": "linked_elsewhere",
         "ticket_id": None, "detail": "another event on this ThriveCart account links it"},
        {"event_id": second, "item": "product-12", "outcome": "refunded",
         "ticket_id": ticket, "detail": None},
    ]
    assert post_webhook(client, lifecycle(
        "order.refund", "refund", amount="499700", currency="USD")).json["outcomes"] == [
        {"event_id": event_id, "item": None, "outcome": "ignored", "ticket_id": None,
         "detail": "the refund names no item"} for event_id in (first, second)]
    assert post_webhook(client, refund(order_id="")).json["outcomes"] == [
        {"event_id": event_id, "item": "product-12", "outcome": "ignored", "ticket_id": None,
         "detail": "the refund names no order"} for event_id in (first, second)]


def _pending(session):
    held = purchase(session)
    held.status = PurchaseStatus.PENDING
    session.commit()


def _expire(session):
    assert expire_cancelled(session, LATER + timedelta(days=21)) == 1
    session.commit()


WAITING = "kept until order 23370556 arrives; it applies then"
LONG = "9" * 45
# Each scenario posts its steps in turn; every answer is checked whole: the item's outcome and
# the detail the delivery log shows for it.
TRAILS = {
    "a refund delivered twice counts once": (
        {}, [success(), refund(), refund()],
        [("paid", None), ("refunded", None),
         ("duplicate", "this refund was received before; counted once")]),
    "a partial refund keeps access": (
        {}, [success(), refund(amount="100000")],
        [("paid", None),
         ("partial_refund", "Refunded 1,000.00 of 4,997.00\u00a0USD so far; access kept")]),
    "subscription payments are counted once each": (
        {}, [success(), payment(2), payment(2)],
        [("paid", None), ("payment_recorded", "payment 1 recorded"),
         ("duplicate", "this subscription payment was received before; counted once")]),
    "a purchase set to pending by hand is left alone": (
        {}, [success(), _pending, refund()],
        [("paid", None), None,
         ("ignored", "the purchase is pending, set by hand; nothing changes")]),
    "a refund before its order means access is never granted": (
        {}, [refund(), success()],
        [("waiting_for_order", WAITING),
         ("refunded", "refund received before the order applies: access was never granted")]),
    "two events before their order are named together": (
        {"on_payment_failed": "suspend"}, [cancellation(), rebill_failed(), success()],
        [("waiting_for_order", WAITING), ("waiting_for_order", WAITING),
         ("cancelled", "cancellation and failed rebill received before the order applies: "
                       "it starts cancelled, with access")]),
    "a refund and a cancellation before their order: access never granted": (
        {}, [cancellation(), refund(), success()],
        [("waiting_for_order", WAITING), ("waiting_for_order", WAITING),
         ("refunded", "cancellation and refund received before the order applies: "
                      "access was never granted")]),
    "an order id longer than 40 characters is matched by what is kept of it": (
        {}, [success(order_id=LONG), refund(order_id=LONG)],
        [("paid", None), ("refunded", None)]),
    "a success delivered again changes nothing": (
        {}, [success(), success()],
        [("paid", None), ("already_paid", "this order paid it already")]),
    "a success of a refunded order never grants it again": (
        {}, [success(), refund(), success()],
        [("paid", None), ("refunded", None),
         ("already_refunded", "order 23370556 is refunded; "
                              "a success of the same order never grants it again")]),
    "a success of an order whose rebill failed leaves it unpaid": (
        {}, [success(), rebill_failed(), success()],
        [("paid", None), ("payment_failed", None),
         ("already_payment_failed", "order 23370556 is payment failed; "
                                    "a success of the same order never grants it again")]),
    "a success of a refunded order with a long id is matched by what is kept of it": (
        {}, [success(order_id=LONG), refund(order_id=LONG), success(order_id=LONG)],
        [("paid", None), ("refunded", None),
         ("already_refunded", f"order {LONG} is refunded; "
                              "a success of the same order never grants it again")]),
    "a purchase set to pending by hand is granted by its order's success": (
        {}, [success(), _pending, success()],
        [("paid", None), None, ("paid", None)]),
    "a purchase whose access ended stays ended whatever comes after": (
        {"on_cancel": "period_end"},
        [success(), cancellation(period_end=LATER + timedelta(days=20)), _expire,
         cancellation(period_end=LATER + timedelta(days=20)), rebill_failed()],
        [("paid", None), ("cancelled", None), None,
         ("duplicate", "this cancellation was received before; counted once"),
         ("already_ended", None)]),
    "a refund of an item charged nothing known revokes at once": (
        {}, [success(charges=[]), refund(amount="100")],
        [("paid", None), ("refunded", None)]),
    "a refund that names no amount revokes at once": (
        {}, [success(), refund(amount=None)],
        [("paid", None), ("refunded", None)]),
    "a refund in another currency than the charge revokes at once": (
        {}, [success(), refund(amount="100", currency="EUR")],
        [("paid", None), ("refunded", None)]),
    "partial refunds add up until they cover the charge": (
        {}, [success(), refund(amount="200000", event_id="r1"),
             refund(amount="299700", event_id="r2")],
        [("paid", None),
         ("partial_refund", "Refunded 2,000.00 of 4,997.00\u00a0USD so far; access kept"),
         ("refunded", None)]),
    "a failed rebill before its order starts it payment failed, with access kept": (
        {}, [rebill_failed(), success()],
        [("waiting_for_order", WAITING),
         ("payment_failed", "failed rebill received before the order applies: "
                            "it starts payment failed, with access")]),
    "a failed rebill before its order under the suspend policy grants no access": (
        {"on_payment_failed": "suspend"}, [rebill_failed(), success()],
        [("waiting_for_order", WAITING),
         ("payment_failed", "failed rebill received before the order applies: "
                            "access was never granted")]),
    "a cancellation before its order that ended access already grants none": (
        {"on_cancel": "now"}, [cancellation(when=LATER - timedelta(days=400)), success()],
        [("waiting_for_order", WAITING),
         ("cancelled", "cancellation received before the order applies: "
                       "access was never granted")]),
    "an event naming its item by product_id alone applies to that product": (
        {}, [success(), lifecycle("order.subscription_cancelled", "subscription",
                                  product_id="12")],
        [("paid", None), ("cancelled", None)]),
    "an event naming an id without its type names no item": (
        {}, [success(), lifecycle("order.subscription_cancelled", "subscription", id="12")],
        [("paid", None), ("ignored", "the cancellation names no item")]),
    "a refund after a subscription payment still revokes": (
        {}, [success(), payment(1, when=LATER - timedelta(days=1)), refund()],
        [("paid", None), ("payment_recorded", "payment 1 recorded"), ("refunded", None)]),
    "a second failed rebill of an unpaid purchase changes nothing": (
        {}, [success(), rebill_failed(), rebill_failed(invoice_id="000000006")],
        [("paid", None), ("payment_failed", None), ("already_payment_failed", None)]),
}


@pytest.mark.parametrize("name", list(TRAILS))
def test_each_step_of_an_orders_life_answers_its_outcome_and_why(name, client, event, session):
    policies, steps, expected = TRAILS[name]
    if policies:
        set_policies(session, **policies)
    answers = []
    for step in steps:
        if callable(step):
            step(session)
            answers.append(None)
            continue
        [outcome] = post_webhook(client, step).json["outcomes"]
        answers.append((outcome["outcome"], outcome["detail"]))
    assert answers == expected


def test_payments_at_the_same_instant_settle_alike_whichever_arrives_first(
    client, event, session
):
    first = {"event_id": "9001", "invoice_id": "000000101"}
    second = {"event_id": "9002", "invoice_id": "000000102"}
    buyers = {"a@example.com": ("O-1", (first, second)), "b@example.com": ("O-2", (second, first))}
    for email, (order_id, arrivals) in buyers.items():
        post_webhook(client, success(order_id=order_id, email=email))
        for number, fields in enumerate(arrivals, 1):
            assert outcomes(post_webhook(client, payment(number, order_id=order_id,
                                                         **fields))) == ["payment_recorded"]
    # Ties go by the event's identity, not by arrival: the same last invoice for both.
    assert [(held.payments, held.last_invoice_id)
            for held in (purchase(session, email=email) for email in buyers)] == [
        (2, "000000102"), (2, "000000102")]


def test_events_before_their_order_shape_the_purchase_it_makes(client, event, session):
    set_policies(session, on_cancel="period_end")
    period_end = LATER + timedelta(days=20)
    paid_at = LATER - timedelta(days=1)
    post_webhook(client, payment(1, when=paid_at, invoice_id="000000201"))
    post_webhook(client, refund(amount="100000"))
    post_webhook(client, cancellation(period_end=period_end))
    assert outcomes(post_webhook(client, success())) == ["cancelled"]
    made = purchase(session)
    # The partial refund is measured against what the order charged, in its currency.
    assert (made.status, made.refunded_at, made.access_ends_at) == (
        PurchaseStatus.CANCELLED, None, period_end)
    assert (made.charged_amount, made.charged_currency) == (499700, "USD")
    assert (made.payments, made.last_payment_at, made.last_invoice_id) == (
        1, paid_at, "000000201")


def test_a_rebuy_records_the_delivery_and_order_that_made_it(client, event, session):
    post_webhook(client, success(order_id="O-1"))
    post_webhook(client, refund(order_id="O-1"))
    rebuy = post_webhook(client, success(order_id="O-2")).json
    assert [outcome["outcome"] for outcome in rebuy["outcomes"]] == ["paid"]
    first, second = purchase(session, order_id="O-1"), purchase(session, order_id="O-2")
    assert second.id != first.id and first.status == PurchaseStatus.REFUNDED
    # The refunded purchase's history is its own: nothing of the rebuy is written there.
    assert [(c.from_status, c.to_status) for c in first.changes] == [
        (PurchaseStatus.PAID, PurchaseStatus.REFUNDED)]
    assert second.changes == [] and second.paid_at is not None
    # A success without an order id buys it again too, once however often it comes.
    post_webhook(client, refund(order_id="O-2"))
    assert outcomes(post_webhook(client, success(order_id=""))) == ["paid"]
    assert outcomes(post_webhook(client, success(order_id=""))) == ["already_paid"]
    assert purchase(session, order_id="").status == PurchaseStatus.PAID


def test_an_item_without_a_charge_records_no_charge(client, event, session):
    assert outcomes(post_webhook(client, success(charges=[]))) == ["paid"]
    made = purchase(session)
    assert (made.charged_amount, made.charged_currency, made.amount) == (None, None, 499700)


def test_an_outcome_keeps_what_its_columns_hold(client, event, session):
    order_id = "8" * 600
    post_webhook(client, refund(order_id=order_id))
    key = "product-" + "9" * 60
    post_webhook(client, success(order_id="O-1", key=key))
    session.expire_all()
    waiting, unlinked = session.scalars(select(DeliveryOutcome)
                                        .order_by(DeliveryOutcome.id)).all()
    assert waiting.detail == f"kept until order {order_id} arrives; it applies then"[:500]
    assert (unlinked.outcome, unlinked.item_key) == ("unlinked", key[:40])


def test_a_history_reason_keeps_what_its_column_holds(client, event, session):
    order_id = "7" * 300
    post_webhook(client, success(order_id=order_id))
    post_webhook(client, refund(order_id=order_id))
    [change] = purchase(session).changes
    assert change.reason == f"order.refund of order {order_id}"[:200]


def test_a_status_change_records_the_delivery_that_caused_it_at_its_moment(
    client, event, session
):
    post_webhook(client, success())
    delivery_id = post_webhook(client, refund()).json["delivery_id"]
    delivery = session.get(WebhookDelivery, delivery_id)
    change = purchase(session).changes[-1]
    assert (change.from_status, change.to_status, change.delivery_id, change.user_id,
            change.changed_at, change.reason) == (
        PurchaseStatus.PAID, PurchaseStatus.REFUNDED, delivery_id, None,
        delivery.processed_at, "order.refund of order 23370556")
    assert purchase(session).updated_at == delivery.processed_at


def test_an_event_before_its_order_waits_in_every_event_under_its_ticket(
    client, make_event, make_ticket, connect, session
):
    events = [make_event(name, "USD") for name in ("First Summit", "Second Summit")]
    tickets = [make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
               for event_id in events]
    for event_id in events:
        connect(event_id)
    answer = post_webhook(client, refund()).json
    assert answer["outcomes"] == [
        {"event_id": event_id, "item": "product-12", "outcome": "waiting_for_order",
         "ticket_id": ticket_id, "detail": WAITING}
        for event_id, ticket_id in zip(events, tickets, strict=True)]
    delivery = session.get(WebhookDelivery, answer["delivery_id"])
    kept = session.scalars(select(LifecycleEvent).order_by(LifecycleEvent.event_id)).all()
    assert [(row.event_id, row.delivery_id, row.received_at) for row in kept] == [
        (event_id, delivery.id, delivery.processed_at) for event_id in events]


def test_a_refund_of_another_order_leaves_this_orders_purchase_paid(
    client, linked_event, session
):
    post_webhook(client, success(order_id="PAID-1"))
    answer = post_webhook(client, refund(order_id="OTHER-9"))
    assert [o["outcome"] for o in answer.json["outcomes"]] == ["waiting_for_order"]
    session.expire_all()
    assert session.scalar(select(TicketPurchase.status)) == PurchaseStatus.PAID


def test_a_purchase_refunded_before_its_order_arrived_was_never_paid(client, event, session):
    """The refund came first: the purchase starts refunded, and the CSV has no paid time
    later than its refund (it has none at all)."""
    post_webhook(client, refund())
    post_webhook(client, success())
    assert purchase(session).paid_at is None
    [row] = csv_rows(client, event)
    assert (row["status"], row["paid_at"], row["access"]) == ("refunded", "", "no")
    assert row["refunded_at"] != ""
