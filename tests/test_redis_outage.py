"""Redis goes away and comes back: the app keeps answering every path Redis serves.

The rate limiter and the job queue share one real ``redis-server`` that the test starts on a
free port, stops in the middle of a stream of orders, sign-ins, wrong-secret posts and
fresh-link requests, and starts again.
"""

import http.cookiejar
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from sqlalchemy import func, select

from heysummit_tc.extensions import db
from heysummit_tc.models import AccessLink, Attendee, TicketPurchase, WebhookDelivery
from heysummit_tc.security import FallbackLimiter, login_failures, wrong_secrets

from helpers import (
    FIGURES,
    FIXTURE_SECRET,
    PASSWORD,
    Gunicorn,
    form_body,
    free_port,
    load_fixture,
    stop,
    wait_for,
)

# How long Redis stays up, down and up again, and a bound on the orders streamed meanwhile.
PHASE_SECONDS = 2
MAX_ORDERS = 2000


class RedisServer:
    """A redis-server of the test's own on a loopback port, stopped and started at will."""

    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answers, timeout=10)

    def answers(self):
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop(self):
        stop(self.process)

    def flush(self):
        import redis

        redis.Redis.from_url(self.url).flushall()

    def keys(self, pattern):
        import redis

        return redis.Redis.from_url(self.url).keys(pattern)


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def order(number):
    payload = load_fixture("order-success.json")
    payload["thrivecart_secret"] = FIXTURE_SECRET
    payload["order_id"] = payload["order"]["id"] = str(810000 + number)
    payload["customer"]["email"] = f"buyer{number}@example.com"
    return form_body(payload)


