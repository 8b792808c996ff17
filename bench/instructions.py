"""Instructions a request costs this process, counted by valgrind: a measure that a busy or
shared machine does not move.

Timings on a machine with neighbours drift by a third between runs minutes apart, which
hides a change of a few per cent. ``valgrind --tool=callgrind`` counts the instructions the
process executes instead: the same build, inputs and scenario give the same count to within
a fraction of a per cent, whatever else the machine is doing. Each scenario runs in the
Flask test client, in process, twice under callgrind (its warm-up alone, then the warm-up
and ``--requests`` more); the difference, divided, is one request's instructions.

What it does not see: the database server's work (PostgreSQL is another process; SQLite's
is counted, as it runs inside this one), waits, and gunicorn. Compare builds with it (run it
in each checkout), not with ``make bench``'s throughput.

    python bench/instructions.py [--sqlite] [--requests 40]
                                 [--scenario attendees --scenario new1 ...]

Webhook scenarios are also counted against the floor (``bench/floor.py``): the product's
instructions over the floor's, for the same body. valgrind comes from Debian's package.
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402

# The scenarios of bench/profiler.py: pages by name, webhook bodies by name.
PAGES = ("dashboard", "tickets", "attendees", "thrivecart")
WEBHOOKS = ("new1", "duplicate")
WARM_UP = 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--scenario", action="append", choices=[*PAGES, *WEBHOOKS],
                        help="repeat for several (default: all)")
    parser.add_argument("--child", nargs=3, metavar=("SCENARIO", "REQUESTS", "TARGET"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    backend = "sqlite" if args.sqlite else "postgresql"
    if args.child:
        child(backend, *args.child)
        return
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    url = run.prepare(backend, "small")
    marks = run.high_water_marks(url)
    print(f"Instructions a request, this process only ({backend}, small dataset, "
          f"{args.requests} requests after {WARM_UP} of warm-up):\n")
    print("| scenario | product | floor | product / floor |\n|---|---|---|---|")
    try:
        for scenario in args.scenario or [*PAGES, *WEBHOOKS]:
            product = per_request(backend, scenario, args.requests, "product")
            if scenario in WEBHOOKS:
                floor = per_request(backend, scenario, args.requests, "floor")
                print(f"| {scenario} | {product / 1e6:.2f}M | {floor / 1e6:.2f}M | "
                      f"{product / floor:.2f} |", flush=True)
            else:
                print(f"| {scenario} | {product / 1e6:.2f}M |  |  |", flush=True)
    finally:
        run.restore(url, marks)


def per_request(backend, scenario, requests, target):
    """One request's instructions: (warm-up and ``requests``) less (warm-up alone)."""
    base = counted(backend, scenario, 0, target)
    return (counted(backend, scenario, requests, target) - base) / requests


def counted(backend, scenario, requests, target):
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--child", scenario, str(requests), target]
    if backend == "sqlite":
        command.append("--sqlite")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode or not found:
        sys.exit(f"{scenario} under valgrind failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def child(backend, scenario, requests, target):
    import floor
    import profiler

    if target == "floor":
        app = floor.create_app(run.prepare_floor(backend))
    else:
        app = profiler.product(run.database_url(backend, "small"))
    request = profiler._scenario(app.test_client(), scenario)
    for _ in range(WARM_UP + int(requests)):
        request()


if __name__ == "__main__":
    main()
