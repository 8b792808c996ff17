"""The webhook answers exactly SPEC 3's response table, asserted on the database too."""

import pytest
from sqlalchemy import func, select

from heysummit_tc.models import Attendee, HeldDelivery, TicketPurchase, WebhookDelivery

from helpers import fixture_bytes, form_body, json_body, load_fixture, post_webhook


def count(session, model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))




@pytest.mark.parametrize("path", ["/api/webhooks/thrivecart/", "/api/webhooks/thrivecart"])
@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_setup_pings_get_200_without_redirect(client, method, path):
    assert client.open(path, method=method).status_code == 200


def test_post_without_trailing_slash_is_served_not_redirected(client, linked_event, session):
    response = post_webhook(client, fixture_bytes("order-success.form"),
                            path="/api/webhooks/thrivecart")
    assert response.status_code == 200
    assert count(session, Attendee) == 1


@pytest.mark.parametrize("body", [b"", b"event=order.success", b"{}", b"thrivecart_secret="])
def test_post_without_secret_is_a_ping_and_writes_nothing(client, session, body):
    response = post_webhook(client, body)
    assert response.status_code == 200 and response.json == {"status": "ping"}
    assert count(session, WebhookDelivery) == 0 and count(session, HeldDelivery) == 0


@pytest.mark.parametrize("secret", ["WRONGWRONG12", "K7Q2M9X4TZ1b", "ÄÖÜ-秘密-🔑", "x" * 5000])
def test_wrong_secret_is_403_and_nothing_is_applied(client, linked_event, session, secret):
    payload = load_fixture("order-success.json") | {"thrivecart_secret": secret}
    response = post_webhook(client, form_body(payload))
    assert response.status_code == 403
    assert "matches no configured ThriveCart integration" in response.json["error"]
    assert count(session, Attendee) == 0 and count(session, WebhookDelivery) == 0
    held = session.scalars(select(HeldDelivery)).one()
    assert "thrivecart_secret" not in held.payload and secret not in str(held.payload)


@pytest.mark.parametrize("event_type", [
    "order.subscription_paused", "order.subscription_resumed", "cart.abandoned",
    "affiliate.commission_earned", "something.new",
])
def test_events_not_acted_on_are_recorded_as_ignored(client, linked_event, session, event_type):
    payload = load_fixture("order-success.json") | {"event": event_type}
    response = post_webhook(client, json_body(payload), content_type="application/json")
    assert response.status_code == 200
    assert response.json["status"] == "ignored"
    delivery = session.get(WebhookDelivery, response.json["delivery_id"])
    assert (delivery.status, delivery.http_status, delivery.event_type) == (
        "ignored", 200, event_type)
    assert [(o.outcome, o.detail) for o in delivery.outcomes] == [
        ("ignored", f"{event_type} is not acted on")]
    assert count(session, Attendee) == 0 and count(session, TicketPurchase) == 0


def test_a_post_that_names_no_event_is_recorded_as_ignored(client, linked_event, session):
    payload = load_fixture("order-success.json")
    del payload["event"]
    response = post_webhook(client, json_body(payload), content_type="application/json")
    assert (response.status_code, response.json["status"]) == (200, "ignored")
    delivery = session.get(WebhookDelivery, response.json["delivery_id"])
    assert (delivery.error, [(o.outcome, o.detail) for o in delivery.outcomes]) == (
        None, [("ignored", "an event without a name is not acted on")])


def test_overlong_fields_are_kept_to_what_their_columns_hold(client, linked_event, session):
    payload = load_fixture("order-success.json") | {
        "event": "order." + "x" * 100, "mode": "test" + "x" * 30,
        "order_id": "1" * 70, "invoice_id": "2" * 70}
    response = post_webhook(client, json_body(payload), content_type="application/json")
    assert response.status_code == 200
    delivery = session.get(WebhookDelivery, response.json["delivery_id"])
    assert (delivery.event_type, delivery.mode, delivery.order_id, delivery.invoice_id) == (
        ("order." + "x" * 100)[:64], ("test" + "x" * 30)[:10], "1" * 40, "2" * 40)


@pytest.mark.parametrize("email", [None, "", "  ", "not an email"])
def test_order_without_usable_email_is_422_and_recorded_failed(client, linked_event, session,
                                                               email):
    payload = load_fixture("order-success.json")
    if email is None:
        del payload["customer"]["email"]
    else:
        payload["customer"]["email"] = email
    response = post_webhook(client, form_body(payload))
    assert response.status_code == 422
    assert "email" in response.json["error"]
    delivery = session.get(WebhookDelivery, response.json["delivery_id"])
    assert (delivery.status, delivery.http_status) == ("failed", 422)
    assert "email" in delivery.error
    assert [(o.outcome, o.detail) for o in delivery.outcomes] == [("failed", delivery.error)]
    assert count(session, Attendee) == 0


