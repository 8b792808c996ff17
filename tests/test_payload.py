"""Reading what ThriveCart posts: one structure from form or JSON, bounded, and the order in it."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heysummit_tc.thrivecart.items import payload_item_key
from heysummit_tc.thrivecart.order import (
    MAX_AMOUNT,
    charged_amounts,
    item_keys,
    read_buyer,
    read_order,
)
from heysummit_tc.thrivecart.payload import (
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_LIST_INDEX,
    PayloadError,
    parse_payload,
    redact,
)

from helpers import (
    fixture_bytes,
    form_body,
    json_body,
    load_fixture,
)


@pytest.mark.parametrize(("json_name", "form_name"), [
    ("order-success.json", "order-success.form"),
])
def test_form_and_json_fixtures_parse_to_the_same_structure(json_name, form_name):
    assert parse_payload(fixture_bytes(json_name)) == parse_payload(fixture_bytes(form_name))


def test_brackets_may_arrive_literal_or_percent_encoded():
    payload = load_fixture("order-success.json")
    encoded = parse_payload(form_body(payload, encode_brackets=True))
    literal = parse_payload(form_body(payload, encode_brackets=False))
    assert b"%5B" in form_body(payload, encode_brackets=True)
    assert b"[" in form_body(payload, encode_brackets=False)
    assert encoded == literal == parse_payload(json_body(payload))


@pytest.mark.parametrize(("body", "expected"), [
    (b"a[0][0]=x&a[0][1]=y", {"a": [["x", "y"]]}),
    (b"a[]=1&a[]=2", {"a": ["1", "2"]}),
    (b"a[2]=x&a[7]=y", {"a": ["x", "y"]}),
    (b"transactions[product-12]=ch_1&transactions[bump-12]=ch_2",
     {"transactions": {"product-12": "ch_1", "bump-12": "ch_2"}}),
    (b"customer%5Baddress%5D%5Bcity%5D=N1+9GU", {"customer": {"address": {"city": "N1 9GU"}}}),
    (b"0=zero", {"0": "zero"}),
])
def test_bracket_keys_nest_as_php_nests_them(body, expected):
    assert parse_payload(body) == expected


def test_strings_null_true_false_are_coerced_and_ids_stay_strings():
    data = parse_payload(fixture_bytes("order-success.form"))
    assert data["affiliate"] is None
    assert data["customer"]["checkbox_confirmation"] is False
    assert data["order"]["charges"][0]["related_to_recur"] is True
    assert data["customer_id"] == "429583657727489355"
    # A JSON number, should one ever arrive, keeps every digit.
    assert parse_payload(b'{"customer_id": 429583657727489355}')["customer_id"] == \
        "429583657727489355"


@pytest.mark.parametrize(("body", "reason"), [
    (b"a[b][c][d][e][f][g]=1", "form field 'a[b][c][d][e][f][g]' nests deeper than 5 levels"),
    (b"purchase_map[99999999]=x", "form field 'purchase_map[99999999]' has a list index over 100"),
    (b"purchase_map[101]=x", "form field 'purchase_map[101]' has a list index over 100"),
    # Four digits are refused before they are read as a number, leading zeros or not.
    (b"purchase_map[0100]=x", "form field 'purchase_map[0100]' has a list index over 100"),
    (b"&".join(b"f%d=1" % index for index in range(10_000)), "form body has more than 2000 fields"),
    (b'{"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}', "JSON body nests deeper than 5 levels"),
    # Deeper than the JSON decoder itself can go.
    (b"[" * 100_000, "JSON body is nested too deeply"),
    (b'{"a":' * 50_000, "JSON body is nested too deeply"),
    (b'{"purchase_map": [' + b",".join([b'"x"'] * 500) + b"]}",
     "JSON body has a list longer than 101"),
    (b"\xff\xfe=1", "body is not valid UTF-8"),
    (b"name=%FF", "form body has percent-escapes that are not UTF-8"),
    (b"name=%00", "body contains NUL characters"),
    (b'{"name": "\\ud800"}', "body contains text that is not valid Unicode"),
    (b"{not json", "body is not valid JSON (Expecting property name enclosed in double quotes)"),
    (b"[1, 2]", "JSON body must be an object"),
    (b"a=1&a[b]=2", "form field 'a[b]' is both a value and a group"),
    (b"a[b]=1&a=2", "form field 'a' is both a value and a group"),
    (b"a[b=1", "form field name 'a[b' has unbalanced brackets"),
    (b"a]b=1", "form field name 'a]b' has unbalanced brackets"),
    (b"a[b]c=1", "form field name 'a[b]c' has unbalanced brackets"),
])
def test_hostile_bodies_are_refused_with_their_reason(body, reason):
    assert refusal(body) == reason


def refusal(body):
    """Return the reason parse_payload gives for refusing ``body`` (failing if it accepts it)."""
    with pytest.raises(PayloadError) as refused:
        parse_payload(body)
    return str(refused.value)


def test_redact_removes_only_the_secret():
    data = parse_payload(fixture_bytes("order-success.form"))
    redacted = redact(data)
    assert "thrivecart_secret" not in redacted
    assert set(data) - set(redacted) == {"thrivecart_secret"}


def test_items_are_the_union_of_purchase_map_flat_and_charges_without_duplicates():
    payload = {
        "purchase_map": ["product-2", "bump-2"],
        "purchase_map_flat": "product-2, upsell-3 ,downsell-5",
        "order": {"charges": [
            {"item_type": "product", "reference": "2"},
            {"item_identifier": "bump_9"},
            {"item_type": "upsell", "reference": "3"},
        ]},
    }
    assert item_keys(payload) == ["product-2", "bump-2", "upsell-3", "downsell-5", "bump-9"]


def test_item_keys_are_matched_exactly_not_by_prefix():
    assert item_keys({"purchase_map": ["product-12"]}) == ["product-12"]
    assert "product-1" not in item_keys({"purchase_map_flat": "product-12,product-123"})


def test_old_payloads_without_item_type_still_list_their_items():
    payload = {"purchase_map": {"0": "product-7"},
               "order": {"charges": [{"reference": "7", "amount": "5900", "type": "single"}]}}
    assert item_keys(payload) == ["product-7"]


def test_charged_amount_counts_single_rows_only():
    order = {"charges": [
        {"item_type": "product", "reference": "12", "amount": "499700", "type": "single"},
        {"item_type": "product", "reference": "12", "amount": "499700", "type": "recurring"},
        {"item_type": "bump", "reference": "12", "amount": "1900", "type": "single"},
    ]}
    assert charged_amounts(order, "") == {"product-12": 499700, "bump-12": 1900}


@pytest.mark.parametrize(("customer", "expected"), [
    ({"email": " Ada@Example.COM ", "first_name": "Ada", "last_name": "Lovelace"},
     ("ada@example.com", "Ada", "Lovelace")),
    ({"email": "a@example.com", "firstname": "Old", "lastname": "Style"},
     ("a@example.com", "Old", "Style")),
    ({"email": "a@example.com", "name": "Grace Brewster Hopper"},
     ("a@example.com", "Grace", "Brewster Hopper")),
    ({"email": "a@example.com", "name": " ", "first_name": "", "last_name": ""},
     ("a@example.com", "", "")),
    ({"email": "a@example.com", "first_name": "Ren&eacute;e", "last_name": "O&#39;Brien &amp; Co"},
     ("a@example.com", "Renée", "O'Brien & Co")),
])
def test_buyer_names_follow_the_rules(customer, expected):
    buyer = read_buyer(customer)
    assert (buyer.email, buyer.first_name, buyer.last_name) == expected


@pytest.mark.parametrize(("email", "problem"), [
    (None, "the order has no customer email"),
    ("   ", "the order has no customer email"),
    (["a@example.com"], "the order has no customer email"),
    ("not-an-email",
     "customer email is not an email address: An email address must have an @-sign."),
    ("a@b", "customer email is not an email address: The part after the @-sign is not valid. "
            "It should have a period."),
])
def test_unusable_emails_are_a_problem_with_a_reason(email, problem):
    buyer = read_buyer({"email": email, "first_name": "Ada"})
    assert (buyer.email, buyer.problem, buyer.first_name) == (None, problem, "Ada")


def test_names_are_kept_to_200_characters():
    buyer = read_buyer({"email": "a@example.com", "first_name": "F" * 300, "last_name": "L" * 300})
    assert (buyer.first_name, buyer.last_name) == ("F" * 200, "L" * 200)
    buyer = read_buyer({"email": "a@example.com", "name": "F" * 300 + " " + "L" * 300})
    assert (buyer.first_name, buyer.last_name) == ("F" * 200, "L" * 200)


def test_read_order_from_the_fixture():
    order = read_order(parse_payload(fixture_bytes("order-success.form")))
    assert order.event_type == "order.success"
    assert order.test is True and order.mode == "test"
    assert order.order_id == "23370556" and order.currency == "USD"
    assert order.item_keys == ["product-12"]
    assert order.charged == {"product-12": 499700}
    assert order.paid_at.isoformat() == "2023-11-08T23:48:20+00:00"


def test_read_refund_from_the_fixture():
    order = read_order(parse_payload(fixture_bytes("order-refund.json")))
    lifecycle = order.lifecycle
    assert (order.event_type, order.order_id, order.test) == ("order.refund", "38033257", False)
    assert (lifecycle.kind, lifecycle.item_key, lifecycle.amount, lifecycle.currency) == (
        "refund", "product-7", 5900, "USD")
    assert lifecycle.identity == "event:1325564304"
    assert lifecycle.occurred_at.isoformat() == "2025-10-24T17:57:27+00:00"


def _without(payload, *paths):
    for path in paths:
        *parents, name = path.split(".")
        holder = payload
        for parent in parents:
            holder = holder[parent]
        holder.pop(name)
    return payload


@pytest.mark.parametrize(("removed", "expected"), [
    # The top-level fields first; ThriveCart repeats them inside "order", read when they are not.
    ((), ("23370556", "000001382", "2023-11-08T23:48:20+00:00")),
    (("order_id",), ("23370556", "000001382", "2023-11-08T23:48:20+00:00")),
    (("order_id", "order.id"), (None, "000001382", "2023-11-08T23:48:20+00:00")),
    (("invoice_id",), ("23370556", "000001382", "2023-11-08T23:48:20+00:00")),
    (("invoice_id", "order.invoice_id"), ("23370556", None, "2023-11-08T23:48:20+00:00")),
    # The order's own time first, the envelope's otherwise.
    (("order.date_unix",), ("23370556", "000001382", "2023-11-08T23:48:21+00:00")),
    (("order.date_unix", "order_timestamp"), ("23370556", "000001382", None)),
])
def test_an_orders_ids_and_time_come_from_wherever_thrivecart_put_them(removed, expected):
    payload = load_fixture("order-success.json")
    payload["order_id"], payload["invoice_id"] = "23370556", "000001382"
    payload["order"].update(id="23370556", invoice_id="000001382")
    payload["order_timestamp"] = "1699487301"  # a second after the order's own time
    order = read_order(_without(payload, *removed))
    assert (order.order_id, order.invoice_id,
            order.paid_at and order.paid_at.isoformat()) == expected


def _identity(payload):
    return read_order(payload).lifecycle.identity


def test_an_event_without_an_id_is_known_by_what_it_says():
    """Redelivered, it is the same event; any field that tells two events apart keeps them
    apart, however the body orders its keys."""
    base = load_fixture("order-refund.json")
    base.pop("event_id")
    base["recurring_payment_idx"] = "1"
    same = json.loads(json.dumps(base))
    same["refund"] = dict(reversed(list(same["refund"].items())))  # another key order
    assert _identity(same) == _identity(base)
    for field, value in (("event", "order.subscription_payment"), ("date", "2025-10-25"),
                         ("date_unix", "1761328648"), ("invoice_id", "000000006"),
                         ("recurring_payment_idx", "2")):
        other = json.loads(json.dumps(base)) | {field: value}
        assert _identity(other) != _identity(base), field
    other = json.loads(json.dumps(base))
    other["refund"]["amount"] = "100"
    assert _identity(other) != _identity(base)


def test_an_events_id_invoice_and_time_are_kept_as_sent_within_their_columns():
    payload = load_fixture("order-refund.json") | {
        "event_id": "9" * 100, "invoice_id": "7" * 50,
        "date_iso8601": "2020-01-01T00:00:00+00:00"}  # date_unix says otherwise, and wins
    lifecycle = read_order(payload).lifecycle
    assert (lifecycle.identity, lifecycle.invoice_id) == (("event:" + "9" * 100)[:64], "7" * 40)
    assert lifecycle.occurred_at.isoformat() == "2025-10-24T17:57:27+00:00"


def test_item_names_come_from_the_charge_rows_then_from_the_purchase_list():
    payload = load_fixture("order-success.json")
    payload["order"]["charges"] = [
        {"item_type": "product", "reference": "12", "name": "From the charge"},
        {"item_type": "upsell", "reference": "4", "name": "u" * 300}]
    payload.update(purchase_map=["product-12", "bump-12", "upsell-3", "", "bump-9"],
                   purchases=["From the list", "Workbook &amp; notes", "", "Nameless",
                              "x" * 300])
    assert read_order(payload).item_names == {
        "product-12": "From the charge", "upsell-4": "u" * 200, "bump-12": "Workbook & notes",
        "bump-9": "x" * 200}


def test_older_charge_rows_are_named_through_the_base_product():
    payload = load_fixture("order-refund.json") | {"event": "order.success", "base_product": "7"}
    payload["order"]["charges"] = [{"reference": "7", "name": "Founders Summit Ticket"},
                                   {"reference": "8", "name": "Not the base product"}]
    assert read_order(payload).item_names == {"product-7": "Founders Summit Ticket"}


def test_the_account_name_is_kept_to_100_characters_and_events_default_to_the_currency():
    payload = load_fixture("order-refund.json") | {"thrivecart_account": "a" * 150,
                                                    "currency": "GBP"}
    payload["refund"].pop("currency")
    order = read_order(payload)
    assert order.account == "a" * 100
    assert (order.lifecycle.amount, order.lifecycle.currency) == (5900, "GBP")


@pytest.mark.parametrize(("given", "expected"), [
    ("2025-10-24T19:57:27+02:00", "2025-10-24T17:57:27+00:00"),  # an offset: the same instant
    (" 2025-10-24T17:57:27 ", "2025-10-24T17:57:27+00:00"),  # no offset: taken as UTC
    ("24/10/2025", None),  # not ISO 8601: no time rather than a wrong one
])
def test_lifecycle_times_without_unix_stamps_come_from_iso_dates_in_utc(given, expected):
    payload = load_fixture("order-refund.json")
    payload.pop("date_unix", None)
    payload["date_iso8601"] = given
    payload["refund"]["billing_period_end_iso8601"] = given
    lifecycle = read_order(payload).lifecycle
    for moment in (lifecycle.occurred_at, lifecycle.billing_period_end):
        assert (moment.isoformat() if moment else None) == expected


@pytest.mark.parametrize("given", [
    "0001-01-01T00:00:00+01:00",  # year 0 once in UTC
    "9999-12-31T23:59:59-01:00",  # year 10000 once in UTC
    "0001-01-01T00:00:00+23:59",
])
def test_iso_dates_outside_years_1_to_9999_in_utc_are_no_time(given):
    payload = load_fixture("order-refund.json")
    payload.pop("date_unix", None)
    payload["date_iso8601"] = given
    payload["refund"]["billing_period_end_iso8601"] = given
    lifecycle = read_order(payload).lifecycle
    assert lifecycle.occurred_at is None and lifecycle.billing_period_end is None


# Every field the reader of orders reads, by its path in the parsed payload.
READ_FIELDS = [
    ("event",), ("mode",), ("mode_int",), ("thrivecart_account",), ("order_id",),
    ("invoice_id",), ("currency",), ("base_product",), ("purchase_map",),
    ("purchase_map_flat",), ("purchases",), ("order_timestamp",), ("event_id",), ("date",),
    ("date_unix",), ("date_iso8601",), ("recurring_payment_idx",), ("customer",),
    ("customer", "email"), ("customer", "first_name"), ("customer", "firstname"),
    ("customer", "last_name"), ("customer", "lastname"), ("customer", "name"), ("order",),
    ("order", "id"), ("order", "invoice_id"), ("order", "date_unix"), ("order", "charges"),
    ("order", "charges", 0), ("order", "charges", 0, "item_type"),
    ("order", "charges", 0, "reference"), ("order", "charges", 0, "item_identifier"),
    ("order", "charges", 0, "amount"), ("order", "charges", 0, "type"),
    ("order", "charges", 0, "name"), ("refund",), ("refund", "type"), ("refund", "id"),
    ("refund", "amount"), ("refund", "currency"), ("subscription",), ("subscription", "type"),
    ("subscription", "id"), ("subscription", "product_id"), ("subscription", "amount"),
    ("subscription", "currency"), ("subscription", "billing_period_end"),
    ("subscription", "billing_period_end_iso8601"),
]
EVENTS = ["order.success", "order.refund", "order.rebill_failed", "order.subscription_payment",
          "order.subscription_cancelled", "customer.updated", "affiliate.commission_earned"]
# What the parser can hand over: text, None/True/False, lists and mappings of them.
_scalars = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A[0-9]{1,45}\Z"),  # digits of any length, 64 bits and past
    st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]{1,5})?\Z"),
    st.builds(lambda year, offset: f"{year:04d}-01-01T00:00:00{offset}",
              st.sampled_from([1, 2, 1970, 9998, 9999]),
              st.sampled_from(["+01:00", "-01:00", "+23:59", "Z", "", "+99:00"])),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "null", "ÿ",
                     "٥٩٠٠", "²³", "\x00", "product-12", "product_12", "bump-", "-1", "1e400"]),
    st.none(), st.booleans(),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def _planted(payload, path, value):
    """Put ``value`` at ``path``, making the containers on the way where something else stands."""
    target = payload
    for step, following in zip(path, path[1:], strict=False):
        child = target[step] if isinstance(target, list) else target.get(step)
        if isinstance(following, int):
            if not isinstance(child, list) or not child:
                child = [{}]
        elif not isinstance(child, dict):
            child = {}
        target[step] = child
        target = child
    target[path[-1]] = value


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(fixture=st.sampled_from(["order-success.json", "order-refund.json"]),
       event=st.sampled_from(EVENTS),
       planted=st.lists(st.tuples(st.sampled_from(READ_FIELDS), _values), min_size=1,
                        max_size=6))
def test_whatever_a_read_field_holds_the_reader_gives_a_value_or_a_clear_rejection(
        fixture, event, planted):
    payload = load_fixture(fixture)
    payload["event"] = event
    for path, value in planted:
        _planted(payload, path, value)
    order = read_order(payload)  # never raises
    assert isinstance(order.item_keys, list) and len(order.item_keys) == len(set(order.item_keys))
    assert all(0 <= amount <= MAX_AMOUNT for amount in order.charged.values())
    assert order.problem is None or isinstance(order.problem, str)
    assert order.buyer.email is not None or order.buyer.problem
    for moment in (order.paid_at, *(order.lifecycle and (order.lifecycle.occurred_at,
                                                         order.lifecycle.billing_period_end)
                                    or ())):
        assert moment is None or moment.utcoffset().total_seconds() == 0
    json.dumps(order.payload)  # what is stored is JSON


def test_odd_shapes_never_raise():
    order = read_order({"event": ["x"], "customer": "nope", "order": {"charges": "x"},
                        "purchase_map": 5, "refund": {"type": None}})
    assert order.item_keys == [] and order.buyer.email is None


def _nested(levels):
    data = "x"
    for _ in range(levels):
        data = {"a": data}
    return data


@pytest.mark.parametrize(("data", "error"), [
    (_nested(MAX_DEPTH + 1), None),  # containers at depths 0 to MAX_DEPTH
    (_nested(MAX_DEPTH + 2), f"JSON body nests deeper than {MAX_DEPTH} levels"),
    ({"a": ["x"] * (MAX_LIST_INDEX + 1)}, None),
    ({"a": ["x"] * (MAX_LIST_INDEX + 2)}, f"JSON body has a list longer than "
                                          f"{MAX_LIST_INDEX + 1}"),
    ({f"f{n}": "x" for n in range(MAX_FIELDS)}, None),
    ({f"f{n}": "x" for n in range(MAX_FIELDS + 1)}, f"JSON body has more than {MAX_FIELDS} "
                                                    "fields"),
])
def test_json_bodies_are_held_to_the_form_limits_exactly(data, error):
    body = json.dumps(data).encode()
    if error is None:
        parse_payload(body)
    else:
        assert refusal(body) == error


def test_json_numbers_keep_their_digits_and_constants_are_refused_by_name():
    assert parse_payload(b'{"amount": 49.70, "id": 12345678901234567890}') == {
        "amount": "49.70", "id": "12345678901234567890"}
    assert refusal(b'{"amount": NaN}') == "body is not valid JSON (NaN is not a number)"


def test_iso_dates_are_read_the_same_whatever_the_servers_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        test_lifecycle_times_without_unix_stamps_come_from_iso_dates_in_utc(
            "2025-10-24T19:57:27+02:00", "2025-10-24T17:57:27+00:00")
        test_lifecycle_times_without_unix_stamps_come_from_iso_dates_in_utc(
            "2025-10-24T17:57:27", "2025-10-24T17:57:27+00:00")
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(("body", "expected"), [
    # Five levels of brackets are kept whole; a sixth is refused (above).
    (b"a[b][c][d][e][f]=1", {"a": {"b": {"c": {"d": {"e": {"f": "1"}}}}}}),
    # 100 is the highest list index kept; 101 is refused (below).
    (b"purchase_map[100]=product-2", {"purchase_map": ["product-2"]}),
    # Past index 9, a list keeps the order of its numbers, not of their digits as text.
    (b"a[10]=k&a[9]=j&a[2]=c&a[1]=b&a[0]=a", {"a": ["a", "b", "c", "j", "k"]}),
])
def test_form_bodies_are_kept_up_to_their_limits_exactly(body, expected):
    assert parse_payload(body) == expected


@pytest.mark.parametrize("field", [b"a[]", b"a[][b]"])
def test_appending_brackets_fill_a_list_up_to_the_highest_index_and_no_further(field):
    """``[]`` appends at the next index: index 100 (the 101st value) is kept, 101 refused."""
    kept = parse_payload(b"&".join([field + b"=x"] * (MAX_LIST_INDEX + 1)))
    assert len(kept["a"]) == MAX_LIST_INDEX + 1
    assert refusal(b"&".join([field + b"=x"] * (MAX_LIST_INDEX + 2))) == (
        f"form field {field.decode()!r} has a list index over {MAX_LIST_INDEX}")


LONG_NAME = "customer_" + "x" * 50  # 59 characters; a refusal quotes the first 40


@pytest.mark.parametrize(("body", "reason"), [
    (f"{LONG_NAME}[b=1", "form field name {!r} has unbalanced brackets"),
    (f"{LONG_NAME}[b][c][d][e][f][g]=1", "form field {!r} nests deeper than 5 levels"),
    (f"{LONG_NAME}[999]=1", "form field {!r} has a list index over 100"),
    ("&".join([f"{LONG_NAME}[]=1"] * 102), "form field {!r} has a list index over 100"),
    (f"{LONG_NAME}=1&{LONG_NAME}[b]=2", "form field {!r} is both a value and a group"),
    (f"{LONG_NAME}[b]=1&{LONG_NAME}=2", "form field {!r} is both a value and a group"),
])
def test_a_refusal_quotes_the_first_40_characters_of_a_field_name(body, reason):
    assert refusal(body.encode()) == reason.format(LONG_NAME[:40])


def test_json_true_false_and_null_are_values_as_their_form_spellings_are():
    assert parse_payload(b'{"a": true, "b": false, "c": null, "d": [true, "false", "null"]}') \
        == {"a": True, "b": False, "c": None, "d": [True, False, None]}


def test_older_charge_rows_list_the_base_product_and_no_other_row():
    payload = {"base_product": "7", "purchase_map_flat": "bump-7",
               "order": {"charges": [{"reference": "8"}, {"reference": "7"}, {}]}}
    assert item_keys(payload) == ["bump-7", "product-7"]
    assert item_keys(payload | {"base_product": ""}) == ["bump-7"]


def test_charged_amounts_add_up_per_item_from_rows_with_a_single_or_no_type():
    order = {"charges": [
        {"item_type": "product", "reference": "12", "amount": "4000", "type": "single"},
        {"item_type": "product", "reference": "12", "amount": " 997 "},  # older rows: no type
        {"item_type": "product", "reference": "12", "amount": "4997", "type": "recurring"},
        {"item_type": "bump", "reference": "12", "amount": "19.00", "type": "single"},
        {"item_type": "upsell", "reference": "3", "type": "single"},
        {"amount": "500", "type": "single"},  # names no item
        {"reference": "7", "amount": "5900"},  # the base product's row
    ]}
    assert charged_amounts(order, "7") == {"product-12": 4997, "product-7": 5900}


@pytest.mark.parametrize(("amount", "expected", "problem"), [
    ("5900", 5900, False), (" 5900 ", 5900, False), ("0", 0, False),
    ("9" * 18, int("9" * 18), False),
    (str(MAX_AMOUNT), MAX_AMOUNT, False),  # 19 digits that fit 64 bits are kept
    (str(MAX_AMOUNT + 1), MAX_AMOUNT + 1, True),  # one more cannot be stored: said why
    ("9" * 4000, 10**40, True),  # never converted digit by digit
    ("59.00", None, False), ("-5900", None, False), ("٥٩٠٠", None, False), ("", None, False),
])
def test_amounts_are_whole_minor_units_and_those_past_64_bits_are_a_problem(
        amount, expected, problem):
    payload = load_fixture("order-refund.json")
    payload["refund"]["amount"] = amount
    order = read_order(payload)
    assert order.lifecycle.amount == expected
    assert (order.problem is not None) == problem
    if problem:
        assert "refund amount" in order.problem and str(MAX_AMOUNT) in order.problem


def test_charge_rows_adding_up_past_64_bits_are_a_problem_and_each_fitting_sum_is_kept():
    payload = load_fixture("order-success.json")
    row = payload["order"]["charges"][0]
    payload["order"]["charges"] = [dict(row, amount=str(10**18)) for _ in range(12)]
    order = read_order(payload)
    key = payload_item_key(f"{row['item_type']}-{row['reference']}")
    assert key not in order.charged
    assert order.problem.startswith(f"the amount charged for {key} ")
    payload["order"]["charges"] = [dict(row, amount=str(MAX_AMOUNT))]
    fitting = read_order(payload)
    assert fitting.charged[key] == MAX_AMOUNT and fitting.problem is None


@pytest.mark.parametrize(("currency", "expected"), [
    ("usd", "USD"), (" GBP ", "GBP"), ("US1", None), ("USDX", None), ("US", None), ("", None),
])
def test_a_currency_is_three_letters_in_capitals(currency, expected):
    payload = load_fixture("order-success.json") | {"currency": currency}
    assert read_order(payload).currency == expected


def test_a_json_body_may_start_with_white_space_and_stays_json():
    assert parse_payload(b'\r\n  {"event": "order.success", "order": {"charges": []}}') == {
        "event": "order.success", "order": {"charges": []}}


def test_unicode_digits_in_brackets_are_keys_not_list_indexes():
    assert parse_payload("a[²]=1&b[0]=x&b[１]=y".encode()) == {
        "a": {"²": "1"}, "b": {"0": "x", "１": "y"}}


def test_a_long_json_number_is_kept_as_its_digits():
    digits = "12345678901234567890" * 300
    assert parse_payload(f'{{"customer_id": {digits}}}'.encode()) == {"customer_id": digits}
