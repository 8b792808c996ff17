"""Faults: a PostgreSQL backend killed mid-delivery, the database gone and back."""

import threading
import time
from contextlib import closing

import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from heysummit_tc.models import Attendee, TicketPurchase, WebhookDelivery

from helpers import Gunicorn, TcpProxy, fixture_bytes, post_webhook

pytestmark = pytest.mark.postgresql_only




def counts(session):
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Attendee)),
            session.scalar(select(func.count()).select_from(TicketPurchase)))


def test_backend_killed_mid_delivery_gives_503_and_the_retry_applies_once(
    make_app, app, database_url, linked_event, session, figures
):
    # The purchase insert waits, so the delivery is caught between its two writes.
    session.execute(text(
        "CREATE FUNCTION slow_purchase() RETURNS trigger AS $$ BEGIN "
        "PERFORM pg_sleep(30); RETURN NEW; END $$ LANGUAGE plpgsql"))
    session.execute(text("CREATE TRIGGER slow_purchase BEFORE INSERT ON ticket_purchases "
                         "FOR EACH ROW EXECUTE FUNCTION slow_purchase()"))
    session.commit()
    victim = make_app(SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"application_name": "fault-victim", "connect_timeout": 5}})
    response = {}

    def deliver():
        response["value"] = post_webhook(victim.test_client(),
                                         fixture_bytes("order-success.form"))

    worker = threading.Thread(target=deliver)
    worker.start()
    killed = False
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not killed:
            killed = session.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'fault-victim' AND wait_event = 'PgSleep'"
            )).scalar() or False
            session.commit()
            time.sleep(0.05)
        worker.join(30)
    finally:
        session.execute(text("DROP TRIGGER slow_purchase ON ticket_purchases"))
        session.execute(text("DROP FUNCTION slow_purchase()"))
        session.commit()
    result = response["value"]
    figures(f"backend terminated mid-delivery: killed={killed}, answer {result.status_code}, "
            f"attendees/purchases after {counts(session)}")
    assert killed and result.status_code == 503
    assert counts(session) == (0, 0)
    delivery = session.get(WebhookDelivery, result.json.get("delivery_id") or 1)
    assert delivery.status == "failed" and "terminat" in (delivery.error or "")

    retry = post_webhook(victim.test_client(), fixture_bytes("order-success.form"))
    again = post_webhook(victim.test_client(), fixture_bytes("order-success.form"))
    assert (retry.status_code, again.status_code) == (200, 200)
    assert counts(session) == (1, 1)


def test_database_gone_gives_bounded_503s_and_the_same_processes_recover(
    app, database_url, linked_event, session, tmp_path, figures
):
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    body = fixture_bytes("order-success.form")
    with Gunicorn(proxied, workers=2, log_path=tmp_path / "gunicorn.log") as server:
        workers_before = _children(server.process.pid)
        assert server.post("/api/webhooks/thrivecart/", body)[0] == 200

        proxy.stop()
        started = time.perf_counter()
        down = [server.post("/api/webhooks/thrivecart/", body, timeout=20)[0] for _ in range(4)]
        health_down = _get(server.url + "/healthz")
        outage_seconds = time.perf_counter() - started

        proxy.hang()  # the server accepts connections but never answers
        started = time.perf_counter()
        hung = server.post("/api/webhooks/thrivecart/", body, timeout=30)[0]
        hung_seconds = time.perf_counter() - started

        proxy.stop()
        proxy.start()
        up = [server.post("/api/webhooks/thrivecart/", body)[0] for _ in range(4)]
        health_up = _get(server.url + "/healthz")
        workers_after = _children(server.process.pid)
    proxy.stop()
    figures(f"database unreachable: webhook answers {down}, /healthz {health_down}, "
            f"{outage_seconds:.2f} s for 5 requests; unresponsive server: {hung} after "
            f"{hung_seconds:.1f} s; after it returns: {up}, /healthz "
            f"{health_up}; workers {sorted(workers_before)} -> {sorted(workers_after)}")
    assert down == [503] * 4 and health_down == 503
    assert outage_seconds < 20
    assert hung == 503 and hung_seconds < 15  # bounded by the connect timeout, no hang
    assert up == [200] * 4 and health_up == 200
    assert workers_after == workers_before  # recovered without restarting a process
    assert counts(session) == (1, 1)


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return set(children.read().split())


def _get(url):
    import urllib.error
    import urllib.request

    try:
        with closing(urllib.request.urlopen(url, timeout=20)) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_connection_the_server_closed_is_replaced_before_use(app, session):
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"],
                           **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    # The pooled connection's backend is terminated while the pool holds it idle.
    session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    session.commit()
    for _ in range(100):
        if not session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                              {"pid": pid}):
            break
        time.sleep(0.05)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()


def test_a_healthy_pooled_connection_is_handed_out_without_a_round_trip(app, session):
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"],
                           **app.config["SQLALCHEMY_ENGINE_OPTIONS"])

    def last_query(pid):  # what the backend last ran, as the server saw it
        session.rollback()
        return session.scalar(text("SELECT query FROM pg_stat_activity WHERE pid = :pid"),
                              {"pid": pid})

    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    before = last_query(pid)
    with engine.connect() as connection:
        handed_out = last_query(pid)
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() == pid
    engine.dispose()
    assert handed_out == before
