"""``make bench``: the webhook and the organiser pages under load, against a same-run baseline.

Seeds (or reuses) a small and a large dataset, serves each with gunicorn under the production
configuration on a loopback port, drives it with wrk (one thread, 8 connections, so the
generator leaves the server its cores), and prints a table: requests/s, p50/p99 latency,
errors, the ratio to the baseline (/healthz/live of the same server in the same run), the
large/small ratio, and SQL statements per request. Also: CSV time to first byte and worker
memory, and the PostgreSQL plans of the webhook's statements. The pages and the export run
after the webhook scenarios on the dataset as seeded: what the webhooks added goes first.

    python bench/run.py [--sqlite] [--duration 10] [--sizes small,large] [--output FILE]
"""

import argparse
import functools
import http.client
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, event, make_url, text  # noqa: E402

from heysummit_tc import create_app  # noqa: E402

import seed  # noqa: E402

CONNECTIONS = 8
FIXTURES = ROOT / "tests" / "fixtures"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="benchmark SQLite instead")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--sizes", default="small,large")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating product/floor rounds per webhook scenario")
    parser.add_argument("--output", help="also write the report (Markdown) to this file")
    parser.add_argument("--workers", type=int,
                        help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--worker-class", choices=["gthread", "sync"],
                        help="gunicorn worker class (default: gunicorn.conf.py's, gthread)")
    parser.add_argument("--scale", action="store_true",
                        help="pages and searches at 1,000,000 attendees beside 200,000 "
                             "(bench/scale.py)")
    args = parser.parse_args()
    if args.scale:
        import scale

        scale.main(args)
        return
    Server.workers, Server.worker_class = args.workers, args.worker_class
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: `apt-get install wrk` (make bench does this)")
    CACHE.mkdir(parents=True, exist_ok=True)
    backend = "sqlite" if args.sqlite else "postgresql"
    sizes = args.sizes.split(",")
    bodies = write_bodies()
    results, extras, plans = {}, {}, []
    for size in sizes:
        url = prepare(backend, size)
        marks = high_water_marks(url)
        floor_url = prepare_floor(backend)
        try:
            with Server(url) as server, FloorServer(floor_url) as floor:
                results[size], extras[size] = run_scenarios(
                    server, floor, bodies, args.duration, size, args.rounds,
                    reset=functools.partial(restore, url, marks))
        finally:
            restore(url, marks)
        if backend == "postgresql" and size == sizes[-1]:
            plans = webhook_plans(url, bodies)
            restore(url, marks)  # the buyer whose delivery was explained
    report = render(backend, sizes, results, extras, plans, args)
    print(report)
    if args.output:
        Path(args.output).write_text(report)


# -- datasets ---------------------------------------------------------------------------------

