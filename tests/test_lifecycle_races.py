"""Every interleaving of one order's deliveries ends where a sequential one does (SPEC 3,
Exactly once), on PostgreSQL with real concurrency.

Each round draws an order's deliveries (its success, duplicates of it, full or partial
refunds, redelivered ones, failed rebills, payments, a cancellation), posts them all at the
same instant from as many threads, each on its own database connection, to one event, and
one after another, in another random order, to a second event. Both purchases must end in
the same state, and every response must be a 200.
"""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from heysummit_tc.models import Attendee, TicketPurchase

from helpers import FIGURES, post_webhook
from orders import LATER, cancellation, payment, rebill_failed, refund, success

ROUNDS = 200
CONCURRENT, SEQUENTIAL = "RACEWORD0001", "SEQUENCE0001"
STATE = ("status", "refunded_at", "access_ends_at", "payments", "last_payment_at",
         "last_invoice_id", "charged_amount")


def draw_round(rng, number):
    """Return the deliveries of one order as body builders taking the secret word."""
    order_id, email = f"R{number}", f"buyer{number}@example.com"
    day = timedelta(days=1)
    bodies = [lambda secret: success(order_id=order_id, email=email, charged="10000",
                                     secret=secret)] * rng.randint(1, 2)
    refunds = rng.choice([[], [("10000", "1")], [("4000", "1"), ("6000", "2")],
                          [("3000", "1")], [("10000", None)]])
    for index, (amount, event_id) in enumerate(refunds):
        copies = rng.randint(1, 2)
        bodies += [lambda secret, amount=amount, event_id=event_id, index=index: refund(
            amount, order_id=order_id, event_id=event_id and f"{number}-{event_id}",
            when=LATER + index * day, secret=secret)] * copies
    if rng.random() < 0.5:
        bodies.append(lambda secret: rebill_failed(order_id=order_id, when=LATER + 3 * day,
                                                   secret=secret))
    if rng.random() < 0.5:
        bodies.append(lambda secret: payment(2, order_id=order_id, when=LATER + 4 * day,
                                             invoice_id=f"{order_id}-2", secret=secret))
    if rng.random() < 0.3:
        bodies.append(lambda secret: cancellation(order_id=order_id, when=LATER + 5 * day,
                                                  period_end=LATER + 30 * day, secret=secret))
    return email, bodies


def final_state(session, event_id, email):
    session.expire_all()
    found = session.scalars(select(TicketPurchase).join(Attendee).where(
        Attendee.event_id == event_id, Attendee.email == email)).all()
    return [tuple(getattr(purchase, column) for column in STATE) for purchase in found]


@pytest.mark.postgresql_only
def test_every_interleaving_of_an_orders_deliveries_ends_as_a_sequential_one_does(
    make_app, app, make_event, make_ticket, connect, session
):
    racing, sequential = make_event("Racing"), make_event("Sequential")
    for event_id, secret in ((racing, CONCURRENT), (sequential, SEQUENTIAL)):
        make_ticket(event_id, "All-Access", "product-12", [("100.00", "USD")],
                    on_cancel="period_end")
        connect(event_id, secret)
    threaded = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 0})
    rng = random.Random(20261127)
    statuses, divergent, deliveries = [], [], 0

    with ThreadPoolExecutor(10) as pool:
        for number in range(ROUNDS):
            email, bodies = draw_round(rng, number)
            rng.shuffle(bodies)
            start = threading.Barrier(len(bodies))

            def deliver(build, start=start):
                client = threaded.test_client()
                body = build(CONCURRENT)
                start.wait()
                return post_webhook(client, body).status_code

            statuses += list(pool.map(deliver, bodies))
            client = threaded.test_client()
            for build in rng.sample(bodies, len(bodies)):
                statuses.append(post_webhook(client, build(SEQUENTIAL)).status_code)
            deliveries += 2 * len(bodies)
            raced = final_state(session, racing, email)
            expected = final_state(session, sequential, email)
            if raced != expected or len(raced) != 1:
                divergent.append((number, raced, expected))

    FIGURES.append(f"lifecycle races: {ROUNDS} interleavings, {deliveries} deliveries, "
                   f"{len(divergent)} divergent final states, "
                   f"{sum(status != 200 for status in statuses)} non-200 responses")
    assert divergent == []
    assert set(statuses) == {200}
