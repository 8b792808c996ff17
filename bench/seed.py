"""Seed the benchmark datasets in bulk (COPY on PostgreSQL, executemany on SQLite).

small: 1 event, 10 tickets, 1,000 attendees with purchases, 1,000 deliveries.
large: 10,000 events, 200,000 tickets, 210,000 attendees (200,000 of them in the measured
       event, for a 200,000-row CSV), 500,000 deliveries (100,000 in the measured event).
The measured event is always id 1, with the tickets the fixtures buy.
"""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from heysummit_tc.services.accounts import password_hasher

BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-123"  # noqa: S105  # nosec B105: a throwaway bench login
SECRET_WORD = "K7Q2M9X4TZ1B"  # the fixtures' Secret Word
SECRET_WORD_KEY = "bench-secret-word-key"
MEASURED_KEYS = ["product-12", "product-2", "bump-2", "upsell-3", "downsell-5",
                 "product-1", "product-3", "product-4", "product-5", "product-6"]
SIZES = {
    "small": {"events": 1, "tickets_per_other_event": 0, "measured_attendees": 1_000,
              "measured_deliveries": 1_000, "other_deliveries": 0},
    "large": {"events": 10_000, "tickets_per_other_event": 20, "measured_attendees": 200_000,
              "measured_deliveries": 100_000, "other_deliveries": 400_000},
}


def digest(secret_word):
    return hmac.new(SECRET_WORD_KEY.encode(), secret_word.encode(), hashlib.sha256).hexdigest()


def is_seeded(connection):
    return connection.execute(text("SELECT count(*) FROM events")).scalar() > 0


def seed(connection, size):
    """Fill an empty, migrated database; print how long it took."""
    if size == "scale":
        return seed_scale(connection)
    plan = SIZES[size]
    started = time.perf_counter()
    dialect = connection.dialect.name
    now = datetime.now(UTC).replace(microsecond=0)
    write = _copy if dialect == "postgresql" else _executemany

    def stamp(moment):
        return moment if dialect == "postgresql" else moment.strftime("%Y-%m-%d %H:%M:%S.000000")

    ts = stamp(now)
    write(connection, "users", ["id", "email", "password_hash", "session_token", "created_at"],
          [(1, BENCH_EMAIL, password_hasher.hash(BENCH_PASSWORD), "bench" * 4, ts)])
    events = plan["events"]
    write(connection, "events", ["id", "name", "currency", "created_at"],
          ((n, "Bench Summit" if n == 1 else f"Other summit {n}", "USD", ts)
           for n in range(1, events + 1)))
    write(connection, "event_members", ["event_id", "user_id", "role", "created_at"],
          [(1, 1, "organiser", ts)])
    write(connection, "thrivecart_integrations",
          ["id", "event_id", "secret_digest", "secret_last3", "set_by_id", "set_at",
           "connected_at"],
          ((n, n, digest(SECRET_WORD if n == 1 else f"OTHER{n:07d}"), "Z1B", None, ts, ts)
           for n in range(1, events + 1)))

    tickets = [(n + 1, 1, key, key, True, ts, ts) for n, key in enumerate(MEASURED_KEYS)]
    per_other = plan["tickets_per_other_event"]
    ticket_id = len(tickets)

    def other_tickets():
        nonlocal ticket_id
        for event_id in range(2, events + 1):
            for n in range(1, per_other + 1):
                ticket_id += 1
                yield (ticket_id, event_id, f"Ticket {n}", f"product-{n}", True, ts, ts)

    tickets = [*tickets, *other_tickets()]
    write(connection, "tickets", ["id", "event_id", "name", "active", "created_at", "updated_at"],
          [(id_, event_id, name, active, created, updated)
           for id_, event_id, name, _key, active, created, updated in tickets])
    write(connection, "ticket_external_ids", ["id", "event_id", "ticket_id", "key"],
          [(id_, event_id, id_, key) for id_, event_id, _name, key, *_rest in tickets])
    measured_prices = [(n * 2 + extra + 1, n + 1, 9700 + extra * 10000, "USD")
                       for n in range(len(MEASURED_KEYS)) for extra in (0, 1)]
    write(connection, "ticket_prices", ["id", "ticket_id", "amount", "currency"],
          [*measured_prices, *((len(measured_prices) + n, n, 4700, "USD")
                               for n in range(len(MEASURED_KEYS) + 1, ticket_id + 1))])

    measured, other_attendees = plan["measured_attendees"], events - 1

    def attendees():
        for n in range(1, measured + 1):
            yield (n, 1, f"buyer{n:07d}@example.com", "Buyer", str(n), ts, ts)
        for n in range(other_attendees):
            yield (measured + n + 1, n + 2, "someone@example.com", "Some", "One", ts, ts)

    write(connection, "attendees",
          ["id", "event_id", "email", "first_name", "last_name", "created_at", "updated_at"],
          attendees())
    paid_at = stamp(now - timedelta(days=1))
    write(connection, "ticket_purchases",
          ["id", "attendee_id", "ticket_id", "status", "amount", "currency", "charged_amount",
           "charged_currency", "source", "thrivecart_order_id", "thrivecart_item_key", "test",
           "paid_at", "created_at", "updated_at"],
          ((n, n, 1, "paid", 19700, "USD", 9700, "USD", "thrivecart", str(9_000_000 + n),
            "product-12", False, paid_at, ts, ts) for n in range(1, measured + 1)))

    total = plan["measured_deliveries"] + plan["other_deliveries"]
    payload = json.dumps({"event": "order.success", "mode": "live", "order_id": "seeded",
                          "customer": {"email": "buyer@example.com"}})

    def deliveries():
        for n in range(1, total + 1):
            yield (n, stamp(now - timedelta(seconds=total - n)), "webhook", "order.success",
                   "live", False, "examplesummits", str(8_000_000 + n), str(n),
                   f"buyer{n % measured + 1:07d}@example.com", "processed", 200, None, 1,
                   payload)

    write(connection, "webhook_deliveries",
          ["id", "received_at", "source", "event_type", "mode", "test", "thrivecart_account",
           "order_id", "invoice_id", "customer_email", "status", "http_status", "error",
           "attempts", "payload"], deliveries())

    def event_of(n):
        return 1 if n <= plan["measured_deliveries"] else (n % (events - 1)) + 2

    write(connection, "delivery_events",
          ["delivery_id", "event_id", "received_at", "attempt", "attention"],
          ((n, event_of(n), stamp(now - timedelta(seconds=total - n)), 1, False)
           for n in range(1, total + 1)))
    write(connection, "delivery_outcomes",
          ["id", "delivery_id", "event_id", "attempt", "item_key", "outcome", "ticket_id",
           "attendee_id", "purchase_id", "detail", "created_at"],
          ((n, n, event_of(n), 1, "product-12", "paid", 1 if event_of(n) == 1 else None,
            None, None, None, ts) for n in range(1, total + 1)))

    if dialect == "postgresql":
        for table in ("users", "events", "thrivecart_integrations", "tickets", "ticket_prices",
                      "attendees", "ticket_purchases", "webhook_deliveries",
                      "delivery_outcomes"):
            connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"))
    connection.commit()
    # As autovacuum would have by now: statistics, and the visibility map that lets counts
    # use index-only scans.
    if dialect == "postgresql":
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE")
    else:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    print(f"seeded {size} dataset in {time.perf_counter() - started:.0f} s", flush=True)