def database_url(backend, size):
    if backend == "sqlite":
        return f"sqlite:///{CACHE / f'bench-{size}.db'}"
    base = make_url(os.environ.get("BENCH_DATABASE_URL",
                                   "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    return base.set(database=f"{base.database}_heysummit_bench_{size}").render_as_string(
        hide_password=False)


def prepare(backend, size):
    """Create, migrate and seed the dataset once; later runs reuse it."""
    url = database_url(backend, size)
    if backend == "postgresql":
        _create_database(url)
    app = create_app({"APP_ENV": "bench", "SECRET_KEY": "bench", "SECRET_WORD_KEY":
                      seed.SECRET_WORD_KEY, "SQLALCHEMY_DATABASE_URI": url})
    from flask_migrate import upgrade

    from heysummit_tc.extensions import db

    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            if not seed.is_seeded(connection):
                print(f"seeding the {size} dataset ({backend}) ...", flush=True)
                seed.seed(connection, size)
        db.engine.dispose()
    return url


def _create_database(url):
    server = make_url(url).set(database=make_url(
        os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    ).database)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(url).database
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


_GROWING = ("webhook_deliveries", "attendees", "ticket_purchases", "held_deliveries",
            "delivery_outcomes", "lifecycle_events", "purchase_changes")


def high_water_marks(url):
    """The highest ids of the tables a run adds to, so that restore() can undo the run."""
    engine = create_engine(url)
    with engine.connect() as connection:
        marks = {table: connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                 .scalar() for table in _GROWING}  # noqa: S608  # nosec B608
    engine.dispose()
    return marks


def restore(url, marks):
    """Delete what the run added, so that every run measures the same dataset."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in ("delivery_outcomes", "held_deliveries", "purchase_changes",
                      "lifecycle_events", "ticket_purchases"):
            connection.execute(text(f"DELETE FROM {table} WHERE id > :mark"),  # noqa: S608
                               {"mark": marks[table]})
        # The seeded dataset has no order rows: every one is the run's.
        connection.execute(text("DELETE FROM thrivecart_orders"))
        # The refund scenarios may have refunded a seeded purchase.
        connection.execute(text("UPDATE ticket_purchases SET status = 'paid', "
                                "refunded_at = NULL WHERE id <= :mark AND status <> 'paid'"),
                           {"mark": marks["ticket_purchases"]})
        connection.execute(text("DELETE FROM delivery_events WHERE delivery_id > :mark"),
                           {"mark": marks["webhook_deliveries"]})
        for table in ("webhook_deliveries", "attendees"):
            connection.execute(text(f"DELETE FROM {table} WHERE id > :mark"),  # noqa: S608
                               {"mark": marks[table]})
        # The accounts the events have seen: those of the deliveries that remain.
        connection.execute(text("DELETE FROM event_accounts"))
        connection.execute(text(
            "INSERT INTO event_accounts (event_id, thrivecart_account) "
            "SELECT DISTINCT e.event_id, d.thrivecart_account FROM delivery_events AS e "
            "JOIN webhook_deliveries AS d ON d.id = e.delivery_id "
            "WHERE d.thrivecart_account <> ''"))
    if engine.dialect.name == "postgresql":
        # What autovacuum would do after such deletes, and does not here when the server runs
        # without it: a run leaves tens of thousands of dead rows, and the pages measured after
        # the reset read their index entries (the ThriveCart page's held posts: 2.4 ms each
        # of two statements on an empty table, 0.01 ms vacuumed).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in (*_GROWING, "thrivecart_orders", "delivery_events", "event_accounts"):
                connection.execute(text(f"VACUUM (ANALYZE) {table}"))
    engine.dispose()


def write_bodies():
    """Request bodies for wrk, with __UNIQUE__ where each request needs a new buyer."""
    from qs_codec import EncodeOptions, ListFormat, encode

    def form(payload):
        return encode(payload, EncodeOptions(list_format=ListFormat.INDICES))

    single = json.loads((FIXTURES / "order-success.json").read_text())
    multi_text = (FIXTURES / "order-success-multi.form").read_text().strip()
    unique = dict(single, order_id="__UNIQUE__")
    unique["customer"] = dict(single["customer"], email="buyer-__UNIQUE__@example.com")
    refund = json.loads((FIXTURES / "order-refund.json").read_text())
    refund.pop("event_id")
    refund["refund"] = dict(refund["refund"], type="product", id="12")
    bodies = {
        "new1": form(unique),
        # A refund of an order that has not arrived yet, and one of a seeded paid order
        # delivered again and again.
        "refund_waiting": form(dict(refund, order_id="__UNIQUE__")),
        "refund_again": form(dict(refund, order_id="9000001")),
        "multi": multi_text.replace("order_id=40100017", "order_id=__UNIQUE__").replace(
            "Katherine.Johnson%40Example.com", "k-__UNIQUE__%40example.com"),
        "duplicate": form(dict(single, order_id="bench-duplicate")),
        "wrong": form(dict(single, thrivecart_secret="WRONGSECRET1")),
    }
    paths = {}
    for name, body in bodies.items():
        path = CACHE / f"{name}.form"
        path.write_text(body)
        paths[name] = path
    return paths


# -- the server -------------------------------------------------------------------------------

class Server:
    """gunicorn with the production configuration on a free loopback port."""

    workers = None
    worker_class = None
    app = "wsgi:app"
    name = "gunicorn"

    def __init__(self, url):
        self.url = url
        self.port = _free_port()
        self.log = CACHE / f"{self.name}.log"

    def environment(self):
        return {"APP_ENV": "production", "DATABASE_URL": self.url,
                "SECRET_KEY": "bench-secret-key", "SECRET_WORD_KEY": seed.SECRET_WORD_KEY,
                "SQL_STATEMENT_COUNTS": "1", "LOG_LEVEL": "INFO",
                # The wrong-secret scenario measures the refusal, not the rate limiter.
                "WEBHOOK_WRONG_SECRET_RATE_LIMIT": "100000000 per minute"}

    def __enter__(self):
        env = {**os.environ, **self.environment()}
        tuning = [*(["--workers", str(self.workers)] if self.workers else []),
                  *(["--worker-class", self.worker_class] if self.worker_class else []),
                  # gunicorn turns sync workers with threads into gthread ones.
                  *(["--threads", "1"] if self.worker_class == "sync" else [])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
             "--pythonpath", "bench", "--bind", f"127.0.0.1:{self.port}", *tuning,
             "--timeout", "120", self.app],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                self.request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start; see {self.log}")
        self.cookie = self.login()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(30)

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), data

    def login(self):
        status, headers, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        cookie = headers["Set-Cookie"].split(";")[0]
        body = urlencode({"csrf_token": token.decode(), "email": seed.BENCH_EMAIL,
                          "password": seed.BENCH_PASSWORD})
        status, headers, _ = self.request("POST", "/login", body, {
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, status
        return headers["Set-Cookie"].split(";")[0]

    def worker_rss(self):
        """Resident memory of each worker, bytes."""
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as children:
            pids = children.read().split()
        return [_rss(pid) for pid in pids]


class FloorServer(Server):
    """The floor app (bench/floor.py) with the product's gunicorn configuration and workers."""

    app = "floor:app"
    name = "floor"

    def environment(self):
        return {"FLOOR_DATABASE_URL": self.url}

    def login(self):
        return None


def prepare_floor(backend):
    """The floor's own database, its schema created and the last run's rows deleted."""
    import floor

    if backend == "sqlite":
        url = f"sqlite:///{CACHE / 'bench-floor.db'}"
    else:
        url = database_url(backend, "floor")
        _create_database(url)
    floor.create_schema(url)
    connection, _marker = floor.connect(url)
    with connection:
        for table in ("floor_purchases", "floor_attendees", "floor_deliveries"):
            connection.execute(f"DELETE FROM {table}")  # noqa: S608  # nosec B608
    connection.close()
    return url


def _rss(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1)) * 1024


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- scenarios --------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def scenarios(server, bodies, deep_before):
    webhook = "/api/webhooks/thrivecart/"
    return [
        ("baseline: /healthz/live", "GET", "/healthz/live", None, 200, False, False),
        ("webhook: new buyer, 1 item", "POST", webhook, bodies["new1"], 200, True, False),
        ("webhook: new buyer, 4 items", "POST", webhook, bodies["multi"], 200, True, False),
        ("webhook: duplicate (already paid)", "POST", webhook, bodies["duplicate"], 200, False,
         False),
        ("webhook: wrong secret", "POST", webhook, bodies["wrong"], 403, False, False),
        ("webhook: refund before its order", "POST", webhook, bodies["refund_waiting"], 200,
         True, False),
        ("webhook: refund redelivered", "POST", webhook, bodies["refund_again"], 200, False,
         False),
        ("page: event dashboard", "GET", "/events/1/", None, 200, False, True),
        ("page: tickets", "GET", "/events/1/revenue/tickets/", None, 200, False, True),
        ("page: attendees, first", "GET", "/events/1/attendees/", None, 200, False, True),
        ("page: attendees, deep", "GET", f"/events/1/attendees/?before={deep_before}", None,
         200, False, True),
        ("page: ThriveCart + delivery log", "GET", "/events/1/setup/integrations/thrivecart/",
         None, 200, False, True),
        ("CSV export, whole event", "GET", "/events/1/attendees.csv", None, 200, False, True),
    ]


