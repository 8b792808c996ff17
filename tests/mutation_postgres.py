"""Run surviving mutants against the PostgreSQL tests (``make mutate-postgres``).

``make mutate`` runs the SQLite tests only, so a mutant in a path that exists on PostgreSQL
alone (a one-statement write, an advisory lock) survives it. This takes each survivor mutmut
recorded (or those named), activates it in mutmut's copy of the code under ``mutants/``, and
runs the statement budget (``test_statements.py``) and the PostgreSQL twins of the tests
mutmut found reaching the mutated function. It prints which the PostgreSQL tests kill and
which survive them too; it changes none of mutmut's results.

    TEST_DATABASE_URL=postgresql+psycopg://... python tests/mutation_postgres.py [name ...]
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code


def survivors():
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if status_by_exit_code[code] == "survived":
                yield name


def postgres_tests(name, tests_by_function):
    function = name.rpartition("__mutmut_")[0]
    return sorted(test.replace("[sqlite", "[postgresql")
                  for test in tests_by_function.get(function, ())
                  if "[sqlite" in test)


def budget_tests():
    """The statement budget's PostgreSQL tests: a path that costs more statements fails it."""
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--rootdir=.", "tests/test_statements.py", "-k", "postgresql"],
        cwd="mutants", capture_output=True, text=True, check=True)
    return [line for line in listed.stdout.splitlines() if line.startswith("tests/")]


def main():
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        sys.exit("set TEST_DATABASE_URL to a PostgreSQL database (see README, Tests)")
    stats = Path("mutants/mutmut-stats.json")
    if not stats.exists():
        sys.exit("no results under mutants/: run `make mutate` first")
    tests_by_function = json.loads(stats.read_text())["tests_by_mangled_function_name"]
    names = sys.argv[1:] or list(survivors())
    budget = budget_tests()
    killed, survived = [], []
    for name in names:
        tests = postgres_tests(name, tests_by_function)
        if not tests:
            print(f"{name}: no PostgreSQL test reaches it")
            survived.append(name)
            continue
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
             "--rootdir=.", *budget, *tests],
            cwd="mutants", env={**os.environ, "MUTANT_UNDER_TEST": name,
                                "REQUIRE_POSTGRES": "1"},
            capture_output=True, text=True, check=False)
        if result.returncode == 1:
            killed.append(name)
            print(f"{name}: killed")
        elif result.returncode == 0:
            survived.append(name)
            print(f"{name}: survived {len(budget) + len(tests)} PostgreSQL tests")
        else:  # collection errors, a missing server: say so rather than count it
            sys.exit(f"{name}: pytest exited {result.returncode}\n{result.stdout[-2000:]}")
    print(f"\nPostgreSQL tests: {len(killed)} killed, {len(survived)} survived of {len(names)}")
    if survived:
        print("survived:\n" + "\n".join(survived))


if __name__ == "__main__":
    main()
