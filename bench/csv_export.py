"""The CSV export alone: the large dataset's export through gunicorn, timed whole, twice.

``make bench`` measures it too, after its load scenarios; this measures nothing else, for a
quick look at the export's rows a second and the worker's memory growth.

    python bench/csv_export.py [--sqlite]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="export from SQLite instead")
    args = parser.parse_args()
    run.CACHE.mkdir(parents=True, exist_ok=True)
    url = run.prepare("sqlite" if args.sqlite else "postgresql", "large")
    with run.Server(url) as server:
        for _ in range(2):
            result = run.csv_profile(server)
            rate = result["csv_rows"] / result["csv_seconds"]
            print(f"{result['csv_rows']:,} rows, {result['csv_bytes'] / 1e6:.1f} MB in "
                  f"{result['csv_seconds']:.2f} s ({rate:,.0f} rows/s), first byte after "
                  f"{result['csv_first_byte_s'] * 1000:.0f} ms, worker grew "
                  f"{result['csv_rss_growth'] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
