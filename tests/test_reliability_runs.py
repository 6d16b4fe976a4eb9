"""The load and crash runs (reliability/) at a reduced size, on the suite's database kind.

Each run starts a real gunicorn on 127.0.0.1 with a database of its own (a temporary SQLite
file, or PostgreSQL database rel_<run>_<test database> on the TEST_DATABASE_URL server, so
suites on different test databases of one server can run at once) and exits non-zero
when a check fails; the full-size runs are in .ci/run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_options(name: str) -> list[str]:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        return ["--db", "sqlite"]
    server, test_database = url.rsplit("/", 1)
    server = server.replace("postgresql+psycopg://", "postgresql://")
    suffix = re.sub(r"[^a-z0-9_]", "_", test_database.split("?")[0].lower())
    return ["--db", "postgresql", "--pg-url", server, "--pg-database", f"rel_{name}_{suffix}"]


def run_module(module: str, name: str, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, *run_options(name), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(result.stdout)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert "all checks passed" in result.stdout
    return result.stdout


@pytest.mark.slow
def test_webhook_burst_with_pollers_and_identical_sends_on_gunicorn():
    output = run_module(
        "reliability.load",
        "load",
        "--webhooks",
        "250",
        "--pollers",
        "10",
        "--sends",
        "10",
        "--workers",
        "2",
        "--threads",
        "4",
    )
    assert "events lost: 0" in output and "-> 1 sendContact" in output


@pytest.mark.slow
def test_workers_killed_mid_webhook_and_mid_send_lose_nothing_and_send_once():
    output = run_module("reliability.crash", "crash")
    assert "sendContact calls 1" in output
