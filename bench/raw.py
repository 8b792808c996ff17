"""The product's own statements without the app: where the gap to the floor lies.

The floor (``bench/floor.py``) is the least a delivery can do, on a small schema of its own:
one transaction, seven statements, nothing kept but the rows. The product's contract asks
for more before any Python runs: the delivery committed on its own before it is processed
(so that a worker killed mid-way leaves it to replay), the order locked, an outcome row per
item, and the indexes and maintained counts the pages read. This script serves two bare
Flask apps that run the product's own SQL on the product's own database through the driver
(no ORM, no session, no sign-in, no template, no logging):

- ``webhook_app``: a one-item new-buyer delivery as the product's webhook runs it on
  PostgreSQL: the integration looked up and the delivery recorded outside a transaction
  (the record with an asynchronous commit), then one transaction of the order lock, the
  ticket with its prices, the attendee, the purchase and the attempt with its outcome. The
  SQL is the product's (``heysummit_tc/sql/``) as it compiles for psycopg,
  copied; the payload kept is Werkzeug's flat form, not the product's nested one. Before
  measuring, a delivery through each must leave the same rows.
- ``page_app``: each page's statements, captured from one request through the product
  (the signed-in user's lookup included) and run again in one transaction, their rows
  fetched and counted.

It then measures, alternating as ``make bench`` does, the product, these apps and the floor
under wrk, and prints product / raw (what the app's own work costs) and raw / floor (what
the product's schema and guarantees cost before any of it). PostgreSQL only.

    python bench/raw.py [--rounds 3] [--duration 10]
"""

import argparse
import hashlib
import hmac
import os
import pickle
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, request

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"

# The event pages of ``make bench``, and the list of one's events: the least a signed-in page
# does (two statements, a short table).
PAGES = {"events": "/events/", "dashboard": "/events/1/",
         "tickets": "/events/1/revenue/tickets/",
         "attendees": "/events/1/attendees/",
         "thrivecart": "/events/1/setup/integrations/thrivecart/"}

