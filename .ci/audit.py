"""Read pip-audit's JSON report and say what it means, from its own result.

Exit 1 when a dependency has a known vulnerability or could not be audited although the
vulnerability data answered for others; exit 0 with a plain statement when nothing was
found, or when no dependency could be looked up at all (the vulnerability data is
unreachable from this network: then nothing was audited, and this says so).
"""

import json
import sys


def main(path):
    with open(path, encoding="utf-8") as report:
        dependencies = json.load(report)["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    for dependency in vulnerable:
        ids = ", ".join(vuln["id"] for vuln in dependency["vulns"])
        print(f"pip-audit: {dependency['name']} {dependency['version']}: {ids}")
    if vulnerable:
        return 1
    if dependencies and not audited:
        print(f"pip-audit: the vulnerability data is unreachable from this network "
              f"({skipped[0]['skip_reason']}); {len(skipped)} dependencies NOT audited")
        return 0
    if skipped:
        for dependency in skipped:
            print(f"pip-audit: {dependency['skip_reason']}")
        return 1
    print(f"pip-audit: no known vulnerabilities in {audited} dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