def run_scenarios(server, floor, bodies, duration, size, rounds, reset):
    """Each scenario under wrk; a webhook scenario alternates the product with the floor.

    ``reset`` takes the database back to the dataset as seeded after the webhook scenarios,
    so that the pages are measured on that dataset: the webhooks leave thousands of refunds
    waiting for their order behind, each of which the dashboard's Needs attention card and
    the delivery log would count.
    """
    # The duplicate scenarios replay a delivery that was applied already.
    for name in ("duplicate", "refund_again"):
        for target in (server, floor):
            target.request("POST", "/api/webhooks/thrivecart/", bodies[name].read_bytes(),
                           {"Content-Type": FORM})
    deep_before = 61  # the oldest page: ids below 61 of the measured event
    # Warm every worker up (imports, connections, prepared statements) before measuring.
    for target in (server, floor):
        wrk(target, "POST", "/api/webhooks/thrivecart/", bodies["new1"], 200, True, {},
            duration=2, connections=CONNECTIONS)
    rows = {}
    for name, method, path, body, expected, unique, cookie in scenarios(server, bodies,
                                                                         deep_before):
        headers = {"Cookie": server.cookie} if cookie else {}
        if name.startswith("page") and not any(row.startswith("page") for row in rows):
            reset()
        statements = count_statements(server, method, path, body, headers, unique)
        is_csv = path.endswith(".csv")
        webhook = name.startswith("webhook")
        if name.startswith("page"):
            # Each worker's connections prepare a page's statements on their fifth run: warm
            # them up as the webhook's were, so that the run measures pages served steadily.
            wrk(server, method, path, body, expected, unique, headers, duration=2,
                connections=CONNECTIONS)
        product_runs, floor_runs = [], []
        for _round in range(rounds if webhook else 1):
            product_runs.append(wrk(server, method, path, body, expected, unique, headers,
                                    duration=max(duration, 15) if is_csv else duration,
                                    connections=2 if is_csv else CONNECTIONS))
            if webhook:
                floor_runs.append(wrk(floor, method, path, body, expected, unique, {},
                                      duration=duration, connections=CONNECTIONS))
        result = _mean(product_runs)
        result["statements"] = statements
        if floor_runs:
            result["floor"] = _mean(floor_runs)
        rows[name] = result
        print(f"  [{size}] {name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
              f"p99 {result['p99_ms']:.1f} ms, errors {result['errors']}"
              + (f"; floor {result['floor']['rps']:.0f} req/s, p99 "
                 f"{result['floor']['p99_ms']:.1f} ms" if floor_runs else ""), flush=True)
    # wrk stops sending, not the exports it started: let the slowest of those finish, so that
    # none shares the workers with the export measured alone.
    time.sleep(min(rows["CSV export, whole event"]["p99_ms"] / 1000, 30))
    extras = csv_profile(server)
    extras["worker_rss_after"] = server.worker_rss()
    return rows, extras