WRONG = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "GUESS1234"})


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect)

    def request(self, path, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def csrf(self, path):
        _, page = self.request(path)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def sign_in(self, password):
        token = self.csrf("/login")
        return self.request("/login", {"csrf_token": token, "email": "ada@example.com",
                                       "password": password})[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_redis_outage_loses_nothing_and_answers_every_path(
        app, database_url, linked_event, make_user, redis_server, tmp_path):
    make_user("ada@example.com")
    env = {"RATELIMIT_STORAGE_URI": redis_server.url, "JOBS_URL": redis_server.url,
           "RATELIMIT_KEY_PREFIX": f"outage-{uuid.uuid4().hex}",
           "WEBHOOK_WRONG_SECRET_RATE_LIMIT": "12 per minute",
           "LOGIN_RATE_LIMIT": "1000 per minute", "FRESH_LINK_RATE_LIMIT": "1000 per hour",
           "FRESH_LINK_RECIPIENT_RATE_LIMIT": "1000 per hour",
           "RATELIMIT_RETRY_SECONDS": "1", "SESSION_COOKIE_SECURE": "0",
           "PUBLIC_BASE_URL": "http://127.0.0.1"}
    log_path = tmp_path / "gunicorn.log"
    statuses = {"order": [], "sign_in": [], "wrong_secret": [], "fresh_link": []}
    with Gunicorn(database_url, workers=2, threads=4, env=env, log_path=log_path) as server:
        assert server.post("/api/webhooks/thrivecart/", order(0))[0] == 200
        app.config["PUBLIC_BASE_URL"] = "http://127.0.0.1"
        with app.app_context():
            from heysummit_tc.emails import access_url

            buyer = db.session.scalar(select(Attendee).where(
                Attendee.email == "buyer0@example.com"))
            link = AccessLink(attendee_id=buyer.id, expires_at=buyer.created_at)  # expired
            db.session.add(link)
            db.session.commit()
            fresh_path = urllib.parse.urlparse(access_url(link.id)).path + "/fresh"

        phases_done = threading.Event()

        def stream_orders():
            # Orders keep coming through every phase, however fast this machine posts them.
            number = 1
            while not phases_done.is_set() and number < MAX_ORDERS:
                statuses["order"].append(server.post("/api/webhooks/thrivecart/",
                                                     order(number))[0])
                number += 1
                time.sleep(0.02)

        def the_other_paths():
            browser = Browser(server.url)
            statuses["sign_in"].append(browser.sign_in(PASSWORD))
            statuses["sign_in"].append(Browser(server.url).sign_in("wrong password"))
            statuses["wrong_secret"].append(server.post("/api/webhooks/thrivecart/", WRONG)[0])
            buyer_browser = Browser(server.url)
            token = buyer_browser.csrf(fresh_path[:-len("/fresh")])
            statuses["fresh_link"].append(buyer_browser.request(
                fresh_path, {"csrf_token": token, "email": "buyer0@example.com"})[0])

        streaming = threading.Thread(target=stream_orders)
        streaming.start()
        phases = []
        for phase in ("up", "down", "up again"):
            if phase == "down":
                redis_server.stop()
            elif phase == "up again":
                redis_server.start()
            started = time.monotonic()
            while time.monotonic() - started < PHASE_SECONDS:
                the_other_paths()
                time.sleep(0.1)
            phases.append((phase, len(statuses["order"])))
        phases_done.set()
        streaming.join()

        # Limits are enforced again, by Redis: a fresh window's wrong secrets reach 429.
        redis_server.flush()
        after = [server.post("/api/webhooks/thrivecart/", WRONG)[0] for _ in range(14)]
        counted_in_redis = redis_server.keys(f"{env['RATELIMIT_KEY_PREFIX']}*")

    log = log_path.read_text()
    warnings = [line for line in log.splitlines() if "is unreachable" in line]
    recovered = [line for line in log.splitlines() if "is reachable again" in line]
    FIGURES.append(f"Redis outage (limiter and job queue): {len(statuses['order'])} orders, "
                   f"{sum(map(len, statuses.values()))} requests in all, "
                   f"{phases[1][1] - phases[0][1]} of them while Redis was down, "
                   f"{len(warnings)} warning line(s) over 2 workers, "
                   f"wrong secrets after recovery: {after}")
    every_status = [code for codes in statuses.values() for code in codes]
    assert all(code < 500 for code in every_status), phases
    assert set(statuses["order"]) == {200}
    assert set(statuses["sign_in"]) == {302, 401}  # signed in; the wrong password refused
    orders_while_down = phases[1][1] - phases[0][1]
    assert orders_while_down > 10, phases
    assert set(statuses["fresh_link"]) == {200}
    assert "Traceback" not in log
    # One warning per worker process and dependency at most (limiter, job queue), not one
    # per request, and each recovers by itself.
    assert 1 <= len(warnings) <= 4
    assert recovered
    assert after == [403] * 12 + [429] * 2 and counted_in_redis
    with app.app_context():
        counts = [db.session.scalar(select(func.count()).select_from(model))
                  for model in (Attendee, TicketPurchase, WebhookDelivery)]
    posted = 1 + len(statuses["order"])  # order 0, then the stream's
    assert counts == [posted, posted, posted]  # each order applied once, none lost


@pytest.fixture
def unreachable_redis_app(make_app):
    """The app with its limiter's storage on a port where nothing listens (made before the
    test collects log records: making an app sets the app's log handlers anew)."""
    return make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
                    LOGIN_RATE_LIMIT="3 per minute", WEBHOOK_WRONG_SECRET_RATE_LIMIT="2 per minute")


def test_limits_are_kept_in_memory_while_the_storage_is_unreachable(unreachable_redis_app,
                                                                     warning_records):
    app = unreachable_redis_app
    assert isinstance(app.extensions["failure_limiter"], FallbackLimiter)
    with app.app_context():
        assert [login_failures.record_failure("10.0.0.1") for _ in range(4)] == [
            True, True, True, False]
        assert login_failures.exceeded("10.0.0.1")
        assert not login_failures.exceeded("10.0.0.2")
        assert [wrong_secrets.record_failure("10.0.0.1") for _ in range(3)] == [
            True, True, False]
    warnings = [record for record in warning_records if "unreachable" in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None
