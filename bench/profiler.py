"""Where a request's time goes: cProfile over the Flask test client, grouped by package.

Runs one scenario many times in this process against the benchmark's small dataset (which
``bench/run.py`` seeds), and prints the wall time per request, the CPU time this process and
the PostgreSQL server spent on each, the share of each package (the driver, SQLAlchemy,
Jinja, Werkzeug/Flask, this app, the rest), then the top functions.

    python bench/profiler.py [--sqlite] [--scenario new1|multi|duplicate|wrong|
                             refund_waiting|refund_again|dashboard|attendees|tickets|
                             thrivecart|integrations|csv] [--requests 300]
                             [--size small|large] [--sort cumulative] [--floor]

``--floor`` runs a webhook scenario against the floor (``bench/floor.py``) instead, in the
same way, so that the two compare side by side.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import floor  # noqa: E402
import run  # noqa: E402

from heysummit_tc import create_app  # noqa: E402

import seed  # noqa: E402

PATHS = {"dashboard": "/events/1/", "attendees": "/events/1/attendees/",
         "tickets": "/events/1/revenue/tickets/",
         "thrivecart": "/events/1/setup/integrations/thrivecart/",
         "integrations": "/events/1/setup/integrations/",
         "csv": "/events/1/attendees.csv"}
# The webhook scenarios (bodies of bench/run.py) and the status each answers.
WEBHOOKS = {"new1": 200, "multi": 200, "duplicate": 200, "wrong": 403, "refund_waiting": 200,
            "refund_again": 200}
GROUPS = [("psycopg", "driver (psycopg/sqlite3)"), ("sqlite3", "driver (psycopg/sqlite3)"),
          ("sqlalchemy", "SQLAlchemy"), ("jinja2", "Jinja"), ("markupsafe", "Jinja"),
          ("werkzeug", "Werkzeug/Flask"), ("flask", "Werkzeug/Flask"),
          ("heysummit_tc", "this app"), ("email_validator", "email validation")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--scenario", default="new1",
                        choices=[*WEBHOOKS, *PATHS])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--size", default="small", choices=["small", "large"])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats sort key, e.g. cumulative")
    parser.add_argument("--floor", action="store_true",
                        help="profile bench/floor.py's handler instead (webhook scenarios)")
    args = parser.parse_args()
    backend = "sqlite" if args.sqlite else "postgresql"
    url = run.prepare(backend, args.size)
    marks = run.high_water_marks(url)
    app = floor.create_app(run.prepare_floor(backend)) if args.floor else product(url)
    client = app.test_client()
    try:
        request = _scenario(client, args.scenario)
        for _ in range(min(20, args.requests)):  # warm up: imports, connections, caches
            request()
        started, own, server = time.perf_counter(), time.process_time(), server_cpu()
        for _ in range(args.requests):
            request()
        plain = time.perf_counter() - started
        cpu = (time.process_time() - own, server_cpu() - server)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(args.requests):
            request()
        profile.disable()
        elapsed = time.perf_counter() - started
    finally:
        run.restore(url, marks)
    report(profile, plain, elapsed, cpu, args)


def product(url):
    return create_app({"APP_ENV": "production", "SECRET_KEY": "bench-secret-key",
                       "SECRET_WORD_KEY": seed.SECRET_WORD_KEY, "SQLALCHEMY_DATABASE_URI": url,
                       "WEBHOOK_WRONG_SECRET_RATE_LIMIT": "100000000 per minute",
                       "RATELIMIT_STORAGE_URI": "memory://", "LOG_LEVEL": "WARNING",
                       # The test client signs in without a form to take a token from.
                       "WTF_CSRF_ENABLED": False})


def _scenario(client, name):
    if name in PATHS:
        client.post("/login", data={"email": seed.BENCH_EMAIL, "password": seed.BENCH_PASSWORD})
        path = PATHS[name]

        def get():
            response = client.get(path)
            assert response.status_code == 200, response.status_code
            response.get_data()
        return get
    bodies = run.write_bodies()
    body = bodies[name].read_bytes()
    counter = iter(range(10**9))

    def post():
        data = body.replace(b"__UNIQUE__", f"profile{time.time_ns()}{next(counter)}".encode())
        response = client.post("/api/webhooks/thrivecart/", data=data,
                               content_type=run.FORM)
        assert response.status_code == WEBHOOKS[name], response.get_data()
    return post


def server_cpu():
    """CPU seconds used so far by every PostgreSQL process on this machine (0 where /proc
    cannot tell): the share of a request's time the database server spends on it."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if not (entry / "comm").read_text().startswith("postgres"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def report(profile, plain, elapsed, cpu, args):
    stats = pstats.Stats(profile)
    own = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        group = next((label for key, label in GROUPS if f"/{key}/" in filename
                      or filename.endswith(f"/{key}.py")), "other (stdlib, waits)")
        own[group] += tottime
    total = sum(own.values())
    print(f"{args.scenario}: {args.requests} requests in process, one at a time: "
          f"{plain / args.requests * 1000:.2f} ms each, "
          f"{elapsed / args.requests * 1000:.2f} ms under the profiler")
    print(f"CPU per request without the profiler: this process {cpu[0] / args.requests * 1000:.2f}"
          f" ms, PostgreSQL {cpu[1] / args.requests * 1000:.2f} ms\n")
    print("| where | share of profiled time | ms per request |\n|---|---|---|")
    for group, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"| {group} | {seconds / total:.0%} | {seconds / args.requests * 1000:.2f} |")
    print()
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
