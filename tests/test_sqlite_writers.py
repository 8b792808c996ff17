"""SQLite's writers wait for each other in line (``database.QueuedWriters``), not by polling
its lock: a writer that would have given up after its busy timeout waits its turn instead,
readers never queue, and every way a transaction ends lets the next writer in."""

import fcntl
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from heysummit_tc import create_app
from heysummit_tc.database import QueuedWriters
from heysummit_tc.extensions import db

HOLD_SECONDS = 0.5
# Far shorter than HOLD_SECONDS: plain SQLite gives up on the lock after this.
IMPATIENT = 0.05


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "writers.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    connection.commit()
    connection.close()
    return path


def connect(path, timeout=IMPATIENT, **options):
    return sqlite3.connect(path, timeout=timeout, factory=QueuedWriters,
                           check_same_thread=False, **options)


def lock_is_free(path):
    """Whether a writer could take the lock file right now."""
    with open(f"{path}-lock", "ab") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return True


def hold_a_write(path, started):
    connection = connect(path)
    connection.execute("INSERT INTO notes (text) VALUES ('first')")
    started.set()
    time.sleep(HOLD_SECONDS)
    connection.commit()
    connection.close()


@pytest.mark.parametrize("factory", [sqlite3.Connection, QueuedWriters])
def test_a_second_writer_waits_its_turn_instead_of_giving_up(database, factory):
    started = threading.Event()
    holder = threading.Thread(target=hold_a_write, args=(database, started))
    holder.start()
    started.wait(5)
    second = sqlite3.connect(database, timeout=IMPATIENT, factory=factory)
    began = time.monotonic()
    try:
        if factory is sqlite3.Connection:  # what plain SQLite does with this busy timeout
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                second.execute("INSERT INTO notes (text) VALUES ('second')")
            return
        second.execute("INSERT INTO notes (text) VALUES ('second')")
        second.commit()
        waited = time.monotonic() - began
    finally:
        holder.join()
        second.close()
    assert waited > IMPATIENT * 2  # it waited for the first writer, far past its timeout
    check = sqlite3.connect(database)
    assert check.execute("SELECT text FROM notes ORDER BY id").fetchall() == [
        ("first",), ("second",)]
    check.close()


def test_writers_in_other_processes_wait_in_line(database):
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sqlite3, sys, time\n"
            "from heysummit_tc.database import QueuedWriters\n"
            f"c = sqlite3.connect({str(database)!r}, factory=QueuedWriters)\n"
            "c.execute(\"INSERT INTO notes (text) VALUES ('theirs')\")\n"
            "print('holding', flush=True)\n"
            f"time.sleep({HOLD_SECONDS})\n"
            "c.commit()\n"
        )], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    assert not lock_is_free(database)
    mine = connect(database)
    mine.execute("INSERT INTO notes (text) VALUES ('mine')")
    mine.commit()
    assert holder.wait(10) == 0
    assert mine.execute("SELECT text FROM notes ORDER BY id").fetchall() == [
        ("theirs",), ("mine",)]
    mine.close()


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_every_end_of_a_write_transaction_lets_the_next_writer_in(database, end):
    connection = connect(database)
    assert lock_is_free(database)
    connection.execute("INSERT INTO notes (text) VALUES ('x')")
    assert not lock_is_free(database)
    getattr(connection, end)()
    assert lock_is_free(database)
    if end != "close":
        connection.close()


def test_a_failed_write_outside_a_transaction_lets_go(database):
    connection = connect(database, isolation_level=None)  # each statement on its own
    connection.execute("INSERT INTO notes (id, text) VALUES (1, 'x')")
    assert lock_is_free(database)
    with pytest.raises(sqlite3.IntegrityError):
        connection.executemany("INSERT INTO notes (id, text) VALUES (?, ?)", [(1, "again")])
    assert lock_is_free(database)
    connection.close()


def test_readers_never_queue(database):
    writer, reader = connect(database), connect(database)
    writer.execute("INSERT INTO notes (text) VALUES ('unseen yet')")
    assert reader.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    writer.commit()
    assert reader.execute("SELECT count(*) FROM notes").fetchone() == (1,)
    reader.execute("SELECT count(*) FROM notes")
    assert lock_is_free(database)
    writer.close()
    reader.close()


def test_a_thread_writing_on_two_connections_gets_sqlite_s_answer_not_a_hang(database):
    first, second = connect(database), connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('one')")
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.execute("INSERT INTO notes (text) VALUES ('two')")
    assert time.monotonic() - began < 5
    first.commit()
    second.execute("INSERT INTO notes (text) VALUES ('two')")
    second.commit()
    assert lock_is_free(database)
    first.close()
    second.close()


def test_an_in_memory_database_needs_no_lock_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    connection = sqlite3.connect(":memory:", factory=QueuedWriters)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.execute("INSERT INTO notes VALUES ('x')")
    connection.commit()
    connection.close()
    assert list(tmp_path.iterdir()) == []


def test_a_lock_file_that_cannot_be_made_falls_back_to_plain_sqlite(database, monkeypatch):
    connection = connect(database, timeout=5)
    monkeypatch.setattr(connection, "_lock_path", str(database.parent / "missing" / "x-lock"))
    connection.execute("INSERT INTO notes (text) VALUES ('still written')")
    connection.commit()
    assert connection.execute("SELECT text FROM notes").fetchall() == [("still written",)]
    connection.close()


def test_the_app_s_sqlite_connections_queue(tmp_path):
    app = create_app({"APP_ENV": "testing", "TESTING": True, "SECRET_KEY": "test-secret-key",
                      "SECRET_WORD_KEY": "test-secret-word-key",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}"})
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            assert isinstance(connection.driver_connection, QueuedWriters)
        finally:
            connection.close()
            db.engine.dispose()
