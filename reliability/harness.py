"""What the load and crash runs share: a throwaway database, the emulator, a real gunicorn with
the webhook applier process beside it (as scripts/run starts them), logged-in browser-like
sessions, and a record of checks and figures.

Everything listens on 127.0.0.1 only. The app runs with its own secrets, generated per run,
so the logs can be searched for them afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import signal
import socket

# bandit: the runs start gunicorn, flask and ps with fixed arguments
import subprocess  # nosec B404
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CHANNEL_ID = "371267300"
DEFAULT_PG_URL = os.environ.get("RELIABILITY_PG_URL", "postgresql://postgres@127.0.0.1:5432")
# bandit: throwaway users of a throwaway database
AGENT_PASSWORD = "reliability-agent-pass"  # nosec B105
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')


def free_port() -> int:
    """A port nobody listens on right now (loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ----- the database -----


@dataclass
class Database:
    """A database of the run's own: a SQLite file in a temp dir, or a PostgreSQL database."""

    kind: str
    name: str = "rel_load"
    pg_url: str = DEFAULT_PG_URL
    url: str = ""
    _dir: str = ""

    def create(self) -> Database:
        if self.kind == "sqlite":
            self._dir = tempfile.mkdtemp(prefix=f"{self.name}_")
            self.url = f"sqlite:///{self._dir}/app.db"
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = f"{self.pg_url}/{self.name}"
        return self

    def drop(self) -> None:
        if self.kind == "sqlite":
            for path in Path(self._dir).glob("*"):
                path.unlink()
            Path(self._dir).rmdir()
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        if not re.fullmatch(r"rel_[a-z0-9_]+", self.name):
            raise ValueError(f"refusing to touch database {self.name!r}: run databases are named rel_*")
        with psycopg.connect(f"{self.pg_url}/postgres", autocommit=True) as conn:
            conn.execute(statement)


# ----- settings for the app under test -----


@dataclass
class RunSecrets:
    token: str = field(default_factory=lambda: "reltoken" + secrets.token_hex(16))
    webhook_secret: str = field(default_factory=lambda: "relhook" + secrets.token_hex(20))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))


