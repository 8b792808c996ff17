"""Orders become attendees and paid purchases: the rules of SPEC 3, asserted on the database."""

import copy

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from heysummit_tc import models
from heysummit_tc.extensions import db
from heysummit_tc.models import (
    Attendee,
    TicketPurchase,
)
from heysummit_tc.thrivecart.order import read_order
from heysummit_tc.thrivecart.payload import parse_payload

from helpers import (
    fixture_bytes,
    form_body,
    json_body,
    load_fixture,
    post_webhook,
    purchases_refused,
    record_only,
)
from orders import success

MULTI_KEYS = ["product-2", "bump-2", "upsell-3", "downsell-5"]


def multi_payload():

    return parse_payload(fixture_bytes("order-success-multi.form"))


def purchases(session, event_id=None):
    """Return {(email, item key): purchase} for every purchase (of one event)."""
    session.expire_all()
    attendee, purchase = models.Attendee, models.TicketPurchase
    statement = (select(attendee.email, purchase.thrivecart_item_key, purchase)
                 .join(purchase, purchase.attendee_id == attendee.id))
    if event_id:
        statement = statement.where(models.Attendee.event_id == event_id)
    return {(email, key): purchase for email, key, purchase in session.execute(statement)}


def attendees(session, event_id=None):
    session.expire_all()
    statement = select(models.Attendee).order_by(models.Attendee.id)
    if event_id:
        statement = statement.where(models.Attendee.event_id == event_id)
    return session.scalars(statement).all()


@pytest.fixture
def event(make_event, make_ticket, connect):
    event_id = make_event("Growth Summit", "USD")
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD"), ("97.00", "USD")])
    connect(event_id)
    return event_id


@pytest.mark.parametrize("encoding", ["json", "form-encoded-brackets", "form-literal-brackets",
                                      "fixture-form"])
def test_each_encoding_of_the_fixture_gives_the_same_attendee_and_purchase(
    client, event, session, encoding
):
    payload = load_fixture("order-success.json")
    body = {"json": lambda: json_body(payload),
            "form-encoded-brackets": lambda: form_body(payload),
            "form-literal-brackets": lambda: form_body(payload, encode_brackets=False),
            "fixture-form": lambda: fixture_bytes("order-success.form")}[encoding]()
    # JSON arrives whatever the Content-Type says.
    assert post_webhook(client, body, content_type="application/x-www-form-urlencoded"
                        ).status_code == 200
    [person] = attendees(session)
    assert (person.email, person.first_name, person.last_name) == (
        "ada.lovelace@example.com", "Ada", "Lovelace")
    purchase = purchases(session)[("ada.lovelace@example.com", "product-12")]
    assert purchase.status == models.PurchaseStatus.PAID
    assert (purchase.amount, purchase.currency, purchase.charged_amount) == (499700, "USD", 499700)
    assert (purchase.thrivecart_order_id, purchase.thrivecart_item_key) == ("23370556",
                                                                             "product-12")
    assert purchase.test is True and purchase.source == "thrivecart"
    assert purchase.paid_at.isoformat() == "2023-11-08T23:48:20+00:00"
    assert purchase.refunded_at is None


@pytest.mark.parametrize("state", ["linked", "unlinked", "inactive"])
@pytest.mark.parametrize("key", MULTI_KEYS)
def test_multi_item_order_each_item_linked_unlinked_or_inactive(
    client, make_event, make_ticket, connect, session, key, state
):
    event_id = make_event("Remote Work Summit", "GBP")
    for other in MULTI_KEYS:
        if other != key:
            make_ticket(event_id, other, other, [("10.00", "GBP")])
    if state != "unlinked":
        make_ticket(event_id, "Under test", key, [("10.00", "GBP")], active=state == "linked")
    connect(event_id)
    response = post_webhook(client, fixture_bytes("order-success-multi.form"))
    assert response.status_code == 200
    outcomes = {o["item"]: o["outcome"] for o in response.json["outcomes"]}
    expected = {"linked": "paid", "unlinked": "unlinked", "inactive": "ticket_inactive"}[state]
    assert outcomes == {k: ("paid" if k != key else expected) for k in MULTI_KEYS}
    [answer] = [o for o in response.json["outcomes"] if o["item"] == key]
    ticket_id = session.scalar(select(models.Ticket.id).where(
        models.Ticket.event_id == event_id, models.Ticket.links.any(key=key)))
    assert (answer["event_id"], answer["ticket_id"], answer["detail"]) == {
        "linked": (event_id, ticket_id, None),
        "unlinked": (event_id, None, "no ticket has this External ID"),
        "inactive": (event_id, ticket_id, "the ticket is inactive; reactivate and replay"),
    }[state]
    paid = models.PurchaseStatus.PAID
    held = {k for (_email, k), p in purchases(session).items() if p.status == paid}
    assert held == ({*MULTI_KEYS} if state == "linked" else {*MULTI_KEYS} - {key})
    [person] = attendees(session)
    assert person.email == "katherine.johnson@example.com"