def _mean(runs):
    """Rounds of one scenario as one: their mean rate and latencies, their errors summed."""
    mean = {key: sum(run[key] for run in runs) / len(runs)
            for key in ("rps", "p50_ms", "p95_ms", "p99_ms")}
    mean["errors"] = sum(run["errors"] for run in runs)
    mean["requests"] = sum(run["requests"] for run in runs)
    mean["rounds"] = [run["rps"] for run in runs]
    return mean


def count_statements(server, method, path, body, headers, unique):
    data = None
    if body is not None:
        data = body.read_bytes()
        if unique:
            data = data.replace(b"__UNIQUE__", f"count{time.time_ns()}".encode())
        headers = {**headers, "Content-Type": FORM}
    _status, response_headers, _ = server.request(method, path, data, headers)
    return int(response_headers.get("X-SQL-Statements", -1))


def wrk(server, method, path, body, expected, unique, headers, duration, connections):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout",
               "60s", "-s", str(ROOT / "bench" / "wrk" / "scenario.lua")]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    command += [f"http://127.0.0.1:{server.port}{path}", "--", method,
                str(body) if body else "-", FORM, str(expected), "yes" if unique else "no"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    data = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    seconds = data["duration_us"] / 1e6
    return {"rps": data["requests"] / seconds, "p50_ms": data["p50_us"] / 1000,
            "p95_ms": data["p95_us"] / 1000, "p99_ms": data["p99_us"] / 1000,
            "errors": data["unexpected_status"] + data["socket_errors"],
            "requests": data["requests"]}


def csv_profile(server, event_id=1):
    """Time to the first CSV byte, and how much a worker grows while streaming all of it."""
    before = server.worker_rss()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", f"/events/{event_id}/attendees.csv",
                       headers={"Cookie": server.cookie})
    response = connection.getresponse()
    response.read(1)
    first_byte = time.perf_counter() - started
    size, peak_growth, lines = 1, 0, 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
        lines += chunk.count(b"\n")
        if size % (1 << 22) < (1 << 16):
            peak_growth = max(peak_growth, max(
                after - start for after, start in zip(server.worker_rss(), before, strict=False)))
    total = time.perf_counter() - started
    after = server.worker_rss()
    peak_growth = max(peak_growth, max(a - b for a, b in zip(after, before, strict=False)))
    connection.close()
    # Every row ends with a newline; the header is not a row.
    return {"csv_first_byte_s": first_byte, "csv_seconds": total, "csv_bytes": size,
            "csv_rss_growth": peak_growth, "csv_rows": lines - 1}