# The product's statements for a one-event, one-item delivery, as they compile for psycopg
# (the expanding IN of the ticket lookup with its one event and one key).
FIND = """SELECT thrivecart_integrations.event_id, thrivecart_integrations.secret_digest
FROM thrivecart_integrations
WHERE thrivecart_integrations.secret_digest = %(digest)s::VARCHAR"""
RECORD = """WITH delivery AS
(INSERT INTO webhook_deliveries (received_at, source, event_type, mode, test,
thrivecart_account, order_id, invoice_id, customer_email, status, attempts, payload) VALUES
(%(received_at)s::TIMESTAMP WITH TIME ZONE, 'webhook', %(event_type)s::VARCHAR,
%(mode)s::VARCHAR, %(test)s, %(account)s::VARCHAR, %(order_id)s::VARCHAR,
%(invoice_id)s::VARCHAR, %(email)s::VARCHAR, 'received', 0, %(payload)s::JSON)
RETURNING webhook_deliveries.id)
INSERT INTO delivery_events (delivery_id, event_id, received_at, attempt, attention)
SELECT delivery.id, addressed.event_id, %(received_at)s::TIMESTAMP WITH TIME ZONE, 0, false
FROM delivery JOIN unnest(%(event_ids)s::INTEGER[]) AS addressed(event_id) ON true
RETURNING delivery_events.delivery_id, set_config('synchronous_commit', 'off', true)"""
ORDER_LOCK = """INSERT INTO thrivecart_orders (event_id, order_id, first_seen_at, last_seen_at,
has_lifecycle_events) VALUES (%(event_id)s::INTEGER, %(order_id)s::VARCHAR,
%(now)s::TIMESTAMP WITH TIME ZONE, %(now)s::TIMESTAMP WITH TIME ZONE, false)
ON CONFLICT (event_id, order_id) DO UPDATE SET last_seen_at = excluded.last_seen_at,
has_lifecycle_events = (thrivecart_orders.has_lifecycle_events
OR excluded.has_lifecycle_events)
RETURNING thrivecart_orders.event_id, thrivecart_orders.has_lifecycle_events"""
LINKED_TICKETS = """SELECT tickets.id, ticket_external_ids.event_id, ticket_external_ids.key,
tickets.active, tickets.on_payment_failed, tickets.on_cancel, events.currency,
ticket_prices.amount, ticket_prices.currency AS currency_1
FROM ticket_external_ids JOIN tickets ON tickets.id = ticket_external_ids.ticket_id
JOIN events ON events.id = ticket_external_ids.event_id
LEFT OUTER JOIN ticket_prices ON ticket_prices.ticket_id = tickets.id
WHERE ticket_external_ids.event_id IN (%(event_id)s::INTEGER)
AND ticket_external_ids.key IN (%(key)s::VARCHAR)"""
ATTENDEE = """INSERT INTO attendees (event_id, email, first_name, last_name, created_at,
updated_at) VALUES (%(event_id)s::INTEGER, %(email)s::VARCHAR, %(first_name)s::VARCHAR,
%(last_name)s::VARCHAR, %(now)s::TIMESTAMP WITH TIME ZONE, %(now)s::TIMESTAMP WITH TIME ZONE)
ON CONFLICT (event_id, email) DO UPDATE SET
first_name = coalesce(nullif(excluded.first_name, ''), attendees.first_name),
last_name = coalesce(nullif(excluded.last_name, ''), attendees.last_name),
updated_at = excluded.updated_at RETURNING attendees.id, attendees.created_at"""
PURCHASE = """INSERT INTO ticket_purchases (attendee_id, ticket_id, status, amount, currency,
charged_amount, charged_currency, source, thrivecart_order_id, thrivecart_item_key, test,
paid_at, refunded_at, access_ends_at, payments, last_payment_at, last_invoice_id, created_at,
updated_at) VALUES (%(attendee_id)s::INTEGER, %(ticket_id)s::INTEGER, 'paid',
%(amount)s::BIGINT, %(currency)s::VARCHAR, %(charged_amount)s::BIGINT,
%(charged_currency)s::VARCHAR, 'thrivecart', %(order_id)s::VARCHAR, %(key)s::VARCHAR,
%(test)s, %(paid_at)s::TIMESTAMP WITH TIME ZONE, NULL, NULL, 0, NULL, NULL,
%(now)s::TIMESTAMP WITH TIME ZONE, %(now)s::TIMESTAMP WITH TIME ZONE)
ON CONFLICT (attendee_id, ticket_id, thrivecart_order_id) DO UPDATE SET status = excluded.status,
amount = excluded.amount, currency = excluded.currency,
charged_amount = excluded.charged_amount, charged_currency = excluded.charged_currency,
source = excluded.source, thrivecart_order_id = excluded.thrivecart_order_id,
thrivecart_item_key = excluded.thrivecart_item_key, test = excluded.test,
paid_at = excluded.paid_at, refunded_at = excluded.refunded_at,
access_ends_at = excluded.access_ends_at, payments = excluded.payments,
last_payment_at = excluded.last_payment_at, last_invoice_id = excluded.last_invoice_id,
updated_at = excluded.updated_at
WHERE ticket_purchases.status = 'pending'
RETURNING ticket_purchases.ticket_id, ticket_purchases.id"""
FINISH = """WITH finished AS
(UPDATE webhook_deliveries SET status='processed', http_status=200, error=NULL,
attempts=(webhook_deliveries.attempts + 1), processed_at=%(now)s::TIMESTAMP WITH TIME ZONE,
processed_by_id=NULL WHERE webhook_deliveries.id = %(delivery_id)s::INTEGER
RETURNING webhook_deliveries.attempts),
marked AS
(UPDATE delivery_events SET attempt=(SELECT finished.attempts FROM finished),
attention=marks.attention
FROM unnest(ARRAY[%(event_id)s]::INTEGER[], ARRAY[false]::BOOLEAN[])
AS marks(event_id, attention)
WHERE delivery_events.delivery_id = %(delivery_id)s::INTEGER
AND delivery_events.event_id = marks.event_id),
recorded AS
(INSERT INTO delivery_outcomes (delivery_id, attempt, event_id, item_key, item_name, outcome,
ticket_id, attendee_id, purchase_id, detail, created_at)
SELECT %(delivery_id)s, finished.attempts, %(event_id)s, %(key)s, %(name)s, 'paid',
%(ticket_id)s, %(attendee_id)s, %(purchase_id)s, NULL, %(now)s FROM finished)
SELECT finished.attempts FROM finished"""


def _connect(url, **options):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                           prepare_threshold=0, **options)


