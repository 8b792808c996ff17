"""The floor: the least work a ThriveCart delivery can do on this stack.

A bare Flask app on its own small schema that does what the product's webhook must do and
nothing else: Werkzeug parses the form, and one transaction runs raw SQL through the driver
(look up the integration by the secret's digest, record the delivery, and per item: look the
ticket up, upsert the attendee, take the ticket's highest price, upsert the purchase; then mark
the delivery processed). A refund marks the order's purchases refunded instead. No ORM, no
logging, no middleware, no rate limit, no outcome rows. ``make bench`` serves it with gunicorn
beside the product and divides the product's throughput by the floor's.

    FLOOR_DATABASE_URL=postgresql://postgres@127.0.0.1/test_floor gunicorn bench.floor:app
"""

import hashlib
import os
import sqlite3
import threading
from datetime import UTC, datetime

from flask import Flask, request

SECRET = "K7Q2M9X4TZ1B"
TICKETS = {"product-12": 19700, "product-2": 19700, "bump-2": 19700, "upsell-3": 19700,
           "downsell-5": 19700}

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_integrations (
    event_id integer PRIMARY KEY, secret_digest varchar(64) NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS floor_deliveries (
    id {serial} PRIMARY KEY, event_id integer, order_id varchar(64), event_type varchar(64),
    status varchar(16) NOT NULL, received_at timestamp NOT NULL, body text NOT NULL);
CREATE TABLE IF NOT EXISTS floor_tickets (
    id {serial} PRIMARY KEY, event_id integer NOT NULL, external_id varchar(64) NOT NULL,
    UNIQUE (event_id, external_id));
CREATE TABLE IF NOT EXISTS floor_ticket_prices (
    id {serial} PRIMARY KEY, ticket_id integer NOT NULL, amount integer NOT NULL);
CREATE INDEX IF NOT EXISTS ix_floor_ticket_prices_ticket_id ON floor_ticket_prices (ticket_id);
CREATE TABLE IF NOT EXISTS floor_attendees (
    id {serial} PRIMARY KEY, event_id integer NOT NULL, email varchar(254) NOT NULL,
    first_name varchar(100), last_name varchar(100), UNIQUE (event_id, email));
CREATE TABLE IF NOT EXISTS floor_purchases (
    id {serial} PRIMARY KEY, attendee_id integer NOT NULL, ticket_id integer NOT NULL,
    order_id varchar(64), amount integer NOT NULL, status varchar(16) NOT NULL,
    UNIQUE (attendee_id, ticket_id));
CREATE INDEX IF NOT EXISTS ix_floor_purchases_order_id ON floor_purchases (order_id);
"""

UPSERT_ATTENDEE = """
INSERT INTO floor_attendees (event_id, email, first_name, last_name) VALUES ({p}, {p}, {p}, {p})
ON CONFLICT (event_id, email) DO UPDATE SET first_name = excluded.first_name,
    last_name = excluded.last_name
RETURNING id"""
UPSERT_PURCHASE = """
INSERT INTO floor_purchases (attendee_id, ticket_id, order_id, amount, status)
VALUES ({p}, {p}, {p}, {p}, 'paid')
ON CONFLICT (attendee_id, ticket_id) DO UPDATE SET status = 'paid',
    order_id = excluded.order_id, amount = excluded.amount
    WHERE floor_purchases.status <> 'paid'"""


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def connect(url):
    """A driver connection and its parameter marker."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30,
                                     isolation_level=None)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection, "?"
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")), "%s"


