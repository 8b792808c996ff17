"""Plain helpers tests import: fixture payloads and ThriveCart-shaped bodies."""

import html
import json
import re
import signal
from contextlib import contextmanager
from pathlib import Path

from qs_codec import EncodeOptions, ListFormat, encode

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_SECRET = "K7Q2M9X4TZ1B"
PASSWORD = "correct horse battery"
# Figures tests measured; conftest prints them at the end of the run.
FIGURES = []


def load_fixture(name):
    """Return a fixture payload as the nested structure ThriveCart describes."""
    return json.loads((FIXTURES / name).read_text())


def fixture_bytes(name):
    return (FIXTURES / name).read_bytes().strip()


def form_body(payload, encode_brackets=True):
    """Encode a nested payload the way ThriveCart posts forms (PHP bracket keys)."""
    options = EncodeOptions(list_format=ListFormat.INDICES, encode=True,
                            encode_values_only=not encode_brackets)
    return encode(payload, options).encode()


def json_body(payload):
    return json.dumps(payload).encode()


def record_only(app, order, event_ids, now=None):
    """Record a delivery and commit it, as the webhook does before processing; return its id."""
    from heysummit_tc.extensions import db
    from heysummit_tc.services.provisioning import record_delivery

    with app.app_context(), db.engine.connect() as connection:
        delivery_id = record_delivery(connection, order, event_ids, now=now)
        connection.commit()
    return delivery_id


def text_of(response):
    """A page's text as a reader sees it (entities decoded), asserting it answered 200."""
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def post_webhook(client, body, content_type="application/x-www-form-urlencoded", path=None):
    """POST a body to the webhook as ThriveCart would."""
    return client.post(path or "/api/webhooks/thrivecart/", data=body,
                       content_type=content_type)



def stop(process, sig=signal.SIGTERM):
    """Stop a server process: with ``sig`` (SIGTERM, politely), then for good."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except Exception:  # noqa: BLE001 - whatever kept it alive, it goes now
        process.kill()
        process.wait()


def free_port():
    """Return a TCP port on the loopback interface that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """A real gunicorn serving the app on a loopback port, for tests over HTTP."""

    def __init__(self, database_url, workers=2, threads=1, env=None, log_path=None,
                 production=False, args=()):
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        # True: workers, threads and timeouts exactly as gunicorn.conf.py sets them.
        self.production = production
        self.env = env or {}
        self.args = list(args)  # more gunicorn options, after the others
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process = None

    def __enter__(self):
        import os
        import subprocess
        import sys
        import time
        import urllib.request

        env = {
            **os.environ,
            "APP_ENV": "production",
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "test-secret-key",
            "SECRET_WORD_KEY": "test-secret-word-key",
            "LOG_LEVEL": "INFO",
            **self.env,
        }
        self.log = open(self.log_path, "w+b") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        tuning = [] if self.production else [
            "--workers", str(self.workers), "--threads", str(self.threads),
            "--graceful-timeout", "5", "--timeout", "60"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}", *tuning, *self.args, "wsgi:app"],
            cwd=Path(__file__).parent.parent, env=env, stdout=self.log, stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200 and self._all_workers_up():
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("gunicorn did not become healthy within 30 s")

    def _all_workers_up(self):
        """The master forks its workers one after another once it has loaded the app
        (preload_app): the first may answer before the last exists."""
        if self.production:
            return True
        pid = self.process.pid
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return len(children.read().split()) >= self.workers

    def __exit__(self, *exc):
        # Quick shutdown (gunicorn.conf.py's worker_int): the test is over, and a graceful
        # stop waits on clients a test left connected, up to the graceful timeout.
        stop(self.process, signal.SIGINT)
        if self.log_path and self.log:
            self.log.close()

    def post(self, path, body, content_type="application/x-www-form-urlencoded", timeout=30):
        """POST bytes; return (status, body bytes) even for error statuses."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


class TcpProxy:
    """A loopback TCP proxy to a database server that a test can cut and restore."""

    def __init__(self, target_host, target_port):
        import socket

        self.target = (target_host, target_port)
        self.port = free_port()
        self._socket_module = socket
        self._listener = None
        self._connections = []
        self._lock = None
        self.unresponsive = False

    def hang(self):
        """Cut open connections and accept new ones without ever answering."""
        self.stop()
        self.unresponsive = True
        return self.start()

    def start(self):
        import threading

        socket = self._socket_module
        self._lock = self._lock or threading.Lock()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self):
        """Refuse new connections and cut every open one, as a dead server would."""
        socket = self._socket_module
        if self._listener:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        self.unresponsive = False
        with self._lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self._connections.clear()

    def _accept(self, listener):
        import threading

        socket = self._socket_module
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.unresponsive:
                with self._lock:
                    self._connections.append(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass


def mail_config(smtp_server):
    """The configuration that sends the app's mail to the loopback SMTP server."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port, "MAIL_USE_TLS": False,
            "MAIL_SUPPRESS_SEND": False, "MAIL_DEFAULT_SENDER": "alerts@heysummit.test",
            "PUBLIC_BASE_URL": "https://events.example.com"}