def test_an_order_listing_no_items_says_so_in_each_event(client, make_event, connect):
    events = [make_event(name) for name in ("First Summit", "Second Summit")]
    for event_id in events:
        connect(event_id)
    payload = load_fixture("order-success.json")
    for name in ("purchase_map", "purchase_map_flat", "purchases", "accessible_purchases",
                 "accessible_purchase_map", "accessible_purchase_map_flat"):
        payload.pop(name, None)
    payload["order"]["charges"] = []
    answer = post_webhook(client, json_body(payload)).json
    assert answer["outcomes"] == [
        {"event_id": event_id, "item": None, "outcome": "no_items", "ticket_id": None,
         "detail": "the order lists no items"} for event_id in events]


def test_order_with_only_unlinked_items_creates_no_attendee(client, make_event, connect, session):
    event_id = make_event()
    connect(event_id)
    response = post_webhook(client, fixture_bytes("order-success-multi.form"))
    assert response.status_code == 200
    assert {o["outcome"] for o in response.json["outcomes"]} == {"unlinked"}
    assert attendees(session) == []


def test_two_events_sharing_a_secret_each_provision_their_own_tickets(
    client, make_event, make_ticket, connect, session
):
    first, second = make_event("First", "GBP"), make_event("Second", "GBP")
    make_ticket(first, "Main", "product-2", [("97.00", "GBP")])
    make_ticket(second, "VIP", "upsell-3", [("147.00", "GBP")])
    make_ticket(second, "Replays", "downsell-5", [("33.00", "GBP")])
    connect(first)
    connect(second)
    response = post_webhook(client, fixture_bytes("order-success-multi.form"))
    assert response.status_code == 200
    by_event = {}
    for outcome in response.json["outcomes"]:
        by_event.setdefault(outcome["event_id"], {})[outcome["item"]] = outcome["outcome"]
    # An item the other event links is that event's: not this one's to link.
    assert by_event[first] == {"product-2": "paid", "bump-2": "unlinked",
                               "upsell-3": "linked_elsewhere", "downsell-5": "linked_elsewhere"}
    assert by_event[second] == {"product-2": "linked_elsewhere", "bump-2": "unlinked",
                                "upsell-3": "paid", "downsell-5": "paid"}
    assert set(purchases(session, first)) == {("katherine.johnson@example.com", "product-2")}
    assert set(purchases(session, second)) == {("katherine.johnson@example.com", "upsell-3"),
                                               ("katherine.johnson@example.com", "downsell-5")}
    assert len(attendees(session)) == 2  # one per event


@pytest.mark.parametrize(("prices", "order_currency", "expected"), [
    ([("97.00", "USD"), ("197.00", "USD"), ("147.00", "USD")], "USD", (19700, "USD")),
    ([("97.00", "USD"), ("90.00", "GBP"), ("80.00", "GBP"), ("500.00", "EUR")], "GBP",
     (9000, "GBP")),
    ([("97.00", "USD"), ("120.00", "EUR")], "GBP", (12000, "EUR")),
    ([], "GBP", (0, "USD")),
    ([("5000", "JPY")], "JPY", (5000, "JPY")),
])
def test_purchase_records_the_tickets_highest_price(
    client, make_event, make_ticket, connect, session, prices, order_currency, expected
):
    event_id = make_event(currency="USD")
    make_ticket(event_id, "models.Ticket", "product-12", prices)
    connect(event_id)
    payload = load_fixture("order-success.json") | {"currency": order_currency}
    assert post_webhook(client, form_body(payload)).status_code == 200
    purchase = purchases(session)[("ada.lovelace@example.com", "product-12")]
    assert (purchase.amount, purchase.currency) == expected


