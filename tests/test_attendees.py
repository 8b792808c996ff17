"""Attendees: the list, one attendee, and the CSV export (exact, and streamed)."""

import csv
import html
import io
import json
import subprocess
import sys

import pytest
from sqlalchemy import String, bindparam, case, insert, select, text, type_coerce
from test_rules import ACCESS, T0

from heysummit_tc.models import (
    Attendee,
    OnPaymentFailed,
    Ticket,
    TicketPurchase,
    utcnow,
)
from heysummit_tc.models.base import UTCDateTime
from heysummit_tc.services.attendees import CSV_HEADER, attendee_csv
from heysummit_tc.services.lifecycle import has_access, has_access_clause
from heysummit_tc.services.money import format_amount

from helpers import (
    fixture_bytes,
    json_body,
    load_fixture,
    numbers,
    post_webhook,
)

# SPEC 2, exactly.
HEADER = ("email,first_name,last_name,country,ticket,external_id,status,access,charged_amount,"
          "charged_currency,refunded_amount,ticket_price,ticket_currency,source,"
          "thrivecart_order_id,test,paid_at,refunded_at,access_ends_at,affiliate,coupon,"
          "utm_source,utm_medium,utm_campaign")


@pytest.fixture
def event(signed_in, make_ticket, connect):
    event_id = signed_in(name="Summit", currency="GBP")
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    make_ticket(event_id, "Main", "product-2", [("97.00", "GBP"), ("197.00", "GBP")])
    make_ticket(event_id, "VIP", "upsell-3", [("147.00", "GBP")])
    connect(event_id)
    return event_id


def refund_product_2():
    payload = load_fixture("order-refund.json")
    payload["order_id"] = "40100017"
    payload["currency"] = "GBP"
    payload["refund"].update(type="product", id="2", amount="9700", currency="GBP")
    return json_body(payload)


