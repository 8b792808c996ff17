"""Print the mutation score of each core module from mutmut's results (``make mutate``).

mutmut keeps, beside each mutated copy under ``mutants/``, a ``.meta`` file with the exit code
of the tests run against each mutant; this reads them with mutmut's own table of what an exit
code means, and prints killed / survived / other per module and the survivors' names.

    python tests/mutation_scores.py [--survivors]
"""

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

TARGET = 0.90


def main():
    show_survivors = "--survivors" in sys.argv
    metas = sorted(Path("mutants").rglob("*.py.meta"))
    if not metas:
        sys.exit("no results under mutants/: run `make mutate` first")
    print(f"{'module':<40} {'mutants':>7} {'checked':>7} {'killed':>6} {'survived':>8} "
          f"{'score':>6}")
    below, survivors = [], []
    for meta in metas:
        results = json.loads(meta.read_text())["exit_code_by_key"]
        if not results:
            continue
        statuses = Counter(status_by_exit_code[code] for code in results.values())
        killed = statuses["killed"] + statuses["timeout"] + statuses["caught by type check"]
        survived = statuses["survived"]
        checked = len(results) - statuses["not checked"]
        # Of the mutants checked: one not yet checked (an interrupted run) counts for nothing.
        score = killed / checked if checked else 0.0
        module = str(meta.relative_to("mutants")).removesuffix(".meta")
        print(f"{module:<40} {len(results):>7} {checked:>7} {killed:>6} {survived:>8} "
              f"{score:>6.1%}")
        if score < TARGET or checked < len(results):
            below.append(module)
        survivors += sorted(name for name, code in results.items()
                            if status_by_exit_code[code] != "killed")
    if show_survivors:
        print("\n" + "\n".join(survivors))
    if below:
        print(f"\nbelow {TARGET:.0%} or not checked whole: {', '.join(below)}")


if __name__ == "__main__":
    main()