def test_email_case_and_spaces_are_one_attendee_and_email_only_keeps_names(
    client, event, session
):
    payload = load_fixture("order-success.json")
    assert post_webhook(client, form_body(payload)).status_code == 200
    again = copy.deepcopy(payload)
    again["order_id"] = again["order"]["id"] = "999"
    again["customer"] |= {"email": "  ADA.Lovelace@Example.COM ", "name": " ",
                          "first_name": "", "last_name": ""}
    assert post_webhook(client, form_body(again)).status_code == 200
    [person] = attendees(session)
    assert (person.email, person.first_name, person.last_name) == (
        "ada.lovelace@example.com", "Ada", "Lovelace")
    renamed = copy.deepcopy(payload)
    renamed["customer"] |= {"first_name": "Augusta", "last_name": ""}
    post_webhook(client, form_body(renamed))
    [person] = attendees(session)
    assert (person.first_name, person.last_name) == ("Augusta", "Lovelace")


def test_html_entities_in_names_are_decoded(client, event, session):
    payload = load_fixture("order-success.json")
    payload["customer"] |= {"first_name": "Ren&eacute;e", "last_name": "O&#39;Neil &amp; Co"}
    post_webhook(client, form_body(payload))
    [person] = attendees(session)
    assert (person.first_name, person.last_name) == ("Renée", "O'Neil & Co")


def test_same_delivery_twice_gives_one_attendee_and_one_purchase(client, event, session):
    first = post_webhook(client, fixture_bytes("order-success.form"))
    second = post_webhook(client, fixture_bytes("order-success.form"))
    assert [o["outcome"] for o in first.json["outcomes"]] == ["paid"]
    assert [o["outcome"] for o in second.json["outcomes"]] == ["already_paid"]
    assert len(attendees(session)) == 1 and len(purchases(session)) == 1
    assert session.scalar(select(func.count()).select_from(models.WebhookDelivery)) == 2


def refund_payload(order_id="23370556", item=("product", "12"), amount="499700"):
    payload = load_fixture("order-refund.json")
    payload.update(order_id=order_id, customer=load_fixture("order-success.json")["customer"])
    payload["refund"].update(type=item[0], id=item[1], amount=amount)
    return payload


def test_full_refund_revokes_the_ticket(client, event, session):
    post_webhook(client, fixture_bytes("order-success.form"))
    response = post_webhook(client, json_body(refund_payload()), content_type="application/json")
    assert response.status_code == 200
    assert [o["outcome"] for o in response.json["outcomes"]] == ["refunded"]
    purchase = purchases(session)[("ada.lovelace@example.com", "product-12")]
    assert purchase.status == models.PurchaseStatus.REFUNDED and purchase.refunded_at is not None
    # The same refund again is counted once and changes nothing more.
    again = post_webhook(client, json_body(refund_payload()), content_type="application/json")
    assert [o["outcome"] for o in again.json["outcomes"]] == ["duplicate"]


def test_a_refund_naming_no_usable_buyer_email_still_revokes_the_ticket(client, event, session):
    """A buyer's email is needed to grant, not to refund: the refund names its order."""
    post_webhook(client, fixture_bytes("order-success.form"))
    payload = refund_payload()
    payload["customer"]["email"] = "not an address"
    response = post_webhook(client, json_body(payload), content_type="application/json")
    assert response.status_code == 200
    assert [o["outcome"] for o in response.json["outcomes"]] == ["refunded"]


def test_partial_refund_is_recorded_and_changes_nothing(client, event, session):
    post_webhook(client, fixture_bytes("order-success.form"))
    response = post_webhook(client, json_body(refund_payload(amount="100000")))
    assert [o["outcome"] for o in response.json["outcomes"]] == ["partial_refund"]
    assert purchases(session)[("ada.lovelace@example.com", "product-12")].status == \
        models.PurchaseStatus.PAID
    delivery = session.get(models.WebhookDelivery, response.json["delivery_id"])
    assert delivery.status == "processed"
    assert delivery.outcomes[0].detail == ("Refunded 1,000.00 of 4,997.00\u00a0USD so far; "
                                           "access kept")


def test_refund_of_another_order_or_item_changes_nothing(client, event, session):
    post_webhook(client, fixture_bytes("order-success.form"))
    other_order = post_webhook(client, json_body(refund_payload(order_id="1")))
    other_item = post_webhook(client, json_body(refund_payload(item=("product", "1"))))
    assert [o["outcome"] for o in other_order.json["outcomes"]] == ["waiting_for_order"]
    assert [o["outcome"] for o in other_item.json["outcomes"]] == ["unlinked"]
    assert purchases(session)[("ada.lovelace@example.com", "product-12")].status == \
        models.PurchaseStatus.PAID