def test_csv_header_and_rows_are_exact(client, event, session):
    post_webhook(client, fixture_bytes("order-success.form"))        # test mode, USD
    post_webhook(client, fixture_bytes("order-success-multi.form"))  # live, GBP
    post_webhook(client, refund_product_2())
    session.add(Attendee(event_id=event, email="lonely@example.com", first_name="No",
                         last_name="Purchase"))
    session.commit()
    response = client.get(f"/events/{event}/attendees.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == HEADER == ",".join(CSV_HEADER)
    assert lines[1:] == [
        "ada.lovelace@example.com,Ada,Lovelace,GB,All-Access,product-12,paid,yes,4997.00,USD,"
        "0.00,4997.00,USD,thrivecart,23370556,yes,2023-11-08T23:48:20Z,,,,,,,",
        "katherine.johnson@example.com,Katherine,Johnson,GB,Main,product-2,refunded,no,97.00,GBP,"
        "97.00,197.00,GBP,thrivecart,40100017,no,2026-03-02T14:05:11Z,"
        f"{refunded_at(session, 'product-2')},,,,,,",
        "katherine.johnson@example.com,Katherine,Johnson,GB,VIP,upsell-3,paid,yes,147.00,GBP,"
        "0.00,147.00,GBP,thrivecart,40100017,no,2026-03-02T14:05:11Z,,,,,,,",
        "lonely@example.com,No,Purchase" + "," * 21,
    ]


def test_the_csv_gives_access_exactly_when_the_rule_does(make_event, make_ticket, session):
    """The export works access out in SQL: for every status, cancellation end and policy of
    the rule's table (test_rules), its ``access`` cell says what :func:`has_access` says."""
    event_id = make_event("Summit", "USD")
    tickets = {policy: make_ticket(event_id, policy.value, None, [("97.00", "USD")],
                                   on_payment_failed=policy)
               for policy in OnPaymentFailed}
    for number, (status, ends, policy, _) in enumerate(ACCESS):
        buyer = Attendee(event_id=event_id, email=f"case{number:02}@example.com")
        session.add(buyer)
        session.flush()
        session.add(TicketPurchase(attendee_id=buyer.id, ticket_id=tickets[policy],
                                   status=status, amount=9700, currency="USD",
                                   access_ends_at=ends))
    session.commit()
    rows = list(csv.DictReader(io.StringIO("".join(attendee_csv(session, event_id, now=T0)))))
    # The rule's SQL form on its own (the export's statement is built once, at import).
    in_sql = session.scalars(
        select(case((has_access_clause(type_coerce(TicketPurchase.status, String),
                                       TicketPurchase.access_ends_at,
                                       type_coerce(Ticket.on_payment_failed, String),
                                       bindparam("now", type_=UTCDateTime)), "yes"),
                    else_="no"))
        .join(Ticket).order_by(TicketPurchase.id), {"now": T0}).all()
    assert [row["access"] for row in rows] == in_sql == [
        "yes" if has_access(status, ends, policy, T0) else "no"
        for status, ends, policy, _ in ACCESS]
    assert [row["access"] for row in rows] == [
        "yes" if expected else "no" for *_, expected in ACCESS]


def refunded_at(session, key):
    moment = session.scalar(select(TicketPurchase.refunded_at).join(Ticket).where(
        Ticket.links.any(key=key)))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_csv_neutralises_formulas(client, event, session):
    session.add(Attendee(event_id=event, email="x@example.com", first_name="=HYPERLINK(1)",
                         last_name="+1"))
    session.commit()
    rows = list(csv.reader(io.StringIO(client.get(f"/events/{event}/attendees.csv")
                                       .get_data(as_text=True))))
    assert rows[1][1:3] == ["'=HYPERLINK(1)", "'+1"]


# One currency of each exponent ISO 4217 gives, and one it does not list (written with 2).
CURRENCIES = ("JPY", "USD", "KWD", "CLF", "XTS")
AMOUNTS = (0, 5, 99, 100, 101, 1000, 12345, 2**53 + 1)


def test_csv_amounts_are_written_as_the_pages_write_them_in_every_currency(client, event,
                                                                          session):
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.links.any(key="product-2")))
    now = utcnow()
    cases = [(currency, amount) for currency in CURRENCIES for amount in AMOUNTS]
    attendee_ids = session.execute(insert(Attendee).returning(Attendee.id), [
        {"event_id": event, "email": f"c{number}@example.com", "first_name": "", "last_name": "",
         "created_at": now, "updated_at": now} for number in range(len(cases) + 1)]).scalars()
    rows = []
    for attendee_id, (currency, amount) in zip(attendee_ids, [*cases, ("GBP", 9700)], strict=True):
        # Charged amounts are not held above zero: each is the price negated, in its currency;
        # the last one in no currency.
        charged_currency = currency if amount != 9700 else ""
        rows.append({"attendee_id": attendee_id, "ticket_id": ticket_id, "status": "paid",
                     "amount": amount, "currency": currency, "charged_amount": -amount,
                     "charged_currency": charged_currency, "source": "thrivecart",
                     "test": False, "created_at": now, "updated_at": now})
    session.execute(insert(TicketPurchase), rows)
    session.commit()

    exported = {row["email"]: row for row in csv.DictReader(io.StringIO(
        client.get(f"/events/{event}/attendees.csv").get_data(as_text=True)))}
    for number, (currency, amount) in enumerate(cases):
        row = exported[f"c{number}@example.com"]
        assert (row["ticket_price"], row["ticket_currency"]) == (
            format_amount(amount, currency), currency)
        assert row["charged_amount"] == format_amount(-amount, currency)
    assert {key: exported[f"c{len(cases)}@example.com"][key]
            for key in ("ticket_price", "charged_amount", "charged_currency")} == {
        "ticket_price": "97.00", "charged_amount": "", "charged_currency": ""}
    # Spot checks that the comparison above compares what it should.
    assert format_amount(12345, "KWD") == "12.345" and format_amount(-250, "JPY") == "-250"
    assert format_amount(5, "CLF") == "0.0005" and format_amount(5, "XTS") == "0.05"


