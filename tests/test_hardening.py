"""Hardening: headers, cookies, sessions, passwords, rate limits and production configuration."""

import re
import uuid

import pytest

from heysummit_tc import create_app
from heysummit_tc.config import ConfigError
from heysummit_tc.security import FailureLimit

from helpers import PASSWORD, Gunicorn, fixture_bytes, form_body, load_fixture, post_webhook


@pytest.fixture
def with_an_order(client, organiser):
    """The organiser's event, with one order delivered (an attendee, a delivery)."""
    post_webhook(client, fixture_bytes("order-success.form"))
    return organiser


def html_pages(app, event_id):
    ids = {"event_id": event_id, "ticket_id": 1, "attendee_id": 1, "delivery_id": 1}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments - set(ids) and rule.endpoint != "static":
            with app.test_request_context():
                yield app.url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})


def test_every_html_response_carries_the_security_headers(app, client, with_an_order):
    checked = 0
    pages = [*html_pages(app, with_an_order), "/login", "/no-such-page",
             f"/events/{with_an_order + 9}/"]
    for url in pages:
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        checked += 1
        headers = response.headers
        assert headers["Content-Security-Policy"] == (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'"), url
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"  # buyers' data stays out of caches
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP here
        body = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), url  # no inline script
        assert " style=" not in body and "<style" not in body, url  # no inline style
    assert checked >= 12


HSTS = "max-age=31536000; includeSubDomains"  # a year, subdomains too