def test_a_new_order_buys_a_refunded_ticket_again(client, event, session):
    post_webhook(client, fixture_bytes("order-success.form"))
    post_webhook(client, json_body(refund_payload()))
    payload = load_fixture("order-success.json")
    payload["order_id"] = payload["order"]["id"] = "23370999"
    response = post_webhook(client, form_body(payload))
    assert [o["outcome"] for o in response.json["outcomes"]] == ["paid"]
    session.expire_all()
    first, again = session.scalars(select(models.TicketPurchase)
                                   .order_by(models.TicketPurchase.id)).all()
    # The rebuy is its own purchase: the refunded one keeps its order, money and history.
    assert (again.thrivecart_order_id, again.status, again.refunded_at) == (
        "23370999", models.PurchaseStatus.PAID, None)
    assert (first.thrivecart_order_id, first.status) == ("23370556",
                                                         models.PurchaseStatus.REFUNDED)
    assert [(c.from_status, c.to_status) for c in first.changes] == [
        (models.PurchaseStatus.PAID, models.PurchaseStatus.REFUNDED)]
    assert again.changes == []


def test_rebills_of_unknown_orders_and_abandoned_carts_create_nothing(client, event, session):
    rebill = load_fixture("order-success.json") | {
        "event": "order.subscription_payment", "invoice_id": "000001382-2",
        "subscription": {"type": "product", "id": "12", "amount": "4997"}}
    response = post_webhook(client, form_body(rebill))
    assert [o["outcome"] for o in response.json["outcomes"]] == ["waiting_for_order"]
    abandoned = load_fixture("order-success.json") | {"event": "cart.abandoned"}
    assert post_webhook(client, form_body(abandoned)).json["status"] == "ignored"
    assert attendees(session) == [] and purchases(session) == {}


def test_live_mode_purchases_are_not_marked_test(client, make_event, make_ticket, connect,
                                                 session):
    event_id = make_event(currency="GBP")
    make_ticket(event_id, "Main", "product-2", [("97.00", "GBP")])
    connect(event_id)
    post_webhook(client, fixture_bytes("order-success-multi.form"))
    purchase = purchases(session)[("katherine.johnson@example.com", "product-2")]
    assert purchase.test is False and purchase.charged_amount == 9700


def test_error_between_two_writes_applies_nothing_and_records_the_failure(
    client, event, session, backend, caplog
):
    with purchases_refused(session, backend):
        response = post_webhook(client, fixture_bytes("order-success.form"))
    assert response.status_code == 503
    assert (response.json["status"], response.json["error"]) == (
        "failed", "database error: injected failure")
    [warning] = [r for r in caplog.records if r.name == "heysummit_tc.services.provisioning"]
    assert warning.getMessage() == (f"delivery {response.json['delivery_id']} failed: "
                                    "database error: injected failure")
    # With its trace: the driver's error that failed the delivery.
    assert warning.levelname == "WARNING" and isinstance(warning.exc_info[1], DBAPIError)
    assert attendees(session) == []  # the attendee insert before the failure was rolled back
    delivery = session.get(models.WebhookDelivery, response.json["delivery_id"])
    assert (delivery.status, delivery.http_status) == ("failed", 503)
    # The driver's first line, never the statement or its parameters; the same on the outcome.
    assert delivery.error == "database error: injected failure"
    assert [(o.outcome, o.detail) for o in delivery.outcomes] == [("failed", delivery.error)]
    # ThriveCart (or the organiser) sending it again applies it once.
    retry = post_webhook(client, fixture_bytes("order-success.form"))
    assert retry.status_code == 200
    assert len(attendees(session)) == 1 and len(purchases(session)) == 1