def test_an_export_left_half_read_leaves_the_next_requests_whole(client, event, session):
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.links.any(key="product-2")))
    now = utcnow()
    attendee_ids = session.execute(insert(Attendee).returning(Attendee.id), [
        {"event_id": event, "email": f"h{n:05}@example.com", "first_name": "H",
         "last_name": str(n), "created_at": now, "updated_at": now}
        for n in range(5000)]).scalars().all()
    session.execute(insert(TicketPurchase), [
        {"attendee_id": attendee_id, "ticket_id": ticket_id, "status": "paid", "amount": 9700,
         "currency": "GBP", "charged_amount": 9700, "charged_currency": "GBP",
         "source": "thrivecart", "test": False, "created_at": now, "updated_at": now}
        for attendee_id in attendee_ids])
    session.commit()

    # The person downloading goes away after the first chunk.
    response = client.get(f"/events/{event}/attendees.csv", buffered=False)
    first = next(iter(response.response))
    response.close()
    assert first.startswith(HEADER.encode()) and b"h00000@example.com" in first

    assert client.get(f"/events/{event}/attendees/").status_code == 200
    whole = client.get(f"/events/{event}/attendees.csv").get_data(as_text=True)
    assert whole.count("\r\n") == 5001 and "h04999@example.com" in whole


def test_list_shows_purchases_and_searches_by_email(client, event):
    post_webhook(client, fixture_bytes("order-success.form"))
    post_webhook(client, fixture_bytes("order-success-multi.form"))
    page = html.unescape(client.get(f"/events/{event}/attendees/").get_data(as_text=True))
    for shown in ("ada.lovelace@example.com", "katherine.johnson@example.com", "All-Access",
                 "4,997.00\u00a0USD", "23370556", "badge-test", "VIP", "147.00\u00a0GBP"):
        assert shown in page
    found = html.unescape(client.get(f"/events/{event}/attendees/?q=KATHERINE")
                          .get_data(as_text=True))
    assert "katherine.johnson@example.com" in found and "ada.lovelace" not in found
    none = client.get(f"/events/{event}/attendees/?q=%25").get_data(as_text=True)
    assert "No attendee" in none


def test_list_pages_newest_first(client, event, session):
    session.execute(insert(Attendee), [
        {"event_id": event, "email": f"p{n:03}@example.com", "first_name": "", "last_name": "",
         "created_at": utcnow(), "updated_at": utcnow()} for n in range(120)])
    session.commit()
    first = client.get(f"/events/{event}/attendees/").get_data(as_text=True)
    assert "p119@example.com" in first and "p069@example.com" not in first
    older = html.unescape(first.split('href="')[-1].split('"')[0]) if "Older" in first else None
    assert older and "before=" in older
    second = client.get(older).get_data(as_text=True)
    assert "p069@example.com" in second and "p119@example.com" not in second


def test_attendee_page_shows_the_deliveries_that_touched_them(client, event, session):
    first = post_webhook(client, fixture_bytes("order-success.form")).json["delivery_id"]
    second = post_webhook(client, fixture_bytes("order-success.form")).json["delivery_id"]
    other = post_webhook(client, fixture_bytes("order-success-multi.form")).json["delivery_id"]
    person = session.scalar(select(Attendee).where(Attendee.email.like("ada%")))
    page = client.get(f"/events/{event}/attendees/{person.id}/").get_data(as_text=True)
    assert f"Delivery {first}<" in page and f"Delivery {second}<" in page
    assert f"Delivery {other}<" not in page


def test_100k_row_export_streams_in_bounded_memory(client, event, session, database_url):
    rows = 100_000
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.links.any(key="product-2")))
    # Written by the database itself, in two statements (a quarter of a second where 100,000
    # rows sent from here took a minute and more).
    values = {"count": rows, "event": event, "ticket": ticket_id, "now": utcnow()}
    session.execute(text(
        "INSERT INTO attendees (event_id, email, first_name, last_name, created_at, "
        "updated_at) SELECT :event, 'buyer' || n || '@example.com', 'Buyer', '' || n, :now, "
        ":now FROM (" + numbers(session)
        + ") AS numbers"), values)
    session.execute(text(
        "INSERT INTO ticket_purchases (attendee_id, ticket_id, status, amount, currency, "
        "charged_amount, source, thrivecart_order_id, test, paid_at, created_at, updated_at) "
        "SELECT id, :ticket, 'paid', 19700, 'GBP', 9700, 'thrivecart', '' || id, false, :now, "
        ":now, :now FROM attendees WHERE event_id = :event"), values)
    session.commit()

    streamed = measure_export(database_url, event, "stream")
    whole = measure_export(database_url, event, "whole")
    print(f"\nCSV export of {streamed['rows']} rows, {streamed['bytes'] / 1e6:.1f} MB in "
          f"{streamed['chunks']} chunks: peak RSS growth {streamed['growth'] / 1e6:.2f} MB "
          f"streamed, {whole['growth'] / 1e6:.2f} MB when held whole")
    assert streamed["rows"] == rows
    assert streamed["chunks"] > 50  # streamed in pieces, not built whole
    # Bounded by a batch and the database client's page cache, not by the export's size ...
    assert streamed["growth"] < 8_000_000
    # ... and the control shows the measurement does see a whole copy when there is one.
    assert whole["bytes"] == streamed["bytes"] and whole["growth"] > whole["bytes"]
    assert streamed["growth"] < whole["growth"] / 4