def _copy(connection, table, columns, rows):
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608  # nosec B608
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _executemany(connection, table, columns, rows, chunk=20_000):
    raw = connection.connection.driver_connection
    statement = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608  # nosec B608
                 f"VALUES ({', '.join('?' * len(columns))})")
    batch = []
    for row in rows:
        batch.append(tuple(int(v) if isinstance(v, bool) else v for v in row))
        if len(batch) >= chunk:
            raw.executemany(statement, batch)
            batch.clear()
    if batch:
        raw.executemany(statement, batch)


# The opt-in scale (``make bench BENCH_ARGS=--scale``): two events on one database, their rows
# interleaved, so that every page of each is measured beside the other's in one run.
SCALE = {1: {"name": "Bench Summit", "attendees": 1_000_000, "deliveries": 500_000},
         2: {"name": "Comparison Summit", "attendees": 200_000, "deliveries": 100_000}}
SCALE_TICKETS = {1: 1, 2: len(MEASURED_KEYS) + 1}


def scale_event_of(n):
    """The event of the n-th attendee (or delivery): every sixth is event 2's."""
    return 2 if n % 6 == 0 else 1


def seed_scale(connection):
    """Fill an empty, migrated PostgreSQL database with the scale dataset: 1,000,000
    attendees (each with a paid purchase) and 500,000 deliveries in event 1, 200,000 and
    100,000 in event 2, ids interleaved."""
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    _copy(connection, "users", ["id", "email", "password_hash", "session_token", "created_at"],
          [(1, BENCH_EMAIL, password_hasher.hash(BENCH_PASSWORD), "bench" * 4, now)])
    _copy(connection, "events", ["id", "name", "currency", "created_at"],
          [(event_id, plan["name"], "USD", now) for event_id, plan in SCALE.items()])
    _copy(connection, "event_members", ["event_id", "user_id", "role", "created_at"],
          [(event_id, 1, "organiser", now) for event_id in SCALE])
    _copy(connection, "thrivecart_integrations",
          ["id", "event_id", "secret_digest", "secret_last3", "set_by_id", "set_at",
           "connected_at"],
          [(event_id, event_id, digest(SECRET_WORD if event_id == 1 else "OTHER0000002"),
            "Z1B", None, now, now) for event_id in SCALE])
    tickets = [(SCALE_TICKETS[event_id] + n, event_id, key, key, True, now, now)
               for event_id in SCALE for n, key in enumerate(MEASURED_KEYS)]
    _copy(connection, "tickets", ["id", "event_id", "name", "active", "created_at", "updated_at"],
          [(id_, event_id, name, active, created, updated)
           for id_, event_id, name, _key, active, created, updated in tickets])
    _copy(connection, "ticket_external_ids", ["id", "event_id", "ticket_id", "key"],
          [(id_, event_id, id_, key) for id_, event_id, _name, key, *_rest in tickets])
    _copy(connection, "ticket_prices", ["id", "ticket_id", "amount", "currency"],
          [(n + 1, ticket[0], 9700, "USD") for n, ticket in enumerate(tickets)])
    # The trigram index is built once at the end rather than kept row by row.
    connection.exec_driver_sql("DROP INDEX ix_attendees_search")
    attendees = sum(plan["attendees"] for plan in SCALE.values())
    _copy(connection, "attendees",
          ["id", "event_id", "email", "first_name", "last_name", "created_at", "updated_at"],
          ((n, scale_event_of(n), f"buyer{n:07d}@example.com", "Buyer", str(n),
            now, now) for n in range(1, attendees + 1)))
    paid_at = now - timedelta(days=1)
    _copy(connection, "ticket_purchases",
          ["id", "attendee_id", "ticket_id", "status", "amount", "currency", "charged_amount",
           "charged_currency", "source", "thrivecart_order_id", "thrivecart_item_key", "test",
           "paid_at", "created_at", "updated_at"],
          ((n, n, SCALE_TICKETS[scale_event_of(n)], "paid", 9700, "USD", 9700,
            "USD", "thrivecart", str(9_000_000 + n), "product-12", False, paid_at, now, now)
           for n in range(1, attendees + 1)))
    connection.exec_driver_sql(
        "CREATE INDEX ix_attendees_search ON attendees USING gin "
        "((lower(email || ' ' || first_name || ' ' || last_name)) gin_trgm_ops)")
    deliveries = sum(plan["deliveries"] for plan in SCALE.values())
    payload = json.dumps({"event": "order.success", "mode": "live", "order_id": "seeded",
                          "customer": {"email": "buyer@example.com"}})
    _copy(connection, "webhook_deliveries",
          ["id", "received_at", "source", "event_type", "mode", "test", "thrivecart_account",
           "order_id", "invoice_id", "customer_email", "status", "http_status", "error",
           "attempts", "payload"],
          ((n, now - timedelta(seconds=deliveries - n), "webhook", "order.success", "live",
            False, "examplesummits", str(8_000_000 + n), str(n), f"buyer{n:07d}@example.com",
            "processed", 200, None, 1, payload) for n in range(1, deliveries + 1)))
    _copy(connection, "delivery_events",
          ["delivery_id", "event_id", "received_at", "attempt", "attention"],
          ((n, scale_event_of(n), now - timedelta(seconds=deliveries - n), 1,
            False) for n in range(1, deliveries + 1)))
    _copy(connection, "delivery_outcomes",
          ["id", "delivery_id", "event_id", "attempt", "item_key", "outcome", "ticket_id",
           "attendee_id", "purchase_id", "detail", "created_at"],
          ((n, n, scale_event_of(n), 1, "product-12", "paid",
            SCALE_TICKETS[scale_event_of(n)], None, None, None, now)
           for n in range(1, deliveries + 1)))
    for table in ("users", "events", "thrivecart_integrations", "tickets", "ticket_prices",
                  "attendees", "ticket_purchases", "webhook_deliveries", "delivery_outcomes"):
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608  # nosec B608
            f"(SELECT max(id) FROM {table}))")
    connection.commit()
    connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    print(f"seeded the scale dataset in {time.perf_counter() - started:.0f} s", flush=True)
