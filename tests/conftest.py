"""Fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

Each backend gets a fresh database for the run, built by the real migrations; each test
starts from empty tables. ``REQUIRE_POSTGRES=1`` (set by .ci/run) turns a missing
PostgreSQL into a failure instead of a skip.
"""

import email
import email.policy
import logging
import os
import uuid
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from heysummit_tc import create_app
from heysummit_tc.extensions import db
from heysummit_tc.models import Base, Role
from heysummit_tc.security import limiter_for
from heysummit_tc.services import accounts
from heysummit_tc.services.accounts import create_user
from heysummit_tc.services.events import add_member, create_event
from heysummit_tc.services.integrations import set_secret_word
from heysummit_tc.services.tickets import TicketFields, create_ticket

from helpers import FIGURES, FIXTURE_SECRET, PASSWORD, free_port

BACKENDS = ["sqlite", "postgresql"]


def base_config(database_url, **overrides):
    """Return the configuration tests run the app with."""
    return {
        "APP_ENV": "testing",
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "SECRET_WORD_KEY": "test-secret-word-key",
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "WEBHOOK_WRONG_SECRET_RATE_LIMIT": "1000 per minute",
        # No mail unless a test brings its SMTP server (the smtp_server fixture).
        "MAIL_SERVER": None,
        **overrides,
    }


def _create_postgres_database():
    server_url = os.environ.get("TEST_DATABASE_URL")
    required = os.environ.get("REQUIRE_POSTGRES") == "1"
    if not server_url:
        if required:
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL tests skipped")
    name = f"heysummit_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        if required:
            pytest.fail(f"PostgreSQL is required but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    finally:
        admin.dispose()
    url = make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False), server_url, name


def _drop_postgres_database(server_url, name):
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    """Hash passwords with argon2id at its lowest cost: at OWASP's, each sign-in and each new
    user costs 20-25 ms. test_auth checks the app's own cost (and gunicorn's processes, which
    this does not reach, use it)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(accounts, "password_hasher",
                  PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    patch.undo()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A freshly migrated database of each backend, for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        cleanup = None
    else:
        url, server_url, name = _create_postgres_database()
        cleanup = (server_url, name)
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if cleanup:
        _drop_postgres_database(*cleanup)


@pytest.fixture
def blank_database_url(database_url, tmp_path):
    """A new, empty database of the same backend as ``database_url`` (no migration run)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    url, server_url, name = _create_postgres_database()
    yield url
    _drop_postgres_database(server_url, name)


TABLES = [table.name for table in reversed(Base.metadata.sorted_tables)]
# Every sequence of the schema back to 1, in one statement that finds them itself.
RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
    "WHERE schemaname = 'public'")
# How many rows each table holds, up to 1,001: one statement for all of them.
COUNT_ROWS = text("SELECT " + ", ".join(
    f"(SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1001) AS kept)" for table in TABLES))


def empty_tables(engine):
    """Delete every row, so that each test starts from an empty, migrated schema, its ids
    starting at 1 again.

    On PostgreSQL a TRUNCATE of every table costs 50 ms, a test's worth of work: the few rows
    a test leaves are deleted instead (children first) and the sequences restarted, in a
    couple of milliseconds. Tables of more than a thousand rows are truncated.
    """
    with engine.begin() as connection:
        if engine.dialect.name != "postgresql":
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
            return
        counts = connection.execute(COUNT_ROWS).one()
        if any(count > 1000 for count in counts):
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            return
        for table, count in zip(TABLES, counts, strict=True):
            if count:
                connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(RESTART_SEQUENCES)