class Worker:
    """The real background worker (Huey's consumer) on the test's database and queue."""

    def __init__(self, database_url, jobs_url, env=None, log_path=None):
        self.database_url = database_url
        self.jobs_url = jobs_url
        self.env = env or {}
        self.log_path = log_path
        self.process = None

    def __enter__(self):
        import os
        import subprocess
        import sys

        env = {**os.environ, "APP_ENV": "production", "DATABASE_URL": self.database_url,
               "SECRET_KEY": "test-secret-key", "SECRET_WORD_KEY": "test-secret-word-key",
               "JOBS_URL": self.jobs_url, "JOBS_PERIODIC": "0", **self.env}
        self.log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # Poll the queue every 0.1 s and never back off beyond half a second when idle.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "heysummit_tc.worker.huey",
             "--workers", "2", "--worker-type", "thread", "--delay", "0.1",
             "--max-delay", "0.5"],
            cwd=Path(__file__).parent.parent, env=env, stdout=self.log, stderr=self.log)
        return self

    def __exit__(self, *exc):
        stop(self.process)
        if self.log_path:
            self.log.close()


def mail_env(smtp_server):
    """The environment that sends a process's mail to the loopback SMTP server."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port), "MAIL_USE_TLS": "0",
            "MAIL_DEFAULT_SENDER": "events@heysummit.test",
            "PUBLIC_BASE_URL": "https://events.example.com", "EMAIL_RETRY_SECONDS": "1"}


def wait_for(check, timeout=30, interval=0.05):
    """Return check()'s first truthy value within ``timeout`` seconds, else fail."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {getattr(check, '__doc__', None) or check}")


@contextmanager
def purchases_refused(session, backend):
    """Make the database refuse purchase inserts inside the block (after an attendee insert
    succeeded, so a delivery fails between two writes)."""
    from sqlalchemy import text

    if backend == "postgresql":
        session.execute(text(
            "CREATE FUNCTION refuse_purchase() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"))
        session.execute(text(
            "CREATE TRIGGER refuse_purchase BEFORE INSERT ON ticket_purchases "
            "FOR EACH ROW EXECUTE FUNCTION refuse_purchase()"))
    else:
        session.execute(text(
            "CREATE TRIGGER refuse_purchase BEFORE INSERT ON ticket_purchases "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"))
    session.commit()
    try:
        yield
    finally:
        session.rollback()
        if backend == "postgresql":
            session.execute(text("DROP TRIGGER refuse_purchase ON ticket_purchases"))
            session.execute(text("DROP FUNCTION refuse_purchase()"))
        else:
            session.execute(text("DROP TRIGGER refuse_purchase"))
        session.commit()


def import_buyers(session, event_id, ticket_id, count, test=lambda index: False):
    """Write ``count`` attendees of the event, each holding a paid purchase of the ticket, in
    two statements (as an import would); commit and return their ids in order."""
    from sqlalchemy import insert, select

    from heysummit_tc.models import Attendee, TicketPurchase, utcnow

    now = utcnow()
    session.execute(insert(Attendee), [
        {"event_id": event_id, "email": f"import{n}@example.com", "first_name": "",
         "last_name": "", "created_at": now, "updated_at": now} for n in range(count)])
    imported = session.scalars(select(Attendee.id).where(Attendee.email.like("import%"))
                               .order_by(Attendee.id)).all()
    session.execute(insert(TicketPurchase), [
        {"attendee_id": attendee_id, "ticket_id": ticket_id, "status": "paid", "amount": 9700,
         "currency": "USD", "source": "thrivecart", "test": test(index), "paid_at": now,
         "created_at": now, "updated_at": now} for index, attendee_id in enumerate(imported)])
    session.commit()
    return imported


def numbers(session):
    """SQL for the rows 1 to ``:count`` as a column ``n``, for tests that write many rows in
    one statement the database runs itself."""
    if session.get_bind().dialect.name == "postgresql":
        return "SELECT generate_series(1, :count) AS n"
    return ("WITH RECURSIVE numbers (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers "
            "WHERE n < :count) SELECT n FROM numbers")


def explain(connection, statement, *, seqscan=True, **values):
    """The plan the database makes for ``statement`` with ``values`` bound, as one text.

    ``seqscan=False`` keeps PostgreSQL off sequential scans, for a test whose tables are too
    small for the planner to prefer an index it could use."""
    compiled = statement.compile(dialect=connection.dialect)
    parameters = compiled.construct_params(values)
    if compiled.positional:
        parameters = tuple(parameters[name] for name in compiled.positiontup)
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, parameters)
        return "\n".join(str(row[-1]) for row in rows)
    if not seqscan:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = connection.exec_driver_sql("EXPLAIN " + compiled.string, parameters)
    return "\n".join(row[0] for row in rows)


def log_url(event_id, **query):
    """The event's delivery log, with the log's query."""
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"/events/{event_id}/deliveries/?{params}"


def delivery_links(page):
    """The delivery ids a page links to, in order."""
    return [int(n) for n in re.findall(r"/thrivecart/deliveries/(\d+)/", page)]