def test_processed_order_answers_its_outcomes(client, linked_event, session):
    response = post_webhook(client, fixture_bytes("order-success.form"))
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "processed"
    assert [(o["item"], o["outcome"], o["event_id"]) for o in body["outcomes"]] == [
        ("product-12", "paid", linked_event)]
    delivery = session.get(WebhookDelivery, body["delivery_id"])
    assert (delivery.status, delivery.http_status, delivery.order_id, delivery.test) == (
        "processed", 200, "23370556", True)
    assert "thrivecart_secret" not in delivery.payload
    assert delivery.payload["customer"]["email"] == "ada.lovelace@example.com"


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{bad json", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b"thrivecart_secret=K7Q2M9X4TZ1B&a[b][c][d][e][f][g]=1", "application/x-www-form-urlencoded"),
    (b"thrivecart_secret=K7Q2M9X4TZ1B&name=%FF%FE", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "text/plain"),
    (b"thrivecart_secret[x]=K7Q2M9X4TZ1B", "application/x-www-form-urlencoded"),
])
def test_malformed_bodies_are_400_and_write_nothing(client, linked_event, session, body,
                                                      content_type):
    response = post_webhook(client, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json["status"] == "malformed" and response.json["error"]
    assert count(session, WebhookDelivery) == 0 and count(session, HeldDelivery) == 0


def test_body_over_the_limit_is_413(client, linked_event, session, app):
    body = b"thrivecart_secret=K7Q2M9X4TZ1B&pad=" + b"x" * app.config["MAX_CONTENT_LENGTH"]
    response = post_webhook(client, body)
    assert response.status_code == 413
    assert response.json["status"] == "too_large"
    assert count(session, WebhookDelivery) == 0


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:9/unreachable",
    "sqlite:////nonexistent-directory/heysummit.db",
])
def test_database_unavailable_is_503(make_app, url, backend):
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    response = post_webhook(app.test_client(), fixture_bytes("order-success.form"))
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 503


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_liveness_needs_no_database(make_app, backend):
    app = make_app(SQLALCHEMY_DATABASE_URI="sqlite:////nonexistent-directory/heysummit.db")
    assert app.test_client().get("/healthz/live").status_code == 200


@pytest.mark.parametrize("secret", ["K7Q2M9X4TZ1B", "WRONGWRONG12"], ids=["right", "wrong"])
def test_dates_outside_years_1_to_9999_get_the_documented_answer(
        client, linked_event, session, error_lines, secret):
    payload = load_fixture("order-refund.json") | {"thrivecart_secret": secret}
    payload.pop("date_unix", None)
    payload["date_iso8601"] = "0001-01-01T00:00:00+01:00"
    payload["subscription"] = {"billing_period_end_iso8601": "9999-12-31T23:59:59-01:00"}
    response = post_webhook(client, json_body(payload), content_type="application/json")
    assert response.status_code == (200 if secret == "K7Q2M9X4TZ1B" else 403)
    if secret == "K7Q2M9X4TZ1B":
        assert count(session, WebhookDelivery) == 1 and response.json["status"] == "processed"
    assert error_lines == []


def test_charges_adding_up_past_64_bits_fail_with_422_and_the_reason(
        client, linked_event, session):
    payload = load_fixture("order-success.json") | {"thrivecart_secret": "K7Q2M9X4TZ1B"}
    row = payload["order"]["charges"][0]
    payload["order"]["charges"] = [dict(row, amount=str(10**18)) for _ in range(12)]
    response = post_webhook(client, form_body(payload))
    assert response.status_code == 422
    assert "larger than 9223372036854775807" in response.json["error"]
    assert response.json["outcomes"][0]["outcome"] == "failed"
    session.expire_all()
    delivery = session.scalar(select(WebhookDelivery))
    assert delivery.status == "failed" and delivery.http_status == 422
    assert count(session, TicketPurchase) == 0 and count(session, Attendee) == 0
    # ThriveCart's redelivery gets the same answer, never a 503.
    assert post_webhook(client, form_body(payload)).status_code == 422


def test_a_19_digit_charge_that_fits_64_bits_is_kept(client, linked_event, session):
    payload = load_fixture("order-success.json") | {"thrivecart_secret": "K7Q2M9X4TZ1B"}
    row = payload["order"]["charges"][0]
    payload["order"]["charges"] = [dict(row, amount=str(2**63 - 1))]
    assert post_webhook(client, form_body(payload)).status_code == 200
    session.expire_all()
    purchase = session.scalar(select(TicketPurchase))
    assert purchase.charged_amount == 2**63 - 1
