"""Exactly once under duplicate and concurrent deliveries, on threads and on processes."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from heysummit_tc.models import Attendee, TicketPurchase, WebhookDelivery

from helpers import Gunicorn, fixture_bytes, form_body, load_fixture, post_webhook

THREADS = 32


def new_buyers(count, name, first_order):
    """Form bodies of ``count`` orders, each of its own buyer and order id."""
    base = load_fixture("order-success.json")
    bodies = []
    for buyer in range(count):
        payload = json.loads(json.dumps(base))
        payload["customer"]["email"] = f"{name}{buyer}@example.com"
        payload["order_id"] = payload["order"]["id"] = str(first_order + buyer)
        bodies.append(form_body(payload))
    return bodies


def totals(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (Attendee, TicketPurchase, WebhookDelivery))




def test_32_threads_posting_the_same_delivery_at_once(make_app, app, linked_event, session):
    threaded = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS, "max_overflow": 0})
    body = fixture_bytes("order-success.form")
    start = threading.Barrier(THREADS)

    def deliver(_):
        client = threaded.test_client()
        start.wait()
        response = post_webhook(client, body)
        return response.status_code, response.json

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(deliver, range(THREADS)))

    statuses = [status for status, _body in results]
    outcomes = sorted(body["outcomes"][0]["outcome"] for _status, body in results)
    print(f"\n{THREADS} concurrent duplicates: statuses {set(statuses)}, "
          f"outcomes paid={outcomes.count('paid')} already_paid={outcomes.count('already_paid')}")
    assert statuses == [200] * THREADS
    assert outcomes == ["already_paid"] * (THREADS - 1) + ["paid"]
    assert totals(session) == (1, 1, THREADS)


def test_several_processes_on_one_database(app, database_url, linked_event, session, tmp_path):
    """Four gunicorn workers, 32 clients: duplicates at the same instant and distinct buyers."""
    # Every buyer's order arrives twice, both copies in the same burst.
    bodies = [copy for body in new_buyers(16, "buyer", 5000) for copy in (body, body)]
    start = threading.Barrier(len(bodies))
    log = tmp_path / "gunicorn.log"
    with Gunicorn(database_url, workers=4, log_path=log) as server:
        def deliver(body):
            start.wait()
            return server.post("/api/webhooks/thrivecart/", body)

        with ThreadPoolExecutor(len(bodies)) as pool:
            results = list(pool.map(deliver, bodies))
    statuses = [status for status, _ in results]
    print(f"\n{len(bodies)} deliveries over 4 workers: statuses "
          f"{ {s: statuses.count(s) for s in set(statuses)} }")
    assert statuses == [200] * len(bodies), [body[:200] for _s, body in results]
    assert totals(session) == (16, 16, 32)
    assert b"database is locked" not in log.read_bytes()


def test_workers_restarted_by_max_requests_lose_no_delivery(database_url, linked_event,
                                                           session, tmp_path):
    """gunicorn.conf.py's workers fork from a master that has loaded the app, and restart
    after max_requests: here after 10 requests each, so that each worker restarts many times
    while eight clients post. Every post is answered and applied once: no worker inherits a
    connection from the master or from the worker it replaced."""
    bodies = new_buyers(120, "restart", 7000)
    log = tmp_path / "gunicorn.log"
    with Gunicorn(database_url, workers=3, threads=2, log_path=log,
                  args=["--max-requests", "10", "--max-requests-jitter", "0"]) as server:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(
                lambda body: server.post("/api/webhooks/thrivecart/", body), bodies))
    restarts = log.read_text().count("Autorestarting worker")
    print(f"\n{len(bodies)} deliveries, {restarts} worker restarts: statuses "
          f"{sorted({status for status, _ in results})}")
    assert restarts >= 6, log.read_text()[-2000:]
    assert [status for status, _ in results] == [200] * len(bodies), [
        body[:200] for status, body in results if status != 200]
    assert totals(session) == (120, 120, 120)


def test_concurrent_wrong_secrets_keep_the_held_deliveries_exactly_at_the_cap(
    make_app, app, linked_event, session
):
    from heysummit_tc.models import HeldDelivery

    capped = make_app(HELD_DELIVERIES_PER_SECRET=5, HELD_DELIVERIES_TOTAL=8,
                      SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS, "max_overflow": 0})
    body = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "WRONG-1234"})
    start = threading.Barrier(THREADS)

    def deliver(_):
        client = capped.test_client()
        start.wait()
        return [post_webhook(client, body).status_code for _ in range(3)]

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [status for batch in pool.map(deliver, range(THREADS)) for status in batch]
    assert statuses == [403] * THREADS * 3
    session.expire_all()
    # Each post trims after every post held before it: the cap is exact, not approximate.
    assert session.scalar(select(func.count()).select_from(HeldDelivery)) == 5
