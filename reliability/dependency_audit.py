"""pip-audit, read so that a run that checked nothing never looks green.

pip-audit reports "No known vulnerabilities found" even when every package was skipped
("Dependency not found on PyPI and could not be audited": the vulnerability database could
not be reached or does not know the version). This runs it with JSON output and says what was
really checked:

    .venv/bin/python -m reliability.dependency_audit -r requirements-dev.txt

Exit 1 on any known vulnerability. When some or all packages could not be checked it says
"could not check" with the count and the reason, and exits 1 only with --require (for a CI
that can reach the database and must prove it did).
"""

import argparse
import json

# bandit: runs pip-audit from our own virtualenv with fixed arguments
import subprocess  # nosec B404
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class AuditReport:
    checked: list[str]
    skipped: dict[str, str]  # name -> reason
    vulnerable: dict[str, list[str]]  # "name version" -> vulnerability ids

    def verdict(self) -> tuple[str, bool, bool]:
        """(the message, vulnerabilities found, something could not be checked)."""
        total = len(self.checked) + len(self.skipped)
        if self.vulnerable:
            found = "; ".join(f"{name}: {', '.join(ids)}" for name, ids in sorted(self.vulnerable.items()))
            text = f"pip-audit: KNOWN VULNERABILITIES in {len(self.vulnerable)} package(s): {found}"
            return text, True, bool(self.skipped)
        if not self.checked:
            reason = next(iter(self.skipped.values()), "no packages listed")
            return (
                (
                    f"pip-audit: could not check: 0 of {total} packages were looked up in the vulnerability "
                    f"database (e.g. {reason}). NOTHING WAS CHECKED."
                ),
                False,
                True,
            )
        if self.skipped:
            return (
                (
                    f"pip-audit: checked {len(self.checked)} of {total} packages, no known vulnerabilities; "
                    f"could not check {len(self.skipped)}: {', '.join(sorted(self.skipped))}"
                ),
                False,
                True,
            )
        return f"pip-audit: checked all {total} packages, no known vulnerabilities", False, False


def read_report(pip_audit_json: str) -> AuditReport:
    data = json.loads(pip_audit_json)
    report = AuditReport([], {}, {})
    for dep in data.get("dependencies", []):
        if dep.get("skip_reason"):
            report.skipped[dep["name"]] = dep["skip_reason"]
            continue
        report.checked.append(dep["name"])
        if dep.get("vulns"):
            report.vulnerable[f"{dep['name']} {dep.get('version', '')}"] = [v["id"] for v in dep["vulns"]]
    return report


def run_pip_audit(requirements: str) -> AuditReport | str:
    """The report, or why pip-audit gave none (it crashed, e.g. the database host is unknown)."""
    pip_audit = Path(sys.executable).with_name("pip-audit")
    result = subprocess.run(
        [str(pip_audit), "-r", requirements, "-f", "json", "--progress-spinner", "off"],  # nosec B603
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        return read_report(result.stdout)
    except (json.JSONDecodeError, KeyError, TypeError):
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"pip-audit gave no report (exit {result.returncode}): {last[:300]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--requirements", default="requirements-dev.txt")
    parser.add_argument(
        "--require", action="store_true", help="fail when anything could not be checked, not only on vulnerabilities"
    )
    args = parser.parse_args(argv)
    report = run_pip_audit(args.requirements)
    if isinstance(report, str):
        print(f"pip-audit: could not check: {report}. NOTHING WAS CHECKED.")
        return 1 if args.require else 0
    message, vulnerable, unchecked = report.verdict()
    print(message)
    return 1 if vulnerable or (unchecked and args.require) else 0


if __name__ == "__main__":
    sys.exit(main())
