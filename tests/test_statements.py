"""Statement budgets: a fixed handful per delivery and per organiser page, whatever the database
holds."""

from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, insert, select, text, update

from heysummit_tc.extensions import db
from heysummit_tc.models import (
    Attendee,
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    Ticket,
    TicketExternalId,
    WebhookDelivery,
    any_of,
    utcnow,
)
from heysummit_tc.sql import deliveries as sql_deliveries

from helpers import explain, fixture_bytes, form_body, load_fixture, post_webhook


@contextmanager
def counted(app):
    """Count the SQL statements the app's engine runs inside the block."""
    statements = []

    def record(_connection, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def order(number):
    payload = load_fixture("order-success.json")
    payload["order_id"] = payload["order"]["id"] = str(number)
    payload["customer"]["email"] = f"buyer{number}@example.com"
    return form_body(payload)


def measure(app, client):
    with counted(app) as new_buyer:
        assert post_webhook(client, order(1)).json["outcomes"][0]["outcome"] == "paid"
    with counted(app) as duplicate:
        assert post_webhook(client, order(1)).json["outcomes"][0]["outcome"] == "already_paid"
    return len(new_buyer), len(duplicate)


def grow_database(session, events=200):
    """Add events with tickets, attendees and deliveries that the webhook must not scan."""
    now = utcnow()
    session.execute(insert(Event), [{"name": f"E{n}", "currency": "USD", "created_at": now}
                                    for n in range(events)])
    event_ids = list(session.scalars(select(Event.id).where(Event.name.like("E%"))))
    session.execute(insert(Ticket), [
        {"event_id": event_id, "name": "T", "external_id": f"product-{n}", "active": True,
         "created_at": now, "updated_at": now}
        for event_id in event_ids for n in range(1, 6)])
    session.execute(insert(Attendee), [
        {"event_id": event_id, "email": f"a{n}@example.com", "first_name": "", "last_name": "",
         "created_at": now, "updated_at": now}
        for event_id in event_ids for n in range(5)])
    deliveries = session.execute(insert(WebhookDelivery).returning(WebhookDelivery.id), [
        {"received_at": now, "source": "webhook", "event_type": "order.success", "mode": "live",
         "test": False, "thrivecart_account": "x", "status": "processed", "attempts": 1}
        for _ in range(events * 5)]).scalars().all()
    session.execute(insert(DeliveryEvent), [
        {"delivery_id": delivery_id, "event_id": event_ids[n % len(event_ids)]}
        for n, delivery_id in enumerate(deliveries)])
    session.commit()


def test_statement_budget_does_not_grow_with_the_database(app, client, linked_event, session,
                                                           figures, database_url):
    small = measure(app, client)
    grow_database(session)
    with session.begin():
        session.execute(delete(Attendee).where(Attendee.email == "buyer1@example.com"))
    large = measure(app, client)
    figures(f"SQL statements per delivery, new buyer / duplicate: {small} with one event, "
            f"{large} with 200 more events, 1,000 tickets and deliveries")
    # Finding the events (1), recording the delivery (PostgreSQL 1, SQLite 2: the delivery
    # and its row per event), locking the order (1), tickets (1), attendee (1), then a new
    # buyer's purchase upsert or a returning buyer's purchase read (1), the attempt
    # (PostgreSQL 1, SQLite 3: the delivery, what the event's log filters on, the outcomes; a
    # grant's outcome is also its access email's outbox entry).
    assert small == ((10, 10) if database_url.startswith("sqlite") else (7, 7))
    assert large == small


@pytest.mark.parametrize("items", [1, 4])
def test_statement_count_does_not_grow_with_items(app, client, make_event, make_ticket,
                                                  connect, items):
    event_id = make_event("Multi", "GBP")
    keys = ["product-2", "bump-2", "upsell-3", "downsell-5"][:items]
    for key in keys:
        make_ticket(event_id, key, key, [("10.00", "GBP")])
    connect(event_id)
    with counted(app) as statements:
        response = post_webhook(client, fixture_bytes("order-success-multi.form"))
    assert [o["outcome"] for o in response.json["outcomes"]].count("paid") == items
    assert len(statements) <= 12


def test_opt_in_header_reports_the_statements_of_each_request(make_app, app, linked_event):
    instrumented = make_app(SQL_STATEMENT_COUNTS=True)
    client = instrumented.test_client()
    with counted(instrumented) as statements:
        response = post_webhook(client, order(7))
    assert int(response.headers["X-SQL-Statements"]) == len(statements) > 0
    assert client.get("/healthz/live").headers["X-SQL-Statements"] == "0"
    assert "X-SQL-Statements" not in app.test_client().get("/healthz").headers


@pytest.mark.postgresql_only
def test_recording_a_delivery_does_not_wait_for_the_disk_and_processing_does(
    app, client, linked_event
):
    """The received record commits asynchronously; the commit before the answer waits."""
    from heysummit_tc.services.provisioning import record_delivery
    from heysummit_tc.thrivecart.order import read_order

    with app.app_context():
        engine = db.engine
        with engine.connect() as connection:
            record_delivery(connection, read_order(load_fixture("order-success.json")), [1])
            in_record = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            connection.rollback()
    commits = []

    def before_commit(connection):
        commits.append(connection.exec_driver_sql("SHOW synchronous_commit").scalar())

    event.listen(engine, "commit", before_commit)
    try:
        response = post_webhook(client, order(1))
    finally:
        event.remove(engine, "commit", before_commit)
    assert response.json["outcomes"][0]["outcome"] == "paid"
    assert in_record == "off"
    # The processing's commit, the last, waits (the record's runs outside a transaction:
    # its connection's commit sends nothing).
    assert commits[-1] == "on"


# Statements per organiser page: the signed-in user with their membership of the event and
# the event (1), then the page's own. None may grow with the rows the event holds.
PAGE_BUDGETS = {
    # The user's, the integration, every count that is one number, the last delivery, the
    # deliveries that need attention, the emails by status, the money charged and refunded.
    "/events/{e}/": 7,
    "/events/{e}/revenue/tickets/": 4,  # tickets with their prices, their kept purchase counts
    "/events/{e}/attendees/": 3,  # a page of attendees, then their purchases
    "/events/{e}/setup/integrations/": 2,
    # The integration, held posts, linked tickets, the last delivery, the rejected posts'
    # counts, a page of the log (deliveries, their outcomes, rejected posts).
    "/events/{e}/setup/integrations/thrivecart/": 9,
    "/events/{e}/activity/": 2,
}


def page_statements(app, client, event_id):
    counts = {}
    for page in PAGE_BUDGETS:
        with counted(app) as statements:
            response = client.get(page.format(e=event_id))
        assert response.status_code == 200, page
        counts[page] = len(statements)
    return counts


def test_each_page_runs_a_fixed_handful_of_statements(app, client, organiser, session,
                                                     figures):
    for number in range(3):
        post_webhook(client, order(number))
    small = page_statements(app, client, organiser)
    for number in range(3, 60):  # more than a page of attendees and of the delivery log
        post_webhook(client, order(number))
    grow_database(session)
    large = page_statements(app, client, organiser)
    figures("SQL statements per page: " + ", ".join(
        f"{page.format(e='…')} {count}" for page, count in small.items()))
    assert small == PAGE_BUDGETS
    assert large == small


def test_the_unlinked_inbox_and_the_email_queue_read_their_partial_indexes(app):
    """SQLite uses a partial index only for a query whose condition implies the index's own
    (``outcome = 'unlinked'`` does not imply ``outcome IN ('unlinked', ...)`` to it); without
    it, every tickets page scanned every outcome of every event."""
    from heysummit_tc.models import DeliveryOutcome, OutcomeKind
    from heysummit_tc.services import events, unlinked

    with app.app_context(), db.engine.connect() as connection:
        for statement, index in [
            (unlinked.UNLINKED_COUNT, "ix_delivery_outcomes_unapplied"),
            # The dashboard asks it among its other counts.
            (events._counts(True).params(cutoff=utcnow(), digest="0" * 64,
                                         held_since=utcnow()),
             "ix_delivery_outcomes_unapplied"),
            (unlinked._UNLINKED, "ix_delivery_outcomes_unapplied"),
            # A re-run's deliveries of one item.
            (unlinked._unapplied(1, DeliveryOutcome.delivery_id)
             .where(DeliveryOutcome.item_key == "upsell-9"), "ix_delivery_outcomes_unapplied"),
            (select(DeliveryOutcome.id)
             .where(DeliveryOutcome.outcome == OutcomeKind.PAID,
                    DeliveryOutcome.email_queued_at.is_(None))
             .order_by(DeliveryOutcome.id).limit(50), "ix_delivery_outcomes_email_due"),
        ]:
            plan = explain(connection, statement, seqscan=False, event_id=1)
            assert index in plan, plan


def test_holding_a_post_trims_and_counts_from_the_partial_indexes_walking_each_once(app):
    """Every post with a wrong Secret Word is counted against the overall cap, held, then the
    held posts of its secret and of its address are trimmed to their caps. The newest id past
    each cap is found once (an uncorrelated subquery, PostgreSQL's InitPlan): a delete of
    ``id IN (subquery)`` could be planned as a walk of the subquery per row, which with stale
    statistics cost 93 ms at 2,000 rows."""
    from heysummit_tc.services import held

    values = {"digest": "d", "per_secret": 200, "client_address": "203.0.113.9",
              "per_client": 500}
    with app.app_context(), db.engine.connect() as connection:
        for statement in (held._TRIM_TO_CAPS, held._UNRELEASED_COUNT):
            plan = explain(connection, statement, seqscan=False, **values)
            assert "ix_held_deliveries_unreleased" in plan, plan
            if statement is not held._UNRELEASED_COUNT:
                assert ("InitPlan" in plan if connection.dialect.name == "postgresql"
                        else "SCALAR SUBQUERY" in plan and "CORRELATED" not in plan), plan


@pytest.mark.postgresql_only
@pytest.mark.own_app  # counts the statements prepared on its connections
def test_the_delivery_logs_statements_keep_their_plan(app, client, organiser):
    """PostgreSQL plans a prepared statement whose LIMIT is a parameter on every execution;
    the log's statements write their limits into their text, so that it keeps one plan."""
    for number in range(3):
        post_webhook(client, order(number))
    page = f"/events/{organiser}/setup/integrations/thrivecart/"
    for _ in range(30):  # driver prepares on the 5th execution, PostgreSQL settles on the 6th
        assert client.get(page).status_code == 200
    with app.app_context():
        plans = db.session.execute(text(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%JOIN delivery_events%ORDER BY delivery_events.received_at"
            " DESC, delivery_events.delivery_id DESC%'")).all()
    # The log's page of deliveries and the last delivery, each prepared on this connection.
    assert len(plans) == 2, plans
    for statement, generic, custom in plans:
        assert "LIMIT $" not in statement
        assert generic > custom, (statement, generic, custom)


def test_a_list_matches_whole_values_only(app, make_event, make_ticket, session):
    """A list sent as one array (PostgreSQL) is compared value by value in full: a value
    longer than the column allows is not cut down to one that a row holds."""
    ticket_id = make_ticket(make_event(), "All-Access", "product-12")
    external_id = "k" * 40  # as long as the column allows, written past the ticket form's rules
    session.execute(update(TicketExternalId).where(TicketExternalId.ticket_id == ticket_id)
                    .values(key=external_id))
    session.commit()
    matching = select(TicketExternalId.ticket_id).where(any_of(TicketExternalId.key, "keys"))
    assert session.scalars(matching, {"keys": [external_id + "1"]}).all() == []
    assert session.scalars(matching, {"keys": ["bump-2", external_id]}).all() == [ticket_id]
    assert session.scalars(matching, {"keys": []}).all() == []


@pytest.mark.postgresql_only
@pytest.mark.own_app  # counts the statements prepared on its connections
def test_lists_reach_postgresql_as_one_array_whatever_their_length(app, client, organiser):
    """The attendee list's purchases and the delivery log's outcomes are asked for a page's
    ids at once; sent as one array, each is one statement that the driver prepares once,
    however many rows the page has."""
    page = f"/events/{organiser}/attendees/"
    log = f"/events/{organiser}/setup/integrations/thrivecart/"
    for number in range(12):
        post_webhook(client, order(number))
        for _ in range(6):  # the driver prepares a statement on its 5th execution
            assert client.get(page).status_code == 200
            assert client.get(log).status_code == 200
    with app.app_context():
        prepared = db.session.scalars(text(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE "
            "'%WHERE ticket_purchases.attendee_id%' OR statement LIKE "
            "'%delivery_outcomes.delivery_id IN%' OR statement LIKE "
            "'%delivery_outcomes.delivery_id = ANY%'")).all()
    assert len(prepared) == 2, prepared
    assert all("= ANY ($" in statement for statement in prepared), prepared


def test_closing_an_attempt_writes_the_delivery_its_events_and_its_outcomes(
        app, session, make_event, make_user):
    """``finish`` (one statement on PostgreSQL, three on SQLite) counts the attempt, stamps
    the delivery, marks each event's attention and writes the outcomes in order; a second
    closing is attempt 2 and touches only the events it names."""
    first, second = make_event("First"), make_event("Second")
    user_id = make_user("ada@example.com")
    now = utcnow().replace(microsecond=0)
    connection = session.connection()
    delivery_id = sql_deliveries.record(connection, {
        "received_at": now, "source": "webhook", "event_type": "order.success", "mode": "live",
        "test": False, "thrivecart_account": "acme", "order_id": "1", "invoice_id": None,
        "customer_email": "ada@example.com", "status": "received", "attempts": 0,
        "payload": None}, [first, second])
    row = {"item_key": "product-2", "item_name": "Pass", "outcome": "paid", "ticket_id": None,
           "attendee_id": None, "purchase_id": None, "detail": None}
    closing = {"status": "failed", "http_status": 503, "error": "boom", "now": now,
               "user_id": None}
    assert sql_deliveries.finish(connection, delivery_id, closing, [(first, True), (second, False)],
                                 [{**row, "event_id": first},
                                  {**row, "event_id": second, "outcome": "unlinked"}]) == 1
    closing = {**closing, "status": "processed", "http_status": 200, "error": None,
               "user_id": user_id}
    assert sql_deliveries.finish(connection, delivery_id, closing, [(second, True)],
                                 [{**row, "event_id": second, "detail": "again"}]) == 2
    session.commit()
    delivery = session.get(WebhookDelivery, delivery_id)
    assert (delivery.status, delivery.http_status, delivery.error, delivery.attempts,
            delivery.processed_at, delivery.processed_by_id) == (
        "processed", 200, None, 2, now, user_id)
    assert session.execute(select(DeliveryEvent.event_id, DeliveryEvent.attempt,
                                  DeliveryEvent.attention)
                           .order_by(DeliveryEvent.event_id)).all() == [
        (first, 1, True), (second, 2, True)]
    assert session.execute(select(DeliveryOutcome.attempt, DeliveryOutcome.event_id,
                                  DeliveryOutcome.outcome, DeliveryOutcome.detail)
                           .order_by(DeliveryOutcome.id)).all() == [
        (1, first, "paid", None), (1, second, "unlinked", None), (2, second, "paid", "again")]