def test_hsts_over_https(client, with_an_order):
    response = client.get(f"/events/{with_an_order}/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_production_session_cookie_is_secure_httponly_lax(make_app, app, make_user):
    make_user("ada@example.com")
    production = make_app(APP_ENV="production", SESSION_COOKIE_SECURE=True)
    client = production.test_client()
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD},
                           base_url="https://localhost")
    cookie = next(value for value in response.headers.getlist("Set-Cookie")
                  if value.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert production.config["SESSION_COOKIE_SECURE"] is True


def test_config_defaults_secure_cookies_outside_development(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("SECRET_WORD_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("APP_ENV", raising=False)
    app = create_app()
    assert app.config["APP_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_sign_in_starts_a_new_session(client, make_user):
    make_user("ada@example.com")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    before = client.get_cookie("session").value
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session and "_user_id" in session
    assert client.get_cookie("session").value != before


@pytest.mark.parametrize("missing", ["SECRET_KEY", "SECRET_WORD_KEY"])
def test_production_refuses_to_start_without_keys(monkeypatch, tmp_path, missing):
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("SECRET_WORD_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv(missing)
    monkeypatch.delenv("APP_ENV", raising=False)
    with pytest.raises(ConfigError, match=missing):
        create_app()


def test_production_never_runs_debug(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app({"APP_ENV": "production", "SECRET_KEY": "k", "SECRET_WORD_KEY": "k",
                      "DEBUG": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.debug is False and app.config["DEBUG"] is False


def test_failed_sign_ins_are_rate_limited_per_address(make_app, app, make_user):
    make_user("ada@example.com")
    limited = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    statuses = [client.post("/login", data={"email": "ada@example.com",
                                            "password": "wrong password"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Even the right password waits now; another address does not.
    assert client.post("/login", data={"email": "ada@example.com",
                                       "password": PASSWORD}).status_code == 429
    other = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 302


def test_a_client_out_of_sign_ins_may_still_post_orders_and_each_limit_reads_its_setting(
    make_app, app, make_user
):
    make_user("ada@example.com")
    limited = make_app(LOGIN_RATE_LIMIT="2 per minute",
                       WEBHOOK_WRONG_SECRET_RATE_LIMIT="1 per minute")
    client = limited.test_client()
    assert [client.post("/login", data={"email": "ada@example.com", "password": "wrong"}
                        ).status_code for _ in range(3)] == [401, 401, 429]
    wrong = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "GUESS1234"})
    assert [post_webhook(client, wrong).status_code for _ in range(2)] == [403, 429]
    # The same holds for any limits built on the same store, even on the same setting: each
    # counts under its own name.
    with limited.app_context():
        first = FailureLimit("first", "LOGIN_RATE_LIMIT")
        second = FailureLimit("second", "LOGIN_RATE_LIMIT")
        assert [first.record_failure("10.0.0.9") for _ in range(3)] == [True, True, False]
        assert first.exceeded("10.0.0.9") and not second.exceeded("10.0.0.9")
        assert [second.record_failure("10.0.0.9") for _ in range(3)] == [True, True, False]


def test_wrong_secrets_are_rate_limited_but_valid_orders_still_pass(make_app, app,
                                                                    linked_event):
    limited = make_app(WEBHOOK_WRONG_SECRET_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    wrong = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "GUESS1234"})
    statuses = [post_webhook(client, wrong).status_code for _ in range(5)]
    assert statuses == [403, 403, 403, 429, 429]
    assert post_webhook(client, fixture_bytes("order-success.form")).status_code == 200


def test_installations_sharing_one_redis_count_apart_under_their_own_key_prefix(make_app, app):
    # Staging and production on one Redis: production's two servers share their counts,
    # staging's failures never lock production's users out.
    shared = f"test-{uuid.uuid4().hex}"

    def install(name):
        return make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
                        RATELIMIT_KEY_PREFIX=f"{shared}-{name}", LOGIN_RATE_LIMIT="2 per minute")

    staging, production, production_too = install("staging"), install("live"), install("live")
    logins = FailureLimit("login", "LOGIN_RATE_LIMIT")
    with staging.app_context():
        assert [logins.record_failure("10.0.0.9") for _ in range(3)] == [True, True, False]
    with production.app_context():
        assert not logins.exceeded("10.0.0.9")
        assert [logins.record_failure("10.0.0.9") for _ in range(2)] == [True, True]
    with production_too.app_context():
        assert logins.exceeded("10.0.0.9")


def test_redis_shares_the_wrong_secret_count_between_servers(app, database_url, figures):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis must run on 127.0.0.1:6379 for the shared rate-limit test")
    # A fresh key prefix: counters of earlier runs in the same minute do not count here.
    env = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
           "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
           "WEBHOOK_WRONG_SECRET_RATE_LIMIT": "4 per minute"}
    wrong = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "GUESS1234"})
    with Gunicorn(database_url, workers=1, env=env) as first, \
            Gunicorn(database_url, workers=1, env=env) as second:
        statuses = [first.post("/api/webhooks/thrivecart/", wrong)[0]
                    for _ in range(2)]
        statuses += [second.post("/api/webhooks/thrivecart/", wrong)[0]
                     for _ in range(3)]
    figures(f"wrong secret posts split over two servers sharing Redis: {statuses}")
    assert statuses == [403, 403, 403, 403, 429]


@pytest.mark.parametrize(("hops", "behind", "schemes"), [
    (1, "", "https"),
    # Each proxy appends what it saw: the buyer reached the balancer over https, the balancer
    # (10.0.0.2) reached nginx over http.
    (2, ", 10.0.0.2", "https, http"),
], ids=["one proxy", "a balancer in front of nginx"])
def test_behind_trusted_proxies_limits_count_the_client_the_outer_proxy_saw(
        make_app, app, linked_event, hops, behind, schemes):
    proxied = make_app(TRUSTED_PROXIES=hops, WEBHOOK_WRONG_SECRET_RATE_LIMIT="2 per minute")
    client = proxied.test_client()
    wrong = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "GUESS1234"})

    def post(address):
        return client.post("/api/webhooks/thrivecart/", data=wrong,
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Forwarded-For": address + behind}).status_code

    assert [post("198.51.100.7") for _ in range(3)] == [403, 403, 429]
    assert post("203.0.113.9") == 403  # another buyer's server behind the same proxies
    response = client.get("/login", headers={"X-Forwarded-Proto": schemes})
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_behind_a_trusted_proxy_the_webhook_url_is_the_public_one(make_app, app, organiser):
    proxied = make_app(TRUSTED_PROXIES=1)
    client = proxied.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "events.example.com"}
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD},
                headers=forwarded)
    page = client.get(f"/events/{organiser}/setup/integrations/thrivecart/", headers=forwarded)
    assert "https://events.example.com/api/webhooks/thrivecart/" in page.get_data(as_text=True)


def test_forwarded_headers_are_ignored_without_trusted_proxies(make_app, app, linked_event):
    direct = make_app(WEBHOOK_WRONG_SECRET_RATE_LIMIT="2 per minute")
    client = direct.test_client()
    wrong = form_body(load_fixture("order-success.json") | {"thrivecart_secret": "GUESS1234"})
    statuses = [client.post("/api/webhooks/thrivecart/", data=wrong,
                            content_type="application/x-www-form-urlencoded",
                            headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                for n in range(3)]
    assert statuses == [403, 403, 429]  # a forged header does not buy new allowances
