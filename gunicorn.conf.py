"""gunicorn's production configuration; gunicorn reads this file from the working directory.

Run behind a reverse proxy that buffers request bodies (``deploy/nginx.conf``): the proxy
absorbs slow clients, and these settings keep a slow or hostile client from pinning the
app's workers when it reaches them directly. Every value can be overridden on the command
line (``make run`` does for the bind address and workers).
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")

# Threads per worker: a client that trickles a body holds one thread, not a whole process.
# Each worker's database pool (5 + 10 overflow) covers its threads.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
# A worker takes no more connections than it has threads: one whose threads are all held
# by slow clients stops accepting, and the others serve the rest meanwhile. That leaves no
# room for idle kept-alive connections, so keep-alive is off (each response closes its
# connection; gunicorn would otherwise warn at every start that it cannot keep any).
worker_connections = threads
keepalive = 0

# A request that takes longer than this is killed; ThriveCart orders take milliseconds.
timeout = 30
graceful_timeout = 20
# Restart workers now and then, so that nothing slowly accumulated lasts for ever: each after
# a random 5,000 to 10,000 requests. An even load brings every worker to its limit together,
# and with a jitter of a tenth they all restarted within a second of each other, leaving
# nobody to answer.
max_requests = 5000
max_requests_jitter = 5000
# Workers fork from a master that has loaded the app: a restarted worker serves again at once,
# where importing the app took it a second or more. A code change therefore needs a restart of
# the master, not a HUP.
preload_app = True

# Seconds a client has to send a request's whole body once its headers are in (408 after;
# see heysummit_tc.body_deadline). ThriveCart's posts arrive in milliseconds; behind the proxy
# the body is whole before it gets here.
body_timeout = float(os.environ.get("GUNICORN_BODY_TIMEOUT", 10))

# Request-line and header limits: ThriveCart's posts are small; anything larger is hostile.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# X-Forwarded-* are believed only from these addresses (the proxy); see TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The app logs one line per request itself (with its request id): no access log here.
errorlog = "-"


def worker_int(worker):
    """Quick shutdown (SIGINT, as Ctrl+C in ``make run`` sends, or SIGQUIT) means now: a
    thread still waiting on a client (a request's headers half sent, a browser's idle
    connection) would otherwise hold the worker's exit until the master kills it after
    ``graceful_timeout``. In-flight transactions roll back, as at any crash. The graceful stop
    is SIGTERM, unchanged."""
    import logging

    logging.shutdown()
    os._exit(0)


def post_worker_init(worker):
    """Hold each request's body to ``body_timeout``: gunicorn itself waits for a body as
    long as the client likes, one thread per trickling client."""
    app = worker.wsgi
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # another app served with this configuration (bench/floor.py)
    from heysummit_tc.body_deadline import BodyDeadline

    worker.wsgi = BodyDeadline(app, seconds=body_timeout,
                               limit=app.config["MAX_CONTENT_LENGTH"])


def post_fork(server, worker):
    """Give each worker its own database connections: none made before the fork may be
    shared (the master opens none today; this keeps it so)."""
    app = worker.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # another app served with this configuration (bench/floor.py)
    from heysummit_tc.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
