"""Hostile input: whatever arrives, only SPEC 3's statuses come back and nothing is let in."""

import io
import json
import tracemalloc
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from heysummit_tc.models import Attendee, TicketPurchase, WebhookDelivery
from heysummit_tc.thrivecart.payload import PayloadError, parse_payload

from helpers import FIGURES, FIXTURE_SECRET, form_body, json_body, load_fixture, post_webhook

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