# -- query plans ------------------------------------------------------------------------------

def webhook_plans(url, bodies):
    """EXPLAIN every statement a new-buyer delivery runs, on the large dataset."""
    app = create_app({"APP_ENV": "bench", "SECRET_KEY": "bench", "TESTING": True,
                      "SECRET_WORD_KEY": seed.SECRET_WORD_KEY, "SQLALCHEMY_DATABASE_URI": url})
    from heysummit_tc.extensions import db

    captured = []
    with app.app_context():
        engine = db.engine

        def record(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        body = bodies["new1"].read_bytes().replace(b"__UNIQUE__", b"plan" + str(
            time.time_ns()).encode())
        app.test_client().post("/api/webhooks/thrivecart/", data=body, content_type=FORM)
        event.remove(engine, "before_cursor_execute", record)
        plans = []
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            for statement, parameters in captured:
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN " + statement, parameters)
                    plan = [row[0] for row in cursor.fetchall()]
                plans.append((" ".join(statement.split())[:110], plan))
        db.engine.dispose()
    return plans


# -- report -----------------------------------------------------------------------------------

def render(backend, sizes, results, extras, plans, args):
    def ms(value):
        return f"{value:.1f}"

    lines = [f"# Benchmark ({backend})", "",
             f"Command: `python bench/run.py {' '.join(sys.argv[1:])}` (via `make bench`)  ",
             f"Machine: {machine()}  ",
             f"Server: gunicorn with gunicorn.conf.py ({server_shape()}); load: wrk, "
             f"1 thread, {CONNECTIONS} connections (2 for the CSV), {args.duration} s per "
             "scenario.", ""]
    header = ["scenario"]
    for size in sizes:
        header += [f"{size} req/s", f"{size} p50 ms", f"{size} p99 ms", f"{size} errors",
                   f"{size} / baseline", f"{size} floor req/s", f"{size} / floor",
                   f"{size} p99 / floor p99"]
    if len(sizes) > 1:
        header += ["large/small req/s", "large/small p95"]
    header += ["SQL statements"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in results[sizes[0]]:
        row = [name]
        for size in sizes:
            result, baseline = results[size][name], results[size]["baseline: /healthz/live"]
            row += [f"{result['rps']:.0f}", ms(result["p50_ms"]), ms(result["p99_ms"]),
                    str(result["errors"]), f"{result['rps'] / baseline['rps']:.1%}"]
            floor = result.get("floor")
            row += ([f"{floor['rps']:.0f}", f"{result['rps'] / floor['rps']:.2f}",
                     f"{result['p99_ms'] / floor['p99_ms']:.2f}"] if floor else ["", "", ""])
        if len(sizes) > 1:
            small, large = results[sizes[0]][name], results[sizes[-1]][name]
            row += [f"{large['rps'] / small['rps']:.2f}",
                    f"{large['p95_ms'] / small['p95_ms']:.2f}"]
        row.append(str(results[sizes[-1]][name]["statements"]))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for size in sizes:
        extra = extras[size]
        lines.append(
            f"- {size}: CSV export of {extra['csv_bytes'] / 1e6:.1f} MB: first byte after "
            f"{extra['csv_first_byte_s'] * 1000:.0f} ms, whole in {extra['csv_seconds']:.1f} s, "
            f"{extra['csv_rows']:,} rows ({extra['csv_rows'] / extra['csv_seconds']:,.0f}/s), "
            f"worker RSS grew {extra['csv_rss_growth'] / 1e6:.1f} MB; worker RSS after the run: "
            + ", ".join(f"{rss / 1e6:.0f} MB" for rss in extra["worker_rss_after"]))
    lines += ["", "## Against the targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {'met' if met else '**missed**'} |"
              for target, measured, met in targets(sizes, results, extras)]
    if plans:
        lines += ["", "## PostgreSQL plans of a new-buyer delivery's statements (large dataset)",
                  ""]
        for statement, plan in plans:
            scans = [step.strip() for step in plan if "Scan" in step or "Conflict" in step]
            lines.append(f"- `{statement}`: " + ("; ".join(scans) or plan[0].strip()))
    return "\n".join(lines) + "\n"


FLOOR_TARGETS = {"webhook: new buyer, 1 item": 0.85, "webhook: duplicate (already paid)": 0.9}
PAGE_SHARE = 0.25
FLAT_P95 = 1.5
CSV_ROWS_PER_SECOND = 100_000
CSV_GROWTH = 50e6


def targets(sizes, results, extras):
    """(target, what this run measured, met?) for each target the benchmark holds."""
    rows = []
    for size in sizes:
        for name, result in results[size].items():
            floor = result.get("floor")
            if floor is None:
                continue
            if name in FLOOR_TARGETS:
                ratio = result["rps"] / floor["rps"]
                rows.append((f"{size}: {name} >= {FLOOR_TARGETS[name]} of the floor",
                             f"{ratio:.2f} ({result['rps']:.0f} / {floor['rps']:.0f} req/s)",
                             ratio >= FLOOR_TARGETS[name]))
            p99 = result["p99_ms"] / floor["p99_ms"]
            rows.append((f"{size}: {name} p99 <= 1.5x the floor's",
                         f"{p99:.2f}x ({result['p99_ms']:.1f} / {floor['p99_ms']:.1f} ms)",
                         p99 <= 1.5))
    pages = [name for name in results[sizes[0]] if name.startswith("page")]
    first = results[sizes[0]]
    for name in pages:
        share = first[name]["rps"] / first["baseline: /healthz/live"]["rps"]
        rows.append((f"{sizes[0]}: {name} >= {PAGE_SHARE:.0%} of the baseline",
                     f"{share:.1%} ({first[name]['rps']:.0f} req/s)", share >= PAGE_SHARE))
        if len(sizes) > 1:
            flat = results[sizes[-1]][name]["p95_ms"] / first[name]["p95_ms"]
            rows.append((f"{name}: large/small p95 <= {FLAT_P95}", f"{flat:.2f}",
                         flat <= FLAT_P95))
    extra = extras[sizes[-1]]
    rate = extra["csv_rows"] / extra["csv_seconds"]
    rows.append((f"{sizes[-1]}: CSV export >= {CSV_ROWS_PER_SECOND:,} rows/s",
                 f"{rate:,.0f} rows/s ({extra['csv_rows']:,} rows in "
                 f"{extra['csv_seconds']:.2f} s)", rate >= CSV_ROWS_PER_SECOND))
    rows.append((f"{sizes[-1]}: CSV export worker memory growth < {CSV_GROWTH / 1e6:.0f} MB",
                 f"{extra['csv_rss_growth'] / 1e6:.1f} MB", extra["csv_rss_growth"] < CSV_GROWTH))
    return rows


def server_shape():
    """Describe the workers the benchmark ran, as gunicorn.conf.py and the options set them."""
    config = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), config)  # noqa: S102  # nosec B102
    workers = Server.workers or config["workers"]
    worker_class = Server.worker_class or config["worker_class"]
    threads = f" x {config['threads']} threads" if worker_class == "gthread" else ""
    return f"{workers} {worker_class} workers{threads}"


def machine():
    cpu = "unknown CPU"
    try:
        cpu = re.search(r"model name\s+:\s+(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


if __name__ == "__main__":
    main()
