"""Security headers, sign-in sessions and rate limits."""

from flask import current_app, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from .admin.access import load_signed_in_user
from .extensions import login_manager

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
    # Counters live where RATELIMIT_STORAGE_URI says (Redis for several servers). Only the
    # Redis storages take a key prefix: memory has no shared keys, and memcached's and
    # MongoDB's would pass it on to their client, which knows no such option.
    uri = app.config["RATELIMIT_STORAGE_URI"]
    options = {"key_prefix": app.config["RATELIMIT_KEY_PREFIX"]} if uri.startswith("redis") else {}
    storage = storage_from_string(uri, **options)
    app.extensions["failure_limiter"] = MovingWindowRateLimiter(storage)


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