def create_schema(url):
    """Create the floor's tables and its one event with four tickets (idempotent)."""
    connection, p = connect(url)
    serial = "integer" if p == "?" else "serial"
    with connection:
        cursor = connection.cursor()
        for statement in SCHEMA.format(serial=serial).split(";"):
            if statement.strip():
                cursor.execute(statement)
        cursor.execute(f"INSERT INTO floor_integrations VALUES (1, {p}) ON CONFLICT DO NOTHING",
                       (digest(SECRET),))
        for external_id, amount in TICKETS.items():
            cursor.execute(f"SELECT 1 FROM floor_tickets WHERE external_id = {p}", (external_id,))
            if cursor.fetchone() is None:
                cursor.execute(f"INSERT INTO floor_tickets (event_id, external_id) "
                               f"VALUES (1, {p}) RETURNING id", (external_id,))
                ticket_id = cursor.fetchone()[0]
                cursor.executemany(
                    f"INSERT INTO floor_ticket_prices (ticket_id, amount) VALUES ({p}, {p})",
                    [(ticket_id, amount), (ticket_id, amount // 2)])
    connection.close()


def create_app(url):
    app = Flask(__name__)
    local = threading.local()  # a connection per thread, for gunicorn's threaded workers
    p = "?" if url.startswith("sqlite") else "%s"
    sqlite = p == "?"
    integration_sql = f"SELECT event_id FROM floor_integrations WHERE secret_digest = {p}"
    delivery_sql = (f"INSERT INTO floor_deliveries (event_id, order_id, event_type, status, "
                    f"received_at, body) VALUES ({p}, {p}, {p}, 'received', {p}, {p}) "
                    "RETURNING id")
    ticket_sql = f"SELECT id FROM floor_tickets WHERE event_id = {p} AND external_id = {p}"
    price_sql = f"SELECT max(amount) FROM floor_ticket_prices WHERE ticket_id = {p}"
    attendee_sql = UPSERT_ATTENDEE.format(p=p)
    purchase_sql = UPSERT_PURCHASE.format(p=p)
    refund_sql = (f"UPDATE floor_purchases SET status = 'refunded' WHERE order_id = {p} "
                  "AND status = 'paid'")
    done_sql = f"UPDATE floor_deliveries SET status = 'processed' WHERE id = {p}"

    @app.post("/api/webhooks/thrivecart/")
    def thrivecart():
        form = request.form
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = connect(url)[0]
        if sqlite:
            connection.execute("BEGIN IMMEDIATE")
        cursor = connection.cursor()
        try:
            row = cursor.execute(integration_sql,
                                 (digest(form.get("thrivecart_secret", "")),)).fetchone()
            if row is None:
                connection.rollback()
                return {"status": "forbidden"}, 403
            event_id, order_id, kind = row[0], form.get("order_id"), form.get("event")
            delivery_id = cursor.execute(delivery_sql, (
                event_id, order_id, kind, datetime.now(UTC).replace(tzinfo=None),
                _without_secret(request.get_data(as_text=True)))).fetchone()[0]
            if kind == "order.refund":
                cursor.execute(refund_sql, (order_id,))
            else:
                attendee_id = None
                index = 0
                while (item_type := form.get(f"order[charges][{index}][item_type]")):
                    external_id = f"{item_type}-{form[f'order[charges][{index}][reference]']}"
                    index += 1
                    ticket = cursor.execute(ticket_sql, (event_id, external_id)).fetchone()
                    if ticket is None:
                        continue
                    if attendee_id is None:
                        attendee_id = cursor.execute(attendee_sql, (
                            event_id, form["customer[email]"].lower(),
                            form.get("customer[first_name]"),
                            form.get("customer[last_name]"))).fetchone()[0]
                    amount = cursor.execute(price_sql, (ticket[0],)).fetchone()[0]
                    cursor.execute(purchase_sql, (attendee_id, ticket[0], order_id, amount))
            cursor.execute(done_sql, (delivery_id,))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        return {"status": "processed"}

    return app


def _without_secret(body):
    """The body as stored: the secret word is never kept."""
    return "&".join(part for part in body.split("&")
                    if not part.startswith("thrivecart_secret="))


def _app_from_environment():
    url = os.environ.get("FLOOR_DATABASE_URL")
    return create_app(url) if url else None


app = _app_from_environment()
