"""Several app servers, one database: bursts of orders with duplicates, nothing lost or doubled."""

import copy
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from heysummit_tc.models import Attendee, DeliveryEvent, TicketPurchase, WebhookDelivery

from helpers import Gunicorn, form_body, load_fixture

CLIENTS = 32


def build_deliveries(total, seed=7):
    """Return (bodies in sending order, expected attendees, expected purchases).

    A quarter are duplicates of another delivery (some sent at the same instant as it), a
    tenth are orders for an item no ticket links.
    """
    rng = random.Random(seed)
    base = load_fixture("order-success.json")
    unique = total - total // 4
    unlinked = total // 10
    originals, attendees, purchases = [], 0, 0
    for number in range(unique):
        payload = copy.deepcopy(base)
        payload["order_id"] = payload["order"]["id"] = str(700000 + number)
        payload["customer"]["email"] = f"buyer{number}@example.com"
        payload["customer"]["first_name"] = f"Buyer{number}"
        if number < unlinked:
            keys = ["product-999"]
        elif number % 2:
            keys = ["product-12", "bump-12"]
        else:
            keys = ["product-12"]
        payload["purchase_map"] = keys
        payload["purchase_map_flat"] = ",".join(keys)
        payload["order"]["charges"] = []
        if keys != ["product-999"]:
            attendees += 1
            purchases += len(keys)
        originals.append(form_body(payload))
    duplicates = [rng.choice(originals) for _ in range(total - unique)]
    # Half the duplicates go out next to their original, so both are in flight together.
    sending = list(originals)
    for index, duplicate in enumerate(duplicates):
        if index % 2:
            sending.insert(sending.index(duplicate) + 1, duplicate)
        else:
            sending.insert(rng.randrange(len(sending) + 1), duplicate)
    return sending, attendees, purchases


def test_bursts_over_several_servers_apply_each_order_once(
    app, database_url, backend, make_event, make_ticket, connect, session, tmp_path, figures
):
    event_id = make_event("Launch")
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    make_ticket(event_id, "Workbook", "bump-12", [("19.00", "USD")])
    connect(event_id)
    if backend == "postgresql":
        total, layout = 1000, [2, 2]  # two servers, two workers each
    else:
        total, layout = 400, [4]  # one SQLite file, four workers
    bodies, expected_attendees, expected_purchases = build_deliveries(total)

    servers = [Gunicorn(database_url, workers=workers, log_path=tmp_path / f"server{n}.log")
               for n, workers in enumerate(layout)]
    for server in servers:
        server.__enter__()
    lock, cursor, results = threading.Lock(), iter(enumerate(bodies)), []

    def client():
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            index, body = item
            server = servers[index % len(servers)]
            results.append(server.post("/api/webhooks/thrivecart/", body, timeout=60)[0])

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            for _ in range(CLIENTS):
                pool.submit(client)
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    elapsed = time.perf_counter() - started

    statuses = Counter(results)
    session.expire_all()
    attendees = session.scalar(select(func.count()).select_from(Attendee))
    purchases = session.scalar(select(func.count()).select_from(TicketPurchase))
    deliveries = session.scalar(select(func.count()).select_from(WebhookDelivery))
    logged = session.scalar(select(func.count()).select_from(DeliveryEvent)
                            .where(DeliveryEvent.event_id == event_id))
    figures(f"{backend}: {total} deliveries ({total // 4} duplicates, {total // 10} unlinked) "
            f"from {CLIENTS} clients over {len(layout)} server(s) {layout} in {elapsed:.1f} s "
            f"({total / elapsed:.0f}/s); responses {dict(statuses)}; attendees {attendees} "
            f"(expected {expected_attendees}), purchases {purchases} (expected "
            f"{expected_purchases}), deliveries logged {logged}")
    assert statuses == {200: total}
    assert (attendees, purchases) == (expected_attendees, expected_purchases)
    assert deliveries == logged == total
    for server in servers:
        log = server.log_path.read_bytes()
        assert b"database is locked" not in log and b"Traceback" not in log
