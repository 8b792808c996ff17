"""Security headers, sign-in sessions and rate limits."""

import threading
import time

from flask import current_app, g, request
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from .extensions import db, login_manager
from .outages import Outage
from .services.accounts import load_user

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])


def load_signed_in_user(user_id):
    """Flask-Login's user loader: the user a session cookie names.

    On an event's page (an ``event_id`` in its URL), their membership of that event is read
    in the same statement and kept for :func:`.admin.access.event_view`, which would
    otherwise ask for it next.
    """
    event_id = (request.view_args or {}).get("event_id")
    if not isinstance(event_id, int):
        event_id = None
    user, membership = load_user(db.session, user_id, event_id)
    if user is not None and event_id is not None:
        g.membership_read = (user.id, event_id, membership)
    return user


def register(app):
    """Install the login loader and the headers every response gets."""
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_signed_in_user)
    app.after_request(_set_security_headers)
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Client addresses (rate limits, logs) and https (HSTS, cookies) as the proxy saw them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["failure_limiter"] = limiter_for(app.config)


def limiter_for(config):
    """The failure limiter over the storage RATELIMIT_STORAGE_URI names.

    Counters live there (Redis for several servers). Only the Redis storages take a key
    prefix and socket timeouts: memory has no shared keys, and memcached's and MongoDB's
    would pass them on to their client, which knows no such option.
    """
    uri = config["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory"):
        return MovingWindowRateLimiter(storage_from_string(uri))
    options = {}
    if uri.startswith("redis"):
        # A Redis that does not answer must not hold a sign-in for long.
        seconds = config["RATELIMIT_STORAGE_TIMEOUT"]
        options = {"key_prefix": config["RATELIMIT_KEY_PREFIX"], "socket_timeout": seconds,
                   "socket_connect_timeout": seconds}
    return FallbackLimiter(storage_from_string(uri, wrap_exceptions=True, **options),
                           retry_seconds=config["RATELIMIT_RETRY_SECONDS"])


class FallbackLimiter:
    """A moving-window limiter on shared storage that keeps limiting while it is unreachable.

    While the storage fails, counts go to this process's memory (each server then limits on
    its own, as a single server would), the log says so once, and every
    ``retry_seconds`` one request checks whether the storage is back; when it is, the shared
    counts take over again. Nothing a limited path does waits on the outage.
    """

    def __init__(self, storage, *, retry_seconds):
        self.storage = storage
        self.shared = MovingWindowRateLimiter(storage)
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.retry_seconds = retry_seconds
        self.outage = Outage("the rate limiter's storage",
                             "rate limits are counted in each server's memory")
        self._errors = (StorageError, storage.base_exceptions)
        self._next_check = 0.0
        self._checking = threading.Lock()

    def hit(self, limit, *identifiers):
        return self._call("hit", limit, *identifiers)

    def test(self, limit, *identifiers):
        return self._call("test", limit, *identifiers)

    def _call(self, method, limit, *identifiers):
        if self.outage.down and not self._back():
            return getattr(self.local, method)(limit, *identifiers)
        try:
            answer = getattr(self.shared, method)(limit, *identifiers)
        except self._errors as error:
            self._next_check = time.monotonic() + self.retry_seconds
            self.outage.failed(error)
            return getattr(self.local, method)(limit, *identifiers)
        self.outage.succeeded()
        return answer

    def _back(self):
        """Whether the storage answers again; asked by one request at a time, at most every
        ``retry_seconds``."""
        if time.monotonic() < self._next_check or not self._checking.acquire(blocking=False):
            return False
        try:
            self._next_check = time.monotonic() + self.retry_seconds
            try:
                return self.storage.check()
            except self._errors:
                return False
        finally:
            self._checking.release()


def _set_security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        # Pages hold buyers' personal data: no shared or back-button caches.
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


class FailureLimit:
    """A rate limit that counts only failures (wrong passwords, wrong secret words).

    Successes are never counted or refused, so a client that shares an address with an
    attacker (ThriveCart's servers post for every account) keeps getting through. This is
    why these limits use the ``limits`` library directly: a per-route limit would refuse
    the good requests too once the bad ones used it up.
    """

    def __init__(self, name, config_key):
        self.name = name
        self.config_key = config_key

    def _limit(self):
        return parse(current_app.config[self.config_key])

    def exceeded(self, client):
        """Tell whether ``client`` has used up its failures."""
        limiter = current_app.extensions["failure_limiter"]
        return not limiter.test(self._limit(), self.name, client)

    def record_failure(self, client):
        """Count one failure for ``client``; return False when it is over the limit."""
        limiter = current_app.extensions["failure_limiter"]
        return limiter.hit(self._limit(), self.name, client)


login_failures = FailureLimit("login", "LOGIN_RATE_LIMIT")
wrong_secrets = FailureLimit("webhook-secret", "WEBHOOK_WRONG_SECRET_RATE_LIMIT")