@pytest.fixture
def make_app(database_url):
    """Return a factory of apps on this test's database; each is cleaned up afterwards."""
    apps = []

    def make(**overrides):
        app = create_app(base_config(database_url, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def _shared_apps():
    """One app per backend and test process, built once: building one compiles every route
    and, on first use, every template again, which cost more than most tests themselves."""
    apps = {}
    yield apps
    for app, _, _ in apps.values():
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(request, database_url, _shared_apps, make_app):
    """The app, on empty tables, as if new: its configuration, failure counters and job queue
    are those of a fresh app. A test marked ``own_app`` gets an app of its own: one it adds
    handlers to, or whose connections it inspects."""
    if request.node.get_closest_marker("own_app"):
        app = make_app()
        with app.app_context():
            empty_tables(db.engine)
        yield app
        return
    if database_url not in _shared_apps:
        app = create_app(base_config(database_url))
        _shared_apps[database_url] = app, dict(app.config), app.instance_path
    app, config, app.instance_path = _shared_apps[database_url]
    app.config.clear()
    app.config.update(config)
    app.extensions["failure_limiter"] = limiter_for(app.config)
    app.extensions.pop("huey", None)
    with app.app_context():
        empty_tables(db.engine)
    yield app
    with app.app_context():
        db.session.remove()


@pytest.fixture
def backend(app):
    """The name of the database the test runs on."""
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session of the test's own on the app's engine.

    It pushes no app context: one held for the whole test would be shared by the app's
    requests (their flask.g, and so the signed-in user, would leak from one to the next).
    """
    with app.app_context():
        engine = db.engine
    with Session(engine) as own:
        yield own


@pytest.fixture
def make_user(app):
    """Create users: make_user("ada@example.com") -> user id."""

    def make(email=None, password=PASSWORD):
        with app.app_context():
            user = create_user(db.session, email or f"user-{uuid.uuid4().hex[:8]}@example.com",
                               password)
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def make_event(app, make_user):
    """Create events: make_event(name, currency, organiser=user id) -> event id."""

    def make(name="Growth Summit", currency="USD", organiser=None, editors=()):
        with app.app_context():
            from heysummit_tc.models import User

            owner = db.session.get(User, organiser or make_user())
            event = create_event(db.session, name, currency, owner)
            for editor in editors:
                add_member(db.session, event, db.session.get(User, editor).email,
                           Role.TICKET_EDITOR)
            db.session.commit()
            return event.id

    return make


@pytest.fixture
def make_ticket(app):
    """Create tickets: make_ticket(event_id, name, external_id, prices=[("97.00", "USD")])."""

    def make(event_id, name="Ticket", external_id=None, prices=(), active=True, **policies):
        with app.app_context():
            from heysummit_tc.models import Event

            event = db.session.get(Event, event_id)
            ticket = create_ticket(db.session, event,
                                   TicketFields(name, external_id, active, **policies), prices)
            db.session.commit()
            return ticket.id

    return make


@pytest.fixture
def connect(app):
    """Save a Secret Word on an event: connect(event_id, secret=FIXTURE_SECRET)."""

    def save(event_id, secret=FIXTURE_SECRET):
        with app.app_context():
            from heysummit_tc.models import Event

            set_secret_word(db.session, db.session.get(Event, event_id), secret,
                            app.config["SECRET_WORD_KEY"])
            db.session.commit()

    return save


@pytest.fixture
def login(client):
    """Sign the test client in as a user (by email)."""

    def sign_in(email, password=PASSWORD):
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return sign_in


@pytest.fixture
def figures(request):
    """Record a measured figure; all of them are printed at the end of the run."""

    def record(text):
        FIGURES.append(f"{request.node.nodeid}: {text}")

    return record


def pytest_sessionfinish(session):
    """On an xdist worker, hand the figures it measured to the controller."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["figures"] = list(FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the controller, gather each xdist worker's figures."""
    FIGURES.extend(getattr(node, "workeroutput", {}).get("figures", []))


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("measured figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    """Run tests marked postgresql_only on PostgreSQL alone (deselect their SQLite copies)."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgresql_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def linked_event(make_event, make_ticket, connect):
    """An event with the fixture's Secret Word and a ticket for the fixture's product-12."""
    event_id = make_event("Growth Summit")
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    connect(event_id)
    return event_id


@pytest.fixture
def signed_in(app, login, make_user, make_event):
    """Sign the test client in with a role on an event, through the sign-in form:
    signed_in(role="organiser", email="ada@example.com", event_id=None, name="Growth Summit",
    currency="USD") -> the event's id (a new event unless ``event_id`` is given)."""

    def sign_in(role=Role.ORGANISER, email="ada@example.com", event_id=None,
                name="Growth Summit", currency="USD"):
        role = Role(role)
        user_id = make_user(email)
        if event_id is None:
            owner = user_id if role == Role.ORGANISER else make_user()
            event_id = make_event(name, currency, organiser=owner,
                                  editors=[user_id] if role == Role.TICKET_EDITOR else ())
        else:
            with app.app_context():
                from heysummit_tc.models import Event

                add_member(db.session, db.session.get(Event, event_id), email, role)
                db.session.commit()
        login(email)
        return event_id

    return sign_in


@pytest.fixture
def organiser(signed_in, make_ticket, connect):
    """Ada, signed in, organises the Growth Summit: product-12 linked, Secret Word saved."""
    event_id = signed_in()
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    connect(event_id)
    return event_id


class _Collected(logging.Handler):
    """Keep what ``keep`` takes of the app's log records at ``level`` and above."""

    def __init__(self, level, keep):
        super().__init__(level)
        self.kept = []
        self.keep = keep

    def emit(self, record):
        self.kept.append(self.keep(record))


@contextmanager
def _collected(level, keep):
    handler = _Collected(level, keep)
    logger = logging.getLogger("heysummit_tc")
    logger.addHandler(handler)
    try:
        yield handler.kept
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def error_lines():
    """The app's ERROR log lines during the test (a handled body logs none)."""
    with _collected(logging.ERROR, logging.LogRecord.getMessage) as lines:
        yield lines


@pytest.fixture
def warning_records():
    """The app's WARNING (and worse) log records during the test."""
    with _collected(logging.WARNING, lambda record: record) as records:
        yield records


class _Mailbox:
    """An SMTP server's handler that keeps what arrives; it can refuse the next messages."""

    def __init__(self):
        self.messages = []
        self.refuse = 0

    async def handle_DATA(self, _server, _session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd); ``.messages`` are what it received."""
    from aiosmtpd.controller import Controller

    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()

