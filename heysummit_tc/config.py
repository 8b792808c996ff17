"""Configuration: defaults, then the environment, then explicit overrides."""

import os
import secrets
from pathlib import Path

from .database import QueuedWriters

DEVELOPMENT = "development"
PRODUCTION = "production"

# Bodies ThriveCart sends are a few kilobytes; anything near this limit is not an order.
DEFAULT_MAX_CONTENT_LENGTH = 256 * 1024


class ConfigError(RuntimeError):
    """The configuration cannot run safely."""


def load_config(app, overrides=None):
    """Fill app.config from defaults, the environment and overrides, and check it."""
    overrides = dict(overrides or {})
    env = os.environ
    app_env = overrides.get("APP_ENV") or env.get("APP_ENV", PRODUCTION)
    instance = Path(app.instance_path)

    config = app.config
    config.update(
        APP_ENV=app_env,
        SQLALCHEMY_DATABASE_URI=env.get("DATABASE_URL")
        or f"sqlite:///{instance / 'heysummit.db'}",
        SECRET_KEY=env.get("SECRET_KEY"),
        SECRET_WORD_KEY=env.get("SECRET_WORD_KEY"),
        PUBLIC_BASE_URL=env.get("PUBLIC_BASE_URL"),
        RATELIMIT_STORAGE_URI=env.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_KEY_PREFIX=env.get("RATELIMIT_KEY_PREFIX", "heysummit"),
        # While the limiter's Redis is unreachable: how long one call may wait for it, and
        # how often a request checks whether it is back (limits meanwhile in memory).
        RATELIMIT_STORAGE_TIMEOUT=float(env.get("RATELIMIT_STORAGE_TIMEOUT", 0.5)),
        RATELIMIT_RETRY_SECONDS=float(env.get("RATELIMIT_RETRY_SECONDS", 5)),
        LOGIN_RATE_LIMIT=env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        WEBHOOK_WRONG_SECRET_RATE_LIMIT=env.get("WEBHOOK_WRONG_SECRET_RATE_LIMIT", "30 per minute"),
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
        TRUSTED_PROXIES=int(env.get("TRUSTED_PROXIES", 0)),
        LOG_LEVEL=env.get("LOG_LEVEL", "INFO"),
        LOG_FORMAT=env.get("LOG_FORMAT", "text"),
        MAX_CONTENT_LENGTH=int(env.get("MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH)),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # HTTPS-only cookies everywhere but development; SESSION_COOKIE_SECURE=0 for a plain
        # HTTP deployment behind nothing (not recommended) or a local browser test.
        SESSION_COOKIE_SECURE=env.get("SESSION_COOKIE_SECURE", "1" if app_env != DEVELOPMENT
                                      else "0") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=app_env != DEVELOPMENT,
        WTF_CSRF_TIME_LIMIT=None,
        # Held deliveries (wrong secret) kept per presented secret, per client address, in all.
        HELD_DELIVERIES_PER_SECRET=int(env.get("HELD_DELIVERIES_PER_SECRET", 200)),
        HELD_DELIVERIES_PER_CLIENT=int(env.get("HELD_DELIVERIES_PER_CLIENT", 500)),
        HELD_DELIVERIES_TOTAL=int(env.get("HELD_DELIVERIES_TOTAL", 5000)),
        SQL_STATEMENT_COUNTS=env.get("SQL_STATEMENT_COUNTS") == "1",
        # Outgoing mail (alerts), read by Flask-Mail. Unset MAIL_SERVER: no mail is sent.
        MAIL_SERVER=env.get("MAIL_SERVER"),
        MAIL_PORT=int(env.get("MAIL_PORT", 587)),
        MAIL_USE_TLS=_flag(env.get("MAIL_USE_TLS", "1")),
        MAIL_USE_SSL=_flag(env.get("MAIL_USE_SSL", "0")),
        MAIL_USERNAME=env.get("MAIL_USERNAME"),
        MAIL_PASSWORD=env.get("MAIL_PASSWORD"),
        MAIL_DEFAULT_SENDER=env.get("MAIL_DEFAULT_SENDER"),
        MAIL_TIMEOUT=int(env.get("MAIL_TIMEOUT", 30)),
        # A folder that receives each email as a .eml file instead of an SMTP server
        # (development's default when MAIL_SERVER is unset).
        MAIL_SINK=env.get("MAIL_SINK"),
        # The background jobs' queue: SQLite beside the instance data, or redis://...
        JOBS_URL=env.get("JOBS_URL") or f"sqlite:///{instance / 'jobs.sqlite3'}",
        # Whether the worker also runs expire, alerts and prune on its schedule.
        JOBS_PERIODIC=_flag(env.get("JOBS_PERIODIC", "1")),
        PAYLOAD_RETENTION_DAYS=int(env.get("PAYLOAD_RETENTION_DAYS", 90)),
        # A refused email is tried again after this many seconds, doubling each time.
        EMAIL_RETRY_SECONDS=int(env.get("EMAIL_RETRY_SECONDS", 60)),
        FRESH_LINK_RATE_LIMIT=env.get("FRESH_LINK_RATE_LIMIT", "5 per hour"),
        FRESH_LINK_RECIPIENT_RATE_LIMIT=env.get("FRESH_LINK_RECIPIENT_RATE_LIMIT", "3 per hour"),
        # An alert digest reports silence after this many days without a delivery.
        ALERT_SILENCE_DAYS=int(env.get("ALERT_SILENCE_DAYS", 7)),
    )
    config.update(overrides)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(config["SQLALCHEMY_DATABASE_URI"]),
        **config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }

    if app_env == DEVELOPMENT:
        for name in ("SECRET_KEY", "SECRET_WORD_KEY"):
            if not config.get(name):
                config[name] = _instance_key(instance, name.lower())
        if not config.get("MAIL_SERVER"):
            # No SMTP server in development: every email the app sends lands in
            # instance/mail/ as a .eml file, links and all, to be read there.
            config["MAIL_SINK"] = config.get("MAIL_SINK") or str(instance / "mail")
            config["MAIL_DEFAULT_SENDER"] = (config.get("MAIL_DEFAULT_SENDER")
                                             or "heysummit-tc <noreply@localhost>")
            config["PUBLIC_BASE_URL"] = (config.get("PUBLIC_BASE_URL")
                                         or f"http://127.0.0.1:{env.get('PORT', '8000')}")
    else:
        missing = [name for name in ("SECRET_KEY", "SECRET_WORD_KEY") if not config.get(name)]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} must be set outside development "
                f"(APP_ENV={app_env}); refusing to start with a guessable key."
            )
        config["DEBUG"] = False


def _flag(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def mail_problem(config):
    """Return why email cannot be sent with this configuration, or None when it can."""
    needed = ("MAIL_DEFAULT_SENDER", "PUBLIC_BASE_URL")
    if not config.get("MAIL_SINK"):
        needed = ("MAIL_SERVER", *needed)
    missing = [name for name in needed if not config.get(name)]
    if missing:
        return (f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, so no "
                "email can be sent (see the README's Configuration).")
    return None


def engine_options(database_url):
    """Return engine options suited to the database behind the URL."""
    if database_url.startswith("sqlite"):
        # QueuedWriters: writers wait for each other in line, not by polling the lock.
        return {"connect_args": {"timeout": 30, "factory": QueuedWriters}}
    return {
        # A connection killed by the server or a restart is replaced, not handed out: see
        # database._on_checkout, which does without pool_pre_ping's round trip.
        "pool_recycle": 1800,
        # Short OLTP queries: JIT compilation costs more than it saves (10 ms and more).
        "connect_args": {"connect_timeout": 5, "options": "-c jit=off"},
    }


def _instance_key(instance, name):
    """Read a development key from instance/, generating it the first time."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