def create_webhook_app(url, key):
    """The product's statements for a one-item new-buyer delivery, through the driver."""
    from psycopg.types.json import Json

    app = Flask(__name__)
    local = threading.local()  # connections per thread, for gunicorn's threaded workers

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/api/webhooks/thrivecart/")
    def thrivecart():
        form = request.form
        if getattr(local, "work", None) is None:
            local.record, local.work = _connect(url, autocommit=True), _connect(url)
        digest = hmac.new(key.encode(), form.get("thrivecart_secret", "").strip().encode(),
                          hashlib.sha256).hexdigest()
        event_ids = [row[0] for row in local.record.execute(FIND, {"digest": digest})]
        if not event_ids:
            return {"status": "rejected"}, 403
        now, order_id = datetime.now(UTC), form["order_id"]
        email = form["customer[email]"].strip().lower()
        delivery_id = local.record.execute(RECORD, {
            "received_at": now, "event_type": form["event"], "mode": form["mode"],
            "test": form["mode"] == "test", "account": form["thrivecart_account"],
            "order_id": order_id, "invoice_id": form["invoice_id"], "email": email,
            "payload": Json({name: value for name, value in form.items()
                             if name != "thrivecart_secret"}),
            "event_ids": event_ids}).fetchone()[0]
        work, event_id = local.work, event_ids[0]
        item_key = (f"{form['order[charges][0][item_type]']}-"
                f"{form['order[charges][0][reference]']}")
        try:
            work.execute(ORDER_LOCK, {"event_id": event_id, "order_id": order_id,
                                      "now": now}).fetchall()
            rows = work.execute(LINKED_TICKETS, {"event_id": event_id, "key": item_key}).fetchall()
            ticket_id = rows[0][0]
            amount, currency = max((row[7], row[8]) for row in rows)
            attendee_id, _created_at = work.execute(ATTENDEE, {
                "event_id": event_id, "email": email,
                "first_name": form["customer[first_name]"],
                "last_name": form["customer[last_name]"], "now": now}).fetchone()
            purchase_id = work.execute(PURCHASE, {
                "attendee_id": attendee_id, "ticket_id": ticket_id, "amount": amount,
                "currency": currency, "charged_amount": int(form["order[total]"]),
                "charged_currency": form["currency"], "order_id": order_id, "key": item_key,
                "test": form["mode"] == "test",
                "paid_at": datetime.fromtimestamp(int(form["order_timestamp"]), UTC),
                "now": now}).fetchone()[1]
            work.execute(FINISH, {
                "now": now, "delivery_id": delivery_id, "event_id": event_id, "key": item_key,
                "name": form["order[charges][0][name]"], "ticket_id": ticket_id,
                "attendee_id": attendee_id, "purchase_id": purchase_id}).fetchone()
            work.commit()
        except BaseException:
            work.rollback()
            raise
        return {"status": "processed", "delivery_id": delivery_id}

    return app


def create_page_app(url, pages):
    """Each page's captured statements, run again in one transaction through the driver."""
    app = Flask(__name__)
    local = threading.local()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/pages/<name>")
    def page(name):
        if getattr(local, "connection", None) is None:
            local.connection = _connect(url)
        rows = sum(len(local.connection.execute(statement, parameters).fetchall())
                   for statement, parameters in pages[name])
        local.connection.commit()
        return {"rows": rows}

    return app


def _from_environment():
    url = os.environ.get("RAW_DATABASE_URL")
    if not url:
        return None, None
    # The file main() wrote a moment before, in this checkout's cache.
    pages = pickle.loads(Path(os.environ["RAW_PAGES"]).read_bytes())  # noqa: S301  # nosec B301
    return create_webhook_app(url, os.environ["SECRET_WORD_KEY"]), create_page_app(url, pages)


webhook_app, page_app = _from_environment()


# -- the measurement --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per webhook run")
    parser.add_argument("--page-duration", type=int, default=5, help="seconds per page run")
    parser.add_argument("--output", help="also write the report (Markdown) to this file")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import run

    url = run.prepare("postgresql", "small")
    floor_url = run.prepare_floor("postgresql")
    marks = run.high_water_marks(url)
    bodies = run.write_bodies()
    pages_file = CACHE / "raw-pages.pickle"
    pages_file.write_bytes(pickle.dumps(capture_pages(url)))
    targets = _targets(run, url, floor_url, pages_file)
    try:
        check_same_rows(run, targets, url, bodies["new1"])
        results = measure(run, targets, bodies["new1"], args)
    finally:
        run.restore(url, marks)
    report = render(results, args, run)
    print(report)
    if args.output:
        Path(args.output).write_text(report)


