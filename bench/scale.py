"""``make bench BENCH_ARGS=--scale``: every page and search at a million attendees beside the
same at 200,000, in one run on one database.

PostgreSQL: the scale dataset (bench/seed.py) holds event 1 with 1,000,000 attendees (each
with a paid purchase) and 500,000 deliveries, and event 2 with 200,000 and 100,000, their
ids interleaved (every sixth row is event 2's), so that no plan is cheap by luck of where an
event's ids lie. Each page and search of each event runs under wrk; the table gives both
events' p95 side by side and their ratio, then each event's whole CSV export (rows/s, worker
memory growth). ``--sqlite`` measures the searches on the large SQLite dataset (200,000
attendees in event 1).

    python bench/run.py --scale --workers 2 [--sqlite] [--duration 10]
"""

from pathlib import Path

import run
from sqlalchemy import create_engine, text

# The attendee each event's rare searches find (ids interleave: every sixth is event 2's).
FOUND = {1: 654_321, 2: 654_324}
# One request per worker at a time (``--workers 2``, as documented): the latency a person
# searching sees, not a queue's.
CONNECTIONS = 2
TARGET_MS = 100
FLAT = 1.3


def scenarios(event_id, deep_before, number):
    """The pages and searches of one event; the searches find attendee ``number``."""
    base = f"/events/{event_id}"
    return [
        ("page: event dashboard", f"{base}/"),
        ("page: tickets", f"{base}/revenue/tickets/"),
        ("page: unlinked inbox", f"{base}/revenue/tickets/unlinked"),
        ("page: attendees, first", f"{base}/attendees/"),
        ("page: attendees, deep", f"{base}/attendees/?before={deep_before}"),
        ("page: ThriveCart + delivery log", f"{base}/setup/integrations/thrivecart/"),
        ("page: activity", f"{base}/activity/"),
        ("search: a rare fragment (one match)", f"{base}/attendees/?q={number:07d}%40"),
        # Every one of its trigrams but the last few is in every row ("uye", "yer", "er0"):
        # the trigram index reads their long lists before it finds the one match.
        ("search: a rare fragment of common trigrams",
         f"{base}/attendees/?q=uyer{number:07d}%40"),
        ("search: a common fragment (every attendee)", f"{base}/attendees/?q=example"),
        ("search: a name", f"{base}/attendees/?q=Buyer+{number}"),
        ("search: an order id", f"{base}/attendees/?q={9_000_000 + number}"),
        ("search: a whole email address",
         f"{base}/attendees/?q=buyer{number:07d}%40example.com"),
        ("search: two characters", f"{base}/attendees/?q=r0"),
    ]


def deep_before(url, event_id):
    """Where the event's oldest page starts: the id after its 60 oldest attendees."""
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(
            "SELECT id FROM attendees WHERE event_id = :e ORDER BY id LIMIT 1 OFFSET 60"),
            {"e": event_id}).scalar_one()
    engine.dispose()
    return value


def measure(server, path, duration):
    headers = {"Cookie": server.cookie}
    statements = run.count_statements(server, "GET", path, None, headers, False)
    # Warm the workers' connections up (their statements are prepared on the fifth run).
    run.wrk(server, "GET", path, None, 200, False, headers, duration=2,
            connections=CONNECTIONS)
    result = run.wrk(server, "GET", path, None, 200, False, headers, duration=duration,
                     connections=CONNECTIONS)
    result["statements"] = statements
    return result


