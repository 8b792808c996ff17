"""Background jobs on Huey: the access email relay and the periodic chores.

Huey keeps its queue in SQLite beside the app's instance data by default and in Redis when
``JOBS_URL`` is a ``redis://`` URL (several worker hosts then share it). The jobs only start
work; what must happen once is claimed in the app's database (the outbox rows, the alert
digests), so a job that runs twice, or on two hosts, does no harm.

Run the worker with ``huey_consumer heysummit_tc.worker.huey`` (``make run`` does).
"""

import logging
import socket
from datetime import timedelta
from pathlib import Path

from flask import current_app
from huey import RedisHuey, SqliteHuey, crontab
from redis import ConnectionPool

from .outages import Outage

log = logging.getLogger(__name__)

# The queue is only a wake-up call: while it is unreachable the worker's sweep sends the
# outbox, and the log says so once per outage rather than once per email.
queue_outage = Outage("the job queue", "emails wait for the worker's once-a-minute sweep")

SEND_EMAILS = "send_emails"


def build_huey(app):
    """Return the Huey queue ``app.config['JOBS_URL']`` names, with every job registered."""
    url = app.config["JOBS_URL"]
    if url.startswith(("redis://", "rediss://", "unix://")):
        # A Redis that does not answer must not hold a request: enqueueing gives up soon.
        pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        huey = RedisHuey("heysummit", connection_pool=pool, utc=True)
    else:
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # No fsync: a queued job only wakes the worker up. The outbox row in the app's
        # database is the durable record, and the worker's sweep finds it if a job is lost.
        huey = SqliteHuey("heysummit", filename=path, utc=True, fsync=False)
    _register(huey, app)
    return huey


def _register(huey, app):
    def in_app(function):
        def run():
            with app.app_context():
                return function()

        run.__name__ = function.__name__
        return run

    # A refused email raises RetryLater: Huey runs the job again after the first backoff.
    send = huey.task(name=SEND_EMAILS, retries=5,
                     retry_delay=app.config["EMAIL_RETRY_SECONDS"])(in_app(send_emails))

    # The sweep: whatever a lost enqueue or a retry's backoff left behind, sent by the job
    # above (which retries), never here.
    @huey.periodic_task(crontab(minute="*"), name="sweep_emails")
    def sweep_emails():
        send()

    if app.config["JOBS_PERIODIC"]:
        huey.periodic_task(crontab(minute="*/10"), name="expire")(in_app(expire))
        huey.periodic_task(crontab(minute="*/5"), name="alerts")(in_app(send_alerts))
        huey.periodic_task(crontab(minute="15", hour="3"), name="prune")(in_app(prune))
    huey.send_emails = send


def queue_for(app):
    """Return the app's queue, built once per app."""
    if "huey" not in app.extensions:
        app.extensions["huey"] = build_huey(app)
    return app.extensions["huey"]


def wake_email_worker():
    """Ask a worker to send what the outbox holds now; never fail the caller.

    The emails are in the database already: if the queue is unreachable, the worker's
    once-a-minute sweep sends them.
    """
    try:
        queue_for(current_app._get_current_object()).send_emails()
    except Exception as error:  # noqa: BLE001 - the sweep covers it
        queue_outage.failed(error)
    else:
        queue_outage.succeeded()


def after_grant(result):
    """Wake the email worker when a delivery granted something (its access email waits)."""
    if result.granted:
        wake_email_worker()


def _mail_timeout():
    # Flask-Mail opens SMTP connections without a timeout: a silent server must not hang a
    # job or a cron run.
    socket.setdefaulttimeout(current_app.config["MAIL_TIMEOUT"])


class RetryLater(Exception):
    """Some emails were refused and wait for their retry."""


def send_emails():
    from .config import mail_problem
    from .emails import access_url, deliver_access_email, deliver_invite
    from .extensions import db
    from .services.access_emails import Sender, send_due, waiting_for_retry

    _mail_timeout()
    config = current_app.config
    # A send is a handful of SMTP exchanges, each given up after MAIL_TIMEOUT: an email
    # claimed longer ago than four of those was left by a worker that died, and is sent
    # again (with the same Message-ID).
    sender = Sender(deliver_access_email, access_url, mail_problem(config) is None,
                    config["EMAIL_RETRY_SECONDS"], invite=deliver_invite)
    counts = send_due(db.session, sender,
                      stale_after=timedelta(seconds=4 * config["MAIL_TIMEOUT"]))
    if counts:
        log.info("access emails: %s", ", ".join(f"{count} {status}"
                                                for status, count in sorted(counts.items())))
    waiting = waiting_for_retry(db.session)
    db.session.commit()
    if waiting:
        raise RetryLater(f"{waiting} email(s) refused; retried with backoff")
    return counts


def expire():
    from .extensions import db
    from .services.lifecycle import expire_cancelled

    count = expire_cancelled(db.session)
    db.session.commit()
    return count


def send_alerts():
    """Send the due alert digests; return (sent, failed), or None when mail is not set up
    (the CLI says why; the periodic job just waits for it)."""
    from .config import mail_problem
    from .emails import deliver_digest
    from .extensions import db
    from .services.alerts import send_digests

    if mail_problem(current_app.config):
        return None
    _mail_timeout()
    return send_digests(db.session, deliver_digest,
                        silence_days=current_app.config["ALERT_SILENCE_DAYS"])


def prune():
    from .extensions import db
    from .services.held import prune_held
    from .services.retention import prune_payloads

    pruned = prune_payloads(db.session, current_app.config["PAYLOAD_RETENTION_DAYS"])
    dropped = prune_held(db.session)
    db.session.commit()
    return pruned, dropped
