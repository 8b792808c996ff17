"""The webhook answers exactly SPEC 3's response table, asserted on the database too: for
the bodies ThriveCart sends, and for whatever else arrives (hostile bodies, random bytes and
structures, chunked bodies, bodies at and over the limits), with no error line logged."""

import io
import json
import tracemalloc
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from heysummit_tc.models import (
    Attendee,
    HeldDelivery,
    TicketPurchase,
    WebhookDelivery,
)
from heysummit_tc.thrivecart.order import MAX_ITEMS
from heysummit_tc.thrivecart.payload import PayloadError, parse_payload

from helpers import (
    FIGURES,
    FIXTURE_SECRET,
    fixture_bytes,
    form_body,
    json_body,
    load_fixture,
    post_webhook,
)


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


ALLOWED = {200, 400, 403, 413, 422, 429}
TRIED = Counter()
BUDGET = settings(max_examples=150, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
CONTENT_TYPES = st.sampled_from([
    "application/x-www-form-urlencoded", "application/json", "text/plain",
    "multipart/form-data; boundary=x", "application/octet-stream", "", "text/html; charset=latin-1",
])
scalars = st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none(),
                    st.floats(allow_nan=False))
nested = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=30)


@pytest.fixture(scope="module", autouse=True)
def report_examples():
    """Print how many examples each property tried and what came back."""
    yield
    if TRIED:
        FIGURES.append("hypothesis examples tried (both databases): " + ", ".join(
            f"{name}: {count}" for name, count in sorted(TRIED.items())))


def written(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (Attendee, TicketPurchase, WebhookDelivery))


def hostile_bodies():
    yield b"purchase_map[99999999]=x&thrivecart_secret=guess"
    yield b"a" + b"[b]" * 5000 + b"=1&thrivecart_secret=guess"
    yield b"&".join(b"f%d=1" % n for n in range(10_000)) + b"&thrivecart_secret=guess"
    yield b"[" * 50_000 + b"]" * 50_000
    yield b'{"thrivecart_secret": "guess", "a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    yield b"thrivecart_secret=%FF%FE&event=order.success"
    yield "thrivecart_secret=秘密の言葉-🔑&event=order.success".encode()
    yield b"thrivecart_secret=" + b"A" * 200_000
    yield b"thrivecart_secret[]=a&thrivecart_secret[]=b"
    yield b'{"thrivecart_secret": ["K7Q2M9X4TZ1B"]}'
    yield b'{"thrivecart_secret": {"x": 1}}'
    yield b"\x00\x01\x02thrivecart_secret=K7Q2M9X4TZ1B"


def test_named_hostile_bodies(client, linked_event, session, figures, error_lines):
    statuses = []
    for body in hostile_bodies():
        for content_type in ("application/x-www-form-urlencoded", "application/json"):
            response = post_webhook(client, body, content_type=content_type)
            statuses.append(response.status_code)
            assert response.status_code in ALLOWED, (body[:60], response.status_code)
            assert response.is_json
    figures(f"{len(statuses)} named hostile bodies: statuses {sorted(set(statuses))}, "
            f"{len(error_lines)} ERROR log lines")
    assert written(session) == (0, 0, 0)
    assert error_lines == []


@BUDGET
@given(body=st.binary(max_size=3000), content_type=CONTENT_TYPES)
def test_random_bytes_never_get_a_500_or_write(client, linked_event, session, error_lines,
                                               body, content_type):
    response = post_webhook(client, body, content_type=content_type)
    TRIED[f"random bytes -> {response.status_code}"] += 1
    assert response.status_code in ALLOWED
    assert written(session)[:2] == (0, 0)
    assert error_lines == []


@BUDGET
@given(payload=st.dictionaries(st.text(max_size=20), nested, max_size=8),
       secret=st.one_of(st.text(max_size=300), st.binary(max_size=50).map(
           lambda raw: raw.decode("latin-1"))),
       as_json=st.booleans())
def test_random_structures_with_wrong_secrets_are_refused(client, linked_event, session,
                                                          payload, secret, as_json):
    payload = payload | {"thrivecart_secret": secret}
    body = json_body(payload) if as_json else form_body(_stringify(payload))
    response = post_webhook(client, body)
    TRIED[f"random structures, wrong secret -> {response.status_code}"] += 1
    assert response.status_code in ALLOWED
    if secret.strip() != FIXTURE_SECRET:
        assert written(session) == (0, 0, 0)


@BUDGET
@given(garbage=st.dictionaries(st.sampled_from([
    "customer", "order", "purchase_map", "purchase_map_flat", "event", "mode", "currency",
    "order_id", "refund", "mode_int", "invoice_id", "thrivecart_account"]), nested, max_size=5),
    event=st.sampled_from(["order.success", "order.refund", "x"]))
