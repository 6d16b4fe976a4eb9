"""The dependency audit never reports green when it checked nothing."""

import json

from reliability import dependency_audit
from reliability.dependency_audit import read_report

# What pip-audit -f json printed on a machine that could not reach its vulnerability database.
NOTHING_CHECKED = json.dumps(
    {
        "dependencies": [
            {
                "name": "requests",
                "skip_reason": "Dependency not found on PyPI and could not be audited: requests (2.34.2)",
            },
            {"name": "idna", "skip_reason": "Dependency not found on PyPI and could not be audited: idna (3.20)"},
        ],
        "fixes": [],
    }
)


def test_all_skipped_says_could_not_check_not_no_vulnerabilities():
    message, vulnerable, unchecked = read_report(NOTHING_CHECKED).verdict()
    assert message.startswith("pip-audit: could not check: 0 of 2 packages")
    assert "NOTHING WAS CHECKED" in message and "no known vulnerabilities" not in message.lower()
    assert (vulnerable, unchecked) == (False, True)


def test_some_skipped_names_them():
    data = json.loads(NOTHING_CHECKED)
    data["dependencies"].append({"name": "flask", "version": "3.1.3", "vulns": []})
    message, vulnerable, unchecked = read_report(json.dumps(data)).verdict()
    assert message == (
        "pip-audit: checked 1 of 3 packages, no known vulnerabilities; could not check 2: idna, requests"
    )
    assert unchecked and not vulnerable


def test_a_vulnerability_fails():
    data = {
        "dependencies": [
            {
                "name": "flask",
                "version": "0.12",
                "vulns": [{"id": "PYSEC-2018-66", "fix_versions": ["0.12.3"], "aliases": [], "description": "..."}],
            }
        ]
    }
    message, vulnerable, _ = read_report(json.dumps(data)).verdict()
    assert vulnerable and "PYSEC-2018-66" in message


def test_all_checked_is_green():
    data = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}
    assert read_report(json.dumps(data)).verdict() == (
        "pip-audit: checked all 1 packages, no known vulnerabilities",
        False,
        False,
    )


def test_require_fails_when_nothing_could_be_checked(monkeypatch, capsys):
    monkeypatch.setattr(dependency_audit, "run_pip_audit", lambda _: read_report(NOTHING_CHECKED))
    assert dependency_audit.main(["-r", "x.txt"]) == 0
    assert dependency_audit.main(["-r", "x.txt", "--require"]) == 1
    assert "could not check" in capsys.readouterr().out


def test_a_real_run_is_green_only_when_it_checked_something(tmp_path, capsys):
    """pip-audit itself, on this machine's network, whatever it can reach."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.20\n")
    code = dependency_audit.main(["-r", str(requirements)])
    out = capsys.readouterr().out
    assert out.startswith("pip-audit: ")
    if "no known vulnerabilities" in out:
        assert "checked all 1 packages" in out
    else:
        assert "could not check" in out or "KNOWN VULNERABILITIES" in out
    assert code in (0, 1)