def app_environment(database: Database, emulator_url: str, run: RunSecrets, **extra: str) -> dict:
    """The environment gunicorn and `flask` commands run with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONEMSG_", "TEST_DATABASE"))}
    env.update(
        APP_ENV="development",
        DATABASE_URL=database.url,
        SECRET_KEY=run.secret_key,
        ONEMSG_API_URL=emulator_url,
        ONEMSG_CHANNEL_ID=CHANNEL_ID,
        ONEMSG_TOKEN=run.token,
        ONEMSG_WEBHOOK_SECRET=run.webhook_secret,
        REDIS_URL="",
        SEND_LIMIT="10000 per minute",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def flask_command(env: dict, *args: str, timeout: float = 120) -> str:
    """Run `flask <args>` against the run's database; returns its output."""
    result = subprocess.run(
        [str(VENV_BIN / "flask"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,  # nosec B603
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def harness_app(database: Database, run: RunSecrets):
    """The app object in this process, to seed data and check the outcome through the models."""
    os.environ["APP_ENV"] = "development"
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _normalised(database.url),
            "ONEMSG_TOKEN": run.token,
            "ONEMSG_WEBHOOK_SECRET": run.webhook_secret,
            "SECRET_KEY": run.secret_key,
        }
    )


def _normalised(url: str) -> str:
    from config import normalise_database_url

    return normalise_database_url(url)


# ----- the emulator, in this process -----


class Emulator:
    """The 1MSG emulator on a free loopback port, with the run's token."""

    def __init__(self, token: str, *, slow_seconds: float = 4.0, ack_delay: float = 0.05):
        from onemsg.emulator import create_emulator, serve_in_thread

        self.token = token
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
        app = create_emulator(
            CHANNEL_ID, token, ack_delay=ack_delay, slow_seconds=slow_seconds, webhook_retry_delays=(0.2, 0.5, 1.0)
        )
        self.server, self.url = serve_in_thread(app)

    def _call(self, method: str, path: str, json=None):
        response = requests.request(
            method,
            f"{self.url}/{CHANNEL_ID}/{path}",
            json=json,
            timeout=10,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        response.raise_for_status()
        return response.json()

    def sends(self, method: str = "sendContact") -> int:
        """How many calls of `method` 1MSG received."""
        return sum(1 for r in self._call("GET", "_emulator/requests") if r["path"].endswith("/" + method))

    def open_window(self, phone: str) -> None:
        self._call("POST", "_emulator/inbound", {"phone": phone.lstrip("+"), "body": "Hello"})

    def register_webhook(self, url: str) -> None:
        self._call("POST", "webhook", {"webhookUrl": [url]})
        self._call("POST", "settings", {"ackNotificationsOn": True})  # as `flask onemsg connect` does

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ----- gunicorn -----


class Gunicorn:
    """`gunicorn app:app` with several workers and threads, logs in files we can search."""

    def __init__(self, env: dict, *, workers: int, threads: int, log_dir: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = Path(log_dir) / "access.log"
        self.error_log = Path(log_dir) / "error.log"
        command = [
            str(VENV_BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            str(self.access_log),
            "--error-logfile",
            str(self.error_log),
            "--capture-output",
            "app:app",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,  # nosec B603
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.logs()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s:\n{self.logs()[-3000:]}")

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the master)."""
        # bandit: ps from PATH
        output = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],  # nosec B603 B607
            capture_output=True,
            text=True,
        ).stdout
        return [int(pid) for pid in output.split()]

    def kill_workers(self) -> list[int]:
        """kill -9 every worker (the master starts new ones): whatever they were doing dies."""
        killed = self.workers()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return killed

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in (self.access_log, self.error_log) if path.exists()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ----- the applier process -----

# libpq's name for the applier's sessions, so a run can tell them from the web processes' in
# pg_stat_activity (the app does not set one).
APPLIER_APP_NAME = "handoffs-applier"


def applier_process_applies(database: Database, env: dict) -> bool:
    """Whether `flask handoffs applier` applies the stored webhook bodies (services.applier.listening):
    on PostgreSQL, unless WEBHOOK_APPLIER=thread. Otherwise the web processes' threads do."""
    return database.kind == "postgresql" and env.get("WEBHOOK_APPLIER", "process") == "process"


class ApplierProcess:
    """`flask handoffs applier` beside gunicorn, as scripts/run starts it, with gunicorn's
    environment; its output (every start's) goes to one log file we can search."""

    def __init__(self, env: dict, *, log_dir: str):
        self.env = {**env, "PGAPPNAME": APPLIER_APP_NAME}
        self.log = Path(log_dir) / "applier.log"
        self.process: subprocess.Popen | None = None
        self.exit_codes: list[int] = []  # of each stop or kill, in order
        self.start()

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "flask"), "handoffs", "applier"],
                cwd=ROOT,
                env=self.env,
                stdout=out,  # nosec B603
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> int:
        """kill -9: whatever it was doing dies (its transaction with it). Returns its pid."""
        pid = self.process.pid
        self.process.kill()
        self.exit_codes.append(self.process.wait())
        return pid

    def restart(self) -> None:
        self.stop()
        self.start()

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM, as scripts/run stops it; it finishes its pass and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.exit_codes.append(self.process.wait(timeout=15))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.exit_codes.append(self.process.wait())


# ----- browser-like sessions -----


def csrf_token(html: str) -> str:
    tag = _CSRF.search(html)
    value = _VALUE.search(tag.group(0)) if tag else None
    if value is None:
        raise RuntimeError("no csrf_token input on the page")
    return value.group(1)


def logged_in_session(base_url: str, email: str, password: str = AGENT_PASSWORD) -> requests.Session:
    """Log in the way a browser does: fetch the form, post it with its CSRF token."""
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=30)
    response = session.post(
        f"{base_url}/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login of {email} answered {response.status_code}")
    return session


# ----- results -----


@dataclass
class Report:
    """Named checks and figures; printed at the end, exit code 1 if any check failed."""

    title: str
    figures: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> bool:
        (self.passed if ok else self.failures).append(what)
        return ok

    def figure(self, name: str, value) -> None:
        self.figures[name] = value

    def print(self) -> None:
        print(f"== {self.title}")
        for name, value in self.figures.items():
            print(f"  {name}: {value}")
        for what in self.passed:
            print(f"  ok    {what}")
        for what in self.failures:
            print(f"  FAIL  {what}")
        print("== " + ("all checks passed" if not self.failures else f"{len(self.failures)} check(s) FAILED"))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def secrets_in_logs(text: str, run: RunSecrets) -> list[str]:
    """Which of the run's secrets appear in the logs (should be none)."""
    named = {"1MSG token": run.token, "webhook secret": run.webhook_secret, "SECRET_KEY": run.secret_key}
    return [name for name, value in named.items() if value in text]