def test_valid_secret_with_garbage_elsewhere_never_fails_the_server(
    client, linked_event, session, garbage, event
):
    payload = load_fixture("order-success.json") | garbage | {"event": event,
                                                              "thrivecart_secret": FIXTURE_SECRET}
    response = post_webhook(client, json_body(payload), content_type="application/json")
    TRIED[f"valid secret, garbage fields -> {response.status_code}"] += 1
    assert response.status_code in ALLOWED - {403, 429}
    if response.status_code in (200, 422):
        delivery = session.get(WebhookDelivery, response.json["delivery_id"])
        assert delivery is not None and delivery.http_status == response.status_code


# Shapes as ThriveCart (PHP) writes them: a run of list indexes is always a list, never an
# object with "0", "1", ... keys, so numeric keys belong to lists alone. The form bodies are
# encoded by qs-codec, an implementation independent of the decoder under test.
_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                max_size=20)
_keys = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="[]\x00"),
                min_size=1, max_size=10).filter(lambda key: not key.strip().isdigit())
php_shaped = st.recursive(_text, lambda children: st.one_of(
    st.lists(children, min_size=1, max_size=4),
    st.dictionaries(_keys, children, min_size=1, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(payload=st.dictionaries(_keys, php_shaped, max_size=6))
def test_json_and_form_encodings_parse_to_the_same_structure(payload):
    TRIED["JSON/form property examples"] += 1
    assert _parsed(json_body(payload)) == _parsed(form_body(payload))


def _parsed(body):
    """The structure a body parses to, or the fact that it is refused (too deep, say)."""
    try:
        return parse_payload(body)
    except PayloadError:
        return PayloadError


# The shapes the black-box review found answered with 503 or cut and processed: Unicode
# digits in bracket indexes, numbers past Python's integer digit limit, item floods, and
# chunked framing past the size limit.
unicode_digits = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=6)
huge_numbers = st.integers(min_value=4300, max_value=60_000).map(lambda digits: "9" * digits)


@st.composite
def edge_bodies(draw):
    payload = load_fixture("order-success.json")
    secret = draw(st.sampled_from([FIXTURE_SECRET, "null", "WRONGSECRET1"]))
    keys = [f"product-{number}" for number in range(draw(st.integers(0, 400)))]
    fields = [f"{key}={value}" for key, value in (
        ("thrivecart_secret", secret), ("event", "order.success"),
        ("customer[email]", "ada@example.com"), ("order_id", "1"),
        ("purchase_map_flat", ",".join(["product-12", *keys])),
        (f"extra[{draw(unicode_digits)}]", "1"),
        (f"list[0]=a&list[{draw(unicode_digits)}]", "b"),
    )]
    form = "&".join(fields).encode()
    number = draw(huge_numbers)
    as_json = json_body(payload | {"thrivecart_secret": secret}).replace(
        b'"mode_int": "1"', b'"mode_int": ' + number.encode())
    return draw(st.sampled_from([form, as_json]))


@BUDGET
@given(body=edge_bodies(), chunked=st.booleans(),
       padding=st.sampled_from([0, 200 * 1024, 300 * 1024]))
def test_edge_bodies_get_documented_answers_however_framed(client, linked_event, session,
                                                           error_lines, body, chunked, padding):
    if padding and not body.startswith(b"{"):
        body += b"&pad=" + b"x" * padding
    if chunked:
        response = client.post("/api/webhooks/thrivecart/", input_stream=io.BytesIO(body),
                               headers={"Transfer-Encoding": "chunked"},
                               environ_overrides={"wsgi.input_terminated": True})
    else:
        response = post_webhook(client, body)
    TRIED[f"edge bodies ({'chunked' if chunked else 'Content-Length'}) -> "
          f"{response.status_code}"] += 1
    assert response.status_code in ALLOWED, response.get_data(as_text=True)[:200]
    assert response.is_json
    if len(body) > 256 * 1024:
        assert response.status_code == 413
    if response.status_code in (400, 413):
        assert response.json["status"] in ("malformed", "too_large")
    assert error_lines == []


def test_bodies_over_the_limit_are_413(client, app, linked_event, session):
    limit = app.config["MAX_CONTENT_LENGTH"]
    for body in (b"x" * (limit + 1), json.dumps({"pad": "y" * limit}).encode()):
        response = post_webhook(client, body)
        assert response.status_code == 413
    assert written(session) == (0, 0, 0)


def _stringify(value):
    """What a form can carry: every scalar as text."""
    if isinstance(value, dict):
        return {str(key): _stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stringify(item) for item in value]
    return "" if value is None else str(value)


def test_parsing_memory_stays_proportional_to_the_body(figures):
    limit = 256 * 1024
    bodies = {
        "10,000 fields": b"&".join(b"f%d=1" % n for n in range(10_000)),
        "2,000 nested fields": b"&".join(b"a%d[b][c][d][e]=%s" % (n, b"x" * 100)
                                         for n in range(1999)),
        "fields up to the size limit": b"&".join(b"k%d=1" % n for n in range(60_000))[:limit],
        "wide JSON": b"{" + b",".join(b'"k%d":"v"' % n for n in range(1999)) + b"}",
        "deep JSON": b'{"a":' + b"[" * 40_000 + b"]" * 40_000 + b"}",
        "long JSON strings": b'{"a":[' + b",".join([b'"' + b"x" * 2000 + b'"'] * 100) + b"]}",
    }
    report = []
    for name, body in bodies.items():
        tracemalloc.start()
        try:
            parse_payload(body)
            verdict = "parsed"
        except PayloadError:
            verdict = "refused"
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        report.append(f"{name} ({len(body) // 1024} KiB) {verdict}, peak {peak / len(body):.1f}x")
        assert peak < 32 * len(body), name
    figures("; ".join(report))


def order_with(**fields):
    return load_fixture("order-success.json") | fields


# Each case: (name, body, the status SPEC 3 gives it).
CORPUS = [
    # A Unicode digit is a key like any other, not a list index: the secret decides.
    ("a superscript digit as a bracket index", "thrivecart_secret=x&a[²]=1".encode(), 403),
    ("an Arabic-Indic digit as a list index", "thrivecart_secret=x&a[٣]=1".encode(), 403),
    ("a fullwidth digit beside ASCII ones", "thrivecart_secret=x&a[0]=1&a[１]=2".encode(), 403),
    ("a Unicode digit past the list limit", "thrivecart_secret=x&a[٣٣٣٣٣]=1".encode(), 403),
    ("a JSON number of 4,301 digits",
     b'{"thrivecart_secret": "x", "n": ' + b"7" * 4301 + b"}", 403),
    ("a JSON number of 100,000 digits",
     b'{"thrivecart_secret": "x", "n": ' + b"9" * 100_000 + b"}", 403),
    ("a JSON float with a huge exponent", b'{"thrivecart_secret": "x", "n": 1e999999}', 403),
    ("JSON NaN", b'{"thrivecart_secret": "x", "n": NaN}', 400),
    ("JSON -Infinity", b'{"thrivecart_secret": "x", "n": -Infinity}', 400),
    ("thrivecart_secret=null", b"thrivecart_secret=null&event=order.success", 403),
    ("a JSON null secret", b'{"thrivecart_secret": null, "event": "order.success"}', 403),
]


@pytest.mark.parametrize("name, body, status", CORPUS, ids=[case[0] for case in CORPUS])
def test_hostile_corpus_gets_the_documented_answer_and_no_error_line(
    client, linked_event, session, error_lines, name, body, status
):
    for content_type in ("application/x-www-form-urlencoded", "application/json"):
        response = post_webhook(client, body, content_type=content_type)
        assert (response.status_code, response.is_json) == (status, True), name
    assert error_lines == []
    assert written(session) == (0, 0, 0)


def test_a_chunked_body_over_the_limit_is_413_not_cut_and_processed(
    client, app, linked_event, session
):
    limit = app.config["MAX_CONTENT_LENGTH"]
    # A genuine order whose fields run past the limit: cut at the limit it would still parse.
    body = fixture_bytes_padded(limit * 2)
    response = client.post(
        "/api/webhooks/thrivecart/", input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        # How gunicorn hands over a chunked body: no length, and the server ends the stream.
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert written(session) == (0, 0, 0)


def test_a_chunked_body_within_the_limit_is_processed(client, linked_event, session):
    response = client.post(
        "/api/webhooks/thrivecart/", input_stream=io.BytesIO(form_body(order_with())),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.json
    assert written(session) == (1, 1, 1)


def fixture_bytes_padded(size):
    body = form_body(order_with(thrivecart_secret=FIXTURE_SECRET))
    return body + b"&padding=" + b"x" * (size - len(body))


def test_an_order_listing_more_items_than_the_cap_is_refused_before_anything_is_written(
    client, linked_event, session
):
    flood = ",".join(f"product-{number}" for number in range(1, 17_001)).encode()
    body = form_body(order_with(thrivecart_secret=FIXTURE_SECRET)) + b"&purchase_map_flat="
    response = post_webhook(client, body + flood)
    assert response.status_code == 400
    assert f"at most {MAX_ITEMS}" in response.json["error"]
    assert len(response.data) < 500
    assert written(session) == (0, 0, 0)


def test_an_order_at_the_item_cap_is_processed(client, linked_event, session):
    keys = ["product-12", *(f"product-{number}" for number in range(1000, 1000 + MAX_ITEMS - 1))]
    response = post_webhook(client, form_body(order_with(
        thrivecart_secret=FIXTURE_SECRET, purchase_map=["product-12"],
        purchase_map_flat=",".join(keys))))
    assert response.status_code == 200
    assert len(response.json["outcomes"]) == MAX_ITEMS
    assert written(session) == (1, 1, 1)


def test_options_on_the_webhook_answers_json_with_the_allowed_methods(client):
    response = client.open("/api/webhooks/thrivecart/", method="OPTIONS")
    assert (response.status_code, response.is_json) == (200, True)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