def main(args):
    if args.sqlite:
        return main_sqlite(args)
    run.Server.workers = args.workers
    url = run.prepare("postgresql", "scale")  # seeding takes a few minutes the first time
    results = {1: {}, 2: {}}
    exports = {}
    paths = {event_id: dict(scenarios(event_id, deep_before(url, event_id), FOUND[event_id]))
             for event_id in (2, 1)}
    with run.Server(url) as server:
        # Each scenario at 200k, then at 1M, one after the other: what the machine does
        # meanwhile weighs on both alike.
        for name in paths[2]:
            for event_id in (2, 1):
                results[event_id][name] = measure(server, paths[event_id][name], args.duration)
                row = results[event_id][name]
                print(f"  [event {event_id}] {name}: p95 {row['p95_ms']:.1f} ms, "
                      f"{row['rps']:.0f} req/s, errors {row['errors']}", flush=True)
        for event_id in (2, 1):
            profile = run.csv_profile(server, event_id)
            exports[event_id] = {"rows": profile["csv_rows"],
                                 "seconds": profile["csv_seconds"],
                                 "rows_per_s": profile["csv_rows"] / profile["csv_seconds"],
                                 "growth_mb": profile["csv_rss_growth"] / 1e6}
            print(f"  [event {event_id}] CSV export: {exports[event_id]['rows']:,} rows in "
                  f"{exports[event_id]['seconds']:.1f} s, growth "
                  f"{exports[event_id]['growth_mb']:.1f} MB", flush=True)
    report = render(results, exports, args)
    print(report)
    if args.output:
        Path(args.output).write_text(report)
    return report


def render(results, exports, args):
    lines = [
        "## At a million attendees (PostgreSQL)", "",
        f"`python bench/run.py --scale --workers {args.workers or 'default'} --duration "
        f"{args.duration}`: {run.machine()}; "
        f"gunicorn with gunicorn.conf.py ({run.server_shape()}); wrk, 1 thread, "
        f"{CONNECTIONS} connections. Event 1: 1,000,000 attendees and 500,000 deliveries; "
        "event 2: 200,000 and 100,000; ids interleaved.", "",
        "| scenario | 200k p95 ms | 1M p95 ms | 1M / 200k | 1M req/s | statements | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, small in results[2].items():
        large = results[1][name]
        ratio = large["p95_ms"] / small["p95_ms"]
        met = large["p95_ms"] < TARGET_MS and ratio <= FLAT and not large["errors"]
        lines.append(f"| {name} | {small['p95_ms']:.1f} | {large['p95_ms']:.1f} | "
                     f"{ratio:.2f} | {large['rps']:.0f} | {large['statements']} | "
                     f"{'met' if met else '**missed**'} |")
    lines += ["", "| export | rows | rows/s | worker growth | target |", "|---|---|---|---|---|"]
    for event_id in (2, 1):
        export = exports[event_id]
        met = export["rows_per_s"] >= 150_000 and export["growth_mb"] < 50
        lines.append(f"| event {event_id} | {export['rows']:,} | {export['rows_per_s']:,.0f} | "
                     f"{export['growth_mb']:.1f} MB | "
                     f"{'met' if met or event_id == 2 else '**missed**'} |")
    lines += ["", f"Targets: at 1M every page and search p95 under {TARGET_MS} ms and at most "
              f"{FLAT}x its 200k figure; the 1M export at least 150,000 rows/s with under "
              "50 MB of growth."]
    return "\n".join(lines)


def main_sqlite(args):
    url = run.prepare("sqlite", "large")
    rows = {}
    with run.Server(url) as server:
        for name, path in scenarios(1, deep_before(url, 1), 154_321):
            if name.startswith("search"):
                rows[name] = measure(server, path, args.duration)
                print(f"  [sqlite, 200k] {name}: p95 {rows[name]['p95_ms']:.1f} ms", flush=True)
    lines = ["## Searches on SQLite at 200,000 attendees", "",
             f"`python bench/run.py --scale --sqlite --workers {args.workers or 'default'} "
             f"--duration {args.duration}`: "
             f"{run.machine()}; the large dataset's event 1.", "",
             "| search | p95 ms | req/s | target (p95 < 150 ms) |", "|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['p95_ms']:.1f} | {row['rps']:.0f} | "
                     f"{'met' if row['p95_ms'] < 150 and not row['errors'] else '**missed**'} |")
    report = "\n".join(lines)
    print(report)
    if args.output:
        Path(args.output).write_text(report)
    return report