# Runs in a fresh interpreter, so that no memory freed earlier in the test run hides growth.
_MEASURE = """
import json, re, sys
from heysummit_tc import create_app
from heysummit_tc.extensions import db
from heysummit_tc.services.attendees import attendee_csv

def status(field):
    text = open("/proc/self/status").read()
    return int(re.search(field + r":\\s+(\\d+) kB", text).group(1)) * 1024

url, event_id, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url,
                  "SECRET_KEY": "x", "SECRET_WORD_KEY": "x"})
with app.app_context():
    chunks = attendee_csv(db.session, event_id)
    first = next(chunks)  # warm up: imports, query compilation, currency data
    open("/proc/self/clear_refs", "w").write("5")
    before = status("VmRSS")
    if mode == "whole":
        chunks = ["".join(chunks)]
    total, count, rows = len(first), 1, first.count("\\n")
    for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        total, count, rows = total + len(data), count + 1, rows + data.count(b"\\n")
    print(json.dumps({"bytes": total, "chunks": count, "rows": rows - 1,
                      "growth": status("VmHWM") - before}))
"""


def measure_export(database_url, event_id, mode):
    """Export the event's CSV in a fresh process; return its size and peak RSS growth."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, database_url, str(event_id), mode],
                            capture_output=True, text=True, check=True, timeout=300)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_csv_refunded_amount_sums_the_items_refunds_in_the_charges_currency(
    client, event, session
):
    post_webhook(client, fixture_bytes("order-success.form"))  # product-12, 4997.00 USD
    for number, (amount, currency) in enumerate(
            [("100000", None), ("50000", "USD"), ("999", "EUR")]):
        payload = load_fixture("order-refund.json")
        payload.pop("currency")
        payload.update(order_id="23370556", event_id=f"R{number}")
        payload["refund"].update(type="product", id="12", amount=amount)
        payload["refund"].pop("currency")
        if currency:
            payload["refund"]["currency"] = currency
        assert post_webhook(client, json_body(payload)).status_code == 200
    [row] = [row for row in csv.DictReader(io.StringIO(client.get(
        f"/events/{event}/attendees.csv").get_data(as_text=True))) if row["ticket"]]
    # A refund naming no currency is taken as the charge's; one in EUR is not added to USD.
    assert (row["charged_amount"], row["refunded_amount"], row["charged_currency"]) == (
        "4997.00", "1500.00", "USD")


def test_a_page_exactly_full_has_no_older_page_and_one_more_has(client, organiser, session):
    for number in range(50):
        session.add(Attendee(event_id=organiser, email=f"a{number:02d}@example.com"))
    session.commit()
    full = html.unescape(client.get(f"/events/{organiser}/attendees/").get_data(as_text=True))
    assert "a00@example.com" in full and ">Older<" not in full
    session.add(Attendee(event_id=organiser, email="a50@example.com"))
    session.commit()
    more = html.unescape(client.get(f"/events/{organiser}/attendees/").get_data(as_text=True))
    assert "a00@example.com" not in more and ">Older<" in more


def test_the_csv_neutralises_every_formula_prefix(client, organiser, session):
    prefixes = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]
    for number, formula in enumerate(prefixes):
        session.add(Attendee(event_id=organiser, email=f"f{number}@example.com",
                             first_name=formula, last_name="Plain"))
    session.commit()
    rows = list(csv.reader(io.StringIO(
        client.get(f"/events/{organiser}/attendees.csv").get_data(as_text=True))))
    first_names = {row[0]: row[1] for row in rows[1:]}
    for number, formula in enumerate(prefixes):
        assert first_names[f"f{number}@example.com"] == "'" + formula
    assert {row[2] for row in rows[1:]} == {"Plain"}