def test_a_ticket_the_same_order_paid_a_moment_before_is_answered_already_paid(
    app, client, event, session
):
    from sqlalchemy import event as sa_event


    paid_elsewhere = []

    def same_order_pays_first(_connection, cursor, statement, *_args):
        # Another process's delivery of the same order commits the ticket for the same buyer
        # between this delivery's read and its write (the order's lock keeps that from
        # happening; this is the guard behind it): forced here on the same cursor.
        if statement.startswith("INSERT INTO ticket_purchases") and not paid_elsewhere:
            paid_elsewhere.append(True)
            cursor.execute(
                "INSERT INTO ticket_purchases (attendee_id, ticket_id, status, amount, currency,"
                " source, thrivecart_order_id, thrivecart_item_key, test, payments, created_at,"
                " updated_at) SELECT a.id, t.id, 'paid', 100, 'USD', 'thrivecart', '23370556',"
                " 'product-12', FALSE, 0,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM attendees a, tickets t "
                "WHERE a.email = 'ada.lovelace@example.com' AND t.id = (SELECT ticket_id FROM "
                "ticket_external_ids WHERE key = 'product-12')")

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", same_order_pays_first)
    try:
        answer = post_webhook(client, fixture_bytes("order-success.form")).json
    finally:
        sa_event.remove(engine, "before_cursor_execute", same_order_pays_first)
    [buyer] = attendees(session)
    held = purchases(session)[("ada.lovelace@example.com", "product-12")]
    assert (held.thrivecart_order_id, held.amount) == ("23370556", 100)  # left as paid
    assert answer["outcomes"] == [{
        "event_id": event, "item": "product-12", "outcome": "already_paid",
        "ticket_id": held.ticket_id, "detail": "this order paid it already"}]
    [outcome] = session.scalars(select(models.DeliveryOutcome)).all()
    assert (outcome.attendee_id, outcome.purchase_id) == (buyer.id, None)


def test_a_returning_buyers_outcome_names_the_purchase_they_hold(client, event, session):
    post_webhook(client, fixture_bytes("order-success.form"))
    again = post_webhook(client, fixture_bytes("order-success.form")).json["delivery_id"]
    [outcome] = session.scalars(select(models.DeliveryOutcome).where(
        models.DeliveryOutcome.delivery_id == again)).all()
    [buyer] = attendees(session)
    held = purchases(session)[("ada.lovelace@example.com", "product-12")]
    assert (outcome.outcome, outcome.ticket_id, outcome.attendee_id, outcome.purchase_id,
            outcome.detail) == ("already_paid", held.ticket_id, buyer.id, held.id,
                                "this order paid it already")


def test_an_order_without_an_id_is_named_by_a_dash_when_it_cannot_grant_again(
    client, event, session
):
    payload = load_fixture("order-success.json")
    payload.pop("order_id", None)
    payload["order"].pop("id")
    post_webhook(client, json_body(payload), content_type="application/json")
    held = purchases(session)[("ada.lovelace@example.com", "product-12")]
    assert held.thrivecart_order_id == ""  # one order all the same: one purchase
    held.status = "refunded"  # refunded by hand, say
    session.commit()
    answer = post_webhook(client, json_body(payload), content_type="application/json").json
    assert [(o["outcome"], o["detail"]) for o in answer["outcomes"]] == [(
        "already_refunded", "order — is refunded; a success of the same order never grants "
        "it again")]


def test_a_delivery_failing_at_a_given_moment_records_its_failure_at_that_moment(
    app, event, session, backend
):
    from datetime import UTC, datetime

    from heysummit_tc.services.attempts import Attempt
    from heysummit_tc.services.provisioning import run_delivery

    moment = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    order = read_order(load_fixture("order-success.json"))
    delivery_id = record_only(app, order, [event], now=moment)
    with purchases_refused(session, backend), app.app_context():
        result = run_delivery(Attempt(db.session, delivery_id, order, [event], now=moment))
    assert (result.status, result.http_status) == ("failed", 503)
    session.expire_all()
    delivery = session.get(models.WebhookDelivery, delivery_id)
    assert (delivery.status, delivery.processed_at) == ("failed", moment)
    assert [(o.outcome, o.created_at) for o in delivery.outcomes] == [("failed", moment)]


def test_a_delivery_processed_at_a_given_moment_records_that_moment(app, event, session):
    from datetime import UTC, datetime

    from heysummit_tc.services.attempts import Attempt
    from heysummit_tc.services.provisioning import run_delivery

    moment = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    order = read_order(load_fixture("order-success.json"))
    delivery_id = record_only(app, order, [event], now=moment)
    with app.app_context():
        result = run_delivery(Attempt(db.session, delivery_id, order, [event], now=moment))
    assert result.status == "processed"
    delivery = session.get(models.WebhookDelivery, delivery_id)
    assert (delivery.received_at, delivery.processed_at) == (moment, moment)
    [buyer] = attendees(session)
    held = purchases(session)[(buyer.email, "product-12")]
    assert (buyer.created_at, held.created_at, held.updated_at) == (moment, moment, moment)