def capture_pages(url):
    """{page: [(statement, parameters)]} of one signed-in request to each page, as the
    product sends them to the driver (a request after a first one, caches warm)."""
    import profiler
    from sqlalchemy import event

    from heysummit_tc.extensions import db

    app = profiler.product(url)
    client = app.test_client()
    profiler._scenario(client, "dashboard")  # signs in
    sent = []

    def note(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", note)
    pages = {}
    for name, path in PAGES.items():
        client.get(path)
        sent.clear()
        assert client.get(path).status_code == 200, path
        pages[name] = list(sent)
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", note)
        db.engine.dispose()
    return pages


def _targets(run, url, floor_url, pages_file):
    """{name: (start its server, measure the webhook, the request for a page or None, measure
    the baseline)}."""
    import seed

    class Raw(run.Server):
        name = "raw"
        app = "raw:webhook_app"

        def environment(self):
            return {"RAW_DATABASE_URL": url, "RAW_PAGES": str(pages_file),
                    "SECRET_WORD_KEY": seed.SECRET_WORD_KEY}

        def login(self):
            return None

    class RawPages(Raw):
        app = "raw:page_app"

    def signed_in(server, page):
        return PAGES[page], {"Cookie": server.cookie}

    def raw(_server, page):
        return f"/pages/{page}", {}

    return {"product": (lambda: run.Server(url), True, signed_in, True),
            "raw": (lambda: Raw(url), True, None, False),
            "raw pages": (lambda: RawPages(url), False, raw, False),
            "floor": (lambda: run.FloorServer(floor_url), True, None, False)}


def check_same_rows(run, targets, url, body):
    """A delivery through the product and one through the raw app must leave the same rows."""
    from sqlalchemy import create_engine, text

    counts = {}
    for name in ("product", "raw"):
        order = f"raw-check-{name}-{time.time_ns()}"
        with targets[name][0]() as server:
            status, _headers, answer = server.request(
                "POST", "/api/webhooks/thrivecart/",
                body.read_bytes().replace(b"__UNIQUE__", order.encode()),
                {"Content-Type": run.FORM})
        assert status == 200, (name, answer)
        engine = create_engine(url)
        with engine.connect() as connection:
            counts[name] = connection.execute(text(
                "SELECT (SELECT count(*) FROM webhook_deliveries WHERE order_id = :o "
                "AND status = 'processed' AND attempts = 1), "
                "(SELECT count(*) FROM delivery_events e JOIN webhook_deliveries d "
                "ON d.id = e.delivery_id WHERE d.order_id = :o AND e.attempt = 1), "
                "(SELECT count(*) FROM delivery_outcomes o JOIN webhook_deliveries d "
                "ON d.id = o.delivery_id WHERE d.order_id = :o AND o.outcome = 'paid'), "
                "(SELECT count(*) FROM ticket_purchases WHERE thrivecart_order_id = :o "
                "AND status = 'paid' AND amount = 19700), "
                "(SELECT count(*) FROM thrivecart_orders WHERE order_id = :o)"),
                {"o": order}).one()
        engine.dispose()
    assert counts["product"] == counts["raw"] == (1, 1, 1, 1, 1), counts


def measure(run, targets, body, args):
    """{target: {scenario: [wrk result]}}, the targets served in turn, round after round."""
    results = {name: {} for name in targets}
    for round_ in range(args.rounds):
        for name, (start, webhook, page_request, baseline) in targets.items():
            runs = results[name]
            with start() as server:
                if webhook:
                    runs.setdefault("webhook", []).append(run.wrk(
                        server, "POST", "/api/webhooks/thrivecart/", body, 200, True, {},
                        args.duration, 8))
                if baseline:
                    runs.setdefault("baseline", []).append(run.wrk(
                        server, "GET", "/healthz/live", None, 200, False, {},
                        args.page_duration, 8))
                for page in PAGES if page_request else ():
                    path, headers = page_request(server, page)
                    runs.setdefault(page, []).append(run.wrk(
                        server, "GET", path, None, 200, False, headers, args.page_duration, 8))
        print(f"round {round_ + 1} of {args.rounds} done", flush=True)
    return results


def render(results, args, run):
    def mean(target, scenario, key="rps"):
        runs = results[target][scenario]
        return sum(r[key] for r in runs) / len(runs)

    errors = sum(r["errors"] for target in results.values() for runs in target.values()
                 for r in runs)
    product, raw, floor = (mean(t, "webhook") for t in ("product", "raw", "floor"))
    p99 = {t: mean(t, "webhook", "p99_ms") for t in ("product", "raw", "floor")}
    baseline = mean("product", "baseline")
    lines = [
        f"Command: `python bench/raw.py --rounds {args.rounds} --duration {args.duration}`  ",
        f"Machine: {run.machine()}  ",
        f"Means of {args.rounds} alternating rounds (PostgreSQL, small dataset; wrk -t1 -c8); "
        f"unexpected answers: {errors}.",
        "",
        "| webhook: new buyer, 1 item | product | product's statements, raw | floor |",
        "|---|---|---|---|",
        f"| req/s | {product:.0f} | {raw:.0f} | {floor:.0f} |",
        f"| p99 ms | {p99['product']:.1f} | {p99['raw']:.1f} | {p99['floor']:.1f} |",
        f"| / floor (req/s) | {product / floor:.2f} | {raw / floor:.2f} | 1.00 |",
        f"| / the raw statements (req/s) | {product / raw:.2f} | 1.00 | |",
        "",
        f"| page | product req/s | share of the baseline ({baseline:.0f} req/s) | "
        "its statements, raw, req/s | share of the baseline | product / raw |",
        "|---|---|---|---|---|---|",
    ]
    for page in PAGES:
        own, bare = mean("product", page), mean("raw pages", page)
        lines.append(f"| {page} | {own:.0f} | {own / baseline:.1%} | {bare:.0f} | "
                     f"{bare / baseline:.1%} | {own / bare:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