def test_each_attempt_is_recorded_with_its_outcomes(client, event, session):
    response = post_webhook(client, fixture_bytes("order-success.form"))
    delivery = session.get(models.WebhookDelivery, response.json["delivery_id"])
    assert (delivery.source, delivery.attempts, delivery.status) == ("webhook", 1, "processed")
    outcomes = session.scalars(select(models.DeliveryOutcome).where(
        models.DeliveryOutcome.delivery_id == response.json["delivery_id"])).all()
    assert [(o.attempt, o.item_key, o.item_name, o.outcome, o.event_id) for o in outcomes] == [
        (1, "product-12", "Growth Summit All-Access & Replays", "paid", event)]
    assert outcomes[0].attendee_id == attendees(session)[0].id
    assert outcomes[0].purchase_id == purchases(session)[
        ("ada.lovelace@example.com", "product-12")].id


def test_an_error_is_described_by_its_kind_and_first_line_within_500_characters():
    from sqlalchemy.exc import OperationalError

    from heysummit_tc.services.provisioning import describe_error

    driver = OperationalError("INSERT ...", {"secret": "x"}, Exception("gone away\nDETAIL: x"))
    assert describe_error(driver) == "database error: gone away"
    silent = OperationalError("INSERT ...", {}, ConnectionResetError())
    assert describe_error(silent) == "database error: ConnectionResetError"
    assert describe_error(ValueError("bad item")) == "ValueError: bad item"
    assert describe_error(ValueError("x" * 600)) == "ValueError: " + "x" * 488


def test_an_item_unlocks_only_the_ticket_with_exactly_its_external_id(
    client, make_event, make_ticket, connect, session
):
    event_id = make_event("Summit")
    make_ticket(event_id, "Product one", "product-1", [("10.00", "USD")])
    connect(event_id)
    answer = post_webhook(client, success(order_id="P12", key="product-12"))
    assert [o["outcome"] for o in answer.json["outcomes"]] == ["unlinked"]
    assert session.scalar(select(func.count()).select_from(TicketPurchase)) == 0
    answer = post_webhook(client, success(order_id="P1", key="product-1"))
    assert [o["outcome"] for o in answer.json["outcomes"]] == ["paid"]


def test_either_mode_or_mode_int_alone_tells_a_test_order_from_a_live_one(
    client, linked_event, session
):
    orders = {"T-1": ("", "1"), "L-1": ("", "2"), "T-2": ("Test", ""), "L-2": ("live", ""),
              "T-3": ("TEST", "2")}
    for order_id, (mode, mode_int) in orders.items():
        payload = load_fixture("order-success.json")
        payload.update(order_id=order_id, mode=mode, mode_int=mode_int)
        payload["customer"]["email"] = f"{order_id.lower()}@example.com"
        assert post_webhook(client, form_body(payload)).status_code == 200
    tests = dict(session.execute(select(Attendee.email, TicketPurchase.test).join(
        TicketPurchase, TicketPurchase.attendee_id == Attendee.id)).all())
    assert tests == {f"{order_id.lower()}@example.com": order_id.startswith("T")
                     for order_id in orders}


def test_a_returning_buyers_new_order_is_a_purchase_of_its_own_for_each_item(
    client, event, make_ticket, session
):
    """The first item is held already through another order: the new order buys it again
    (the buyer paid twice, and the organiser sees both), and the second item too."""
    make_ticket(event, "Workbook", "bump-3", [("9.00", "USD")])
    assert post_webhook(client, success(order_id="FIRST-1")).status_code == 200
    charges = [{"name": name, "reference": reference, "item_type": item_type,
                "item_identifier": f"{item_type}_{reference}", "amount": "900", "type": "single",
                "quantity": "1"} for name, item_type, reference in (
        ("All-Access", "product", "12"), ("Workbook", "bump", "3"))]
    answer = post_webhook(client, success(order_id="SECOND-2", charges=charges))
    assert [(o["item"], o["outcome"]) for o in answer.json["outcomes"]] == [
        ("product-12", "paid"), ("bump-3", "paid")]
    held = session.scalars(select(models.TicketExternalId.key).join(
        models.TicketPurchase,
        models.TicketPurchase.ticket_id == models.TicketExternalId.ticket_id)
        .order_by(models.TicketExternalId.key)).all()
    assert held == ["bump-3", "product-12", "product-12"]
