"""What the benchmark scripts share: databases, real servers on loopback, the load client, tables.

Every server is a real process (gunicorn, or the 1MSG emulator) on 127.0.0.1 and a free port,
started in its own process group and stopped by that group's id. Databases are the bench's own:
a SQLite file in a temporary folder, or a PostgreSQL database `bench_<name>_<pid>` that is
created and dropped here. Nothing touches the app's or the tests' databases.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
GUNICORN = str(VENV_BIN / "gunicorn")
# Same settings as scripts/run, for our app and for every reference.
WORKERS, THREADS = 2, 8
POSTGRES_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
WEBHOOK_SECRET = "dev-webhook-secret-0123456789abcdef0123"
CHANNEL, TOKEN = "100000", "dev-token"
AGENT = ("agent@example.com", "agent-demo-pass")
# Our app as gunicorn loads it; another module can be named to measure a change before making it.
OURS = os.environ.get("BENCH_APP", "app:app")
# wrk, the C load client, when installed: it does not compete with the servers for the CPU as
# much as the Python client does.
WRK = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)


# ----- numbers and tables -----


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def print_table(headers: list[str], rows: list[list], title: str = "") -> str:
    """Print (and return) a Markdown table, so it can be pasted into docs/PERFORMANCE.md."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    text = (f"\n{title}\n\n" if title else "\n") + "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    """One line about the machine, for the record."""
    model = "unknown CPU"
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else model
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}"


@dataclass
class LoadResult:
    """What a load run saw: one latency per answered request, status codes, errors."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    units: int = 0  # what the run counts besides requests (e.g. events acked)

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def failures(self) -> int:
        return sum(self.errors.values()) + sum(n for code, n in self.statuses.items() if code >= 400)


# ----- databases -----


@contextmanager
def bench_database(backend: str, name: str):
    """A fresh, migrated database with the demo data; yields its SQLAlchemy URL, then removes it."""
    folder = tempfile.mkdtemp(prefix=f"bench_{name}_")
    url = f"sqlite:///{folder}/bench.db" if backend == "sqlite" else _create_postgres(f"bench_{name}_{os.getpid()}")
    try:
        _migrate_and_seed(url)
        yield url
    finally:
        if backend != "sqlite":
            _drop_postgres(url)
        shutil.rmtree(folder, ignore_errors=True)


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _admin_engine():
    from sqlalchemy import create_engine

    from config import normalise_database_url

    return create_engine(normalise_database_url(POSTGRES_BASE), isolation_level="AUTOCOMMIT")


def _create_postgres(database: str) -> str:
    from sqlalchemy import text

    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    return str(engine.url.set(database=database).render_as_string(hide_password=False))


def _drop_postgres(url: str) -> None:
    from sqlalchemy import text

    database = url.rsplit("/", 1)[1]
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    engine.dispose()


def data_app(url: str):
    """An in-process app on the bench database, to create data with the app's own models."""
    from app import create_app
    from config import DevelopmentConfig

    settings = {k: getattr(DevelopmentConfig, k) for k in dir(DevelopmentConfig) if k.isupper()}
    settings.update(SQLALCHEMY_DATABASE_URI=url, ONEMSG_API_URL="", RATELIMIT_ENABLED=False)
    return create_app(settings)


def _migrate_and_seed(url: str) -> None:
    from flask_migrate import upgrade

    from models import db
    from services.demo import seed_demo

    app = data_app(url)
    with app.app_context(), redirect_stderr(io.StringIO()):  # Alembic's INFO lines
        upgrade(directory=str(ROOT / "migrations"))
        seed_demo()
        db.engine.dispose()


def add_tickets(url: str, count: int, *, first_phone: int = 14155562000, prefix: str = "BENCH") -> list[dict]:
    """Tickets whose customers wrote to us a minute ago (their window is open); returns id + phone."""
    from sqlalchemy import insert, select

    from models import InboundMessage, Ticket, User, db, utcnow

    app, now = data_app(url), utcnow()
    phones = [f"+{first_phone + i}" for i in range(count)]
    with app.app_context():
        agent_id = db.session.scalar(select(User.id).where(User.email == AGENT[0]))
        db.session.execute(
            insert(Ticket),
            [
                dict(
                    external_ref=f"{prefix}-{i}",
                    subject="Benchmark ticket",
                    customer_name=f"Customer {i}",
                    customer_phone=phone,
                    status="ready",
                    assignee_id=agent_id,
                    ready_at=now,
                    created_at=now,
                    updated_at=now,
                )
                for i, phone in enumerate(phones)
            ],
        )
        db.session.execute(
            insert(InboundMessage),
            [
                dict(
                    onemsg_id=f"wamid.{prefix}IN{i}",
                    customer_phone=phone,
                    sent_at=now - timedelta(minutes=1),
                    received_at=now,
                )
                for i, phone in enumerate(phones)
            ],
        )
        db.session.commit()
        rows = db.session.execute(
            select(Ticket.id, Ticket.customer_phone).where(Ticket.external_ref.like(f"{prefix}-%")).order_by(Ticket.id)
        ).all()
        db.engine.dispose()
    return [{"id": row.id, "phone": row.customer_phone} for row in rows]


def add_inflight_handoffs(url: str, tickets: list[dict], message_ids: list[str]) -> list[int]:
    """Accepted cards (waiting for sent/delivered/read), one per message id, over the tickets."""
    from sqlalchemy import insert, select

    from models import STATUS_RANK, Handoff, Specialist, User, db, utcnow
    from services.specialist_cards import card_payload

    app, now = data_app(url), utcnow()
    with app.app_context():
        specialist = db.session.scalar(select(Specialist).order_by(Specialist.id).limit(1))
        agent_id = db.session.scalar(select(User.id).where(User.email == AGENT[0]))
        card = card_payload(specialist)
        rows = [
            dict(
                kind="card",
                ticket_id=tickets[i % len(tickets)]["id"],
                specialist_id=specialist.id,
                agent_id=agent_id,
                idempotency_key=f"bench-{message_id}",
                request_fingerprint="bench",
                customer_phone=tickets[i % len(tickets)]["phone"],
                card_snapshot=card,
                message_id=message_id,
                status="accepted",
                status_rank=STATUS_RANK["accepted"],
                created_at=now,
                accepted_at=now,
                updated_at=now,
                card_on_reply=False,
            )
            for i, message_id in enumerate(message_ids)
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Handoff), rows[start : start + 5000])
        db.session.commit()
        ids = db.session.scalars(
            select(Handoff.id).where(Handoff.message_id.in_(message_ids[:1000])).order_by(Handoff.id)
        ).all()
        db.engine.dispose()
    return list(ids)


def available_specialist(url: str) -> int:
    """The first specialist, made available at any hour (no working hours, absence or daily
    capacity): a bench's sends then never stop at the "send although ...?" question."""
    from sqlalchemy import delete, select, update

    from models import Specialist, db
    from models.specialist import Absence

    with data_app(url).app_context():
        specialist_id = db.session.scalar(select(Specialist.id).order_by(Specialist.id).limit(1))
        db.session.execute(delete(Absence).where(Absence.specialist_id == specialist_id))
        db.session.execute(
            update(Specialist).where(Specialist.id == specialist_id).values(working_hours="", daily_capacity=None)
        )
        db.session.commit()
        db.engine.dispose()
    return specialist_id


def count_rows(url: str, table: str, where: str = "") -> int:
    from sqlalchemy import create_engine, text

    from config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar()
    engine.dispose()
    return count


# ----- servers -----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A process in its own process group, stopped by that group's id (never by name)."""

    def __init__(self, name: str, command: list[str], env: dict, port: int, ready_path: str):
        self.name, self.port, self.ready_path = name, port, ready_path
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench_{name}_", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60.0, workers: int = 0) -> None:
        """Wait until it answers HTTP (any status) and, for gunicorn, every worker has booted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            if self._answers() and len(self.booted_workers()) >= workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.base_url + self.ready_path, timeout=2).read()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def booted_workers(self) -> list[int]:
        return [pid for pid in self.worker_pids() if f"Booting worker with pid: {pid}" in self.log_text()]

    def worker_pids(self) -> list[int]:
        """The master's children (gunicorn workers), from /proc."""
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(entry.name))
        return sorted(children)

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def cpu_seconds(server) -> float:
    """CPU time (user + system) the server's workers have used so far, from /proc: per request, a
    figure a neighbour's load on the shared cores changes much less than the rate."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in server.worker_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def app_env(url: str, port: int, emulator_url: str = "http://127.0.0.1:9") -> dict:
    """Our app's environment: development settings on the bench database, 1MSG = the emulator."""
    env = dict(os.environ)
    env.update(
        APP_ENV="development",
        DATABASE_URL=url,
        PORT=str(port),
        ONEMSG_API_URL="",
        ONEMSG_EMULATOR_URL=emulator_url,
        REDIS_URL="",
        HELPDESK_WEBHOOK_URL="",
        BENCH_DATABASE_URL=url,
        PYTHONDONTWRITEBYTECODE="1",
        # One simulated agent sends hundreds of cards: lift the per-agent send limit.
        SEND_LIMIT="1000000 per minute",
    )
    return env


def gunicorn_command(app_spec: str, port: int, workers: int = WORKERS, threads: int = THREADS) -> list[str]:
    return [
        GUNICORN,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--log-level",
        "info",
        app_spec,
    ]


@contextmanager
def gunicorn(
    name: str, app_spec: str, env: dict, *, ready_path: str = "/healthz", workers: int = WORKERS, threads: int = THREADS
):
    """Start gunicorn (the same flags for ours and the references), yield it, stop it."""
    port = free_port()
    env = {**env, "PORT": str(port)}
    server = Server(name, gunicorn_command(app_spec, port, workers, threads), env, port, ready_path)
    try:
        server.wait_ready(workers=workers)
        yield server
    finally:
        server.stop()


@contextmanager
def webhook_applier(env: dict, app_spec: str = OURS):
    """`flask handoffs applier` beside our gunicorn, as scripts/run starts it (on PostgreSQL it
    applies the stored webhook bodies; on SQLite the web processes do, and it only waits)."""
    command = [str(VENV_BIN / "flask"), "--app", app_spec, "handoffs", "applier"]
    server = Server("applier", command, env, 0, "")
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def emulator(env: dict, ack_delay: float = 0.2):
    """The 1MSG emulator as `flask onemsg emulator` runs it."""
    port = free_port()
    command = [
        str(VENV_BIN / "flask"),
        "--app",
        "app",
        "onemsg",
        "emulator",
        "--port",
        str(port),
        "--ack-delay",
        str(ack_delay),
    ]
    server = Server("emulator", command, env, port, f"/{CHANNEL}/status?token={TOKEN}")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def open_windows(emulator_url: str, phones: list[str]) -> None:
    """Tell the emulator each customer wrote to us (its own check of the 24-hour window)."""
    import requests

    with requests.Session() as http:
        for phone in phones:
            http.post(
                f"{emulator_url}/{CHANNEL}/_emulator/inbound",
                timeout=10,
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"phone": phone, "body": "Hello"},
            ).raise_for_status()


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status."""
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) if found else 0


# ----- logging in -----


def login(base_url: str, email: str = AGENT[0], password: str = AGENT[1], csrf_page: str = "/") -> tuple[str, str]:
    """Log in through the form (CSRF on); returns (Cookie header value, a CSRF token for forms)."""
    import requests

    with requests.Session() as http:
        token = csrf_token(http.get(base_url + "/login", timeout=30).text)
        answer = http.post(
            base_url + "/login",
            data={"email": email, "password": password, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"login failed: {answer.status_code}")
        token = csrf_token(http.get(base_url + csrf_page, timeout=30).text) or token
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return cookie, token


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    return found.group(1) if found else ""


# ----- the load client (asyncio + aiohttp: one process, many simulated users) -----


def client_session(connections: int, headers: dict | None = None):
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None),
        timeout=aiohttp.ClientTimeout(total=60),
        headers=headers or {},
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def _timed(session, result: LoadResult, method: str, url: str, **kwargs) -> int | None:
    """Send one request, read the whole answer, record its time; returns the status (None: error)."""
    started = time.perf_counter()
    try:
        async with session.request(method, url, allow_redirects=False, **kwargs) as response:
            await response.read()
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop on them
        result.errors[type(exc).__name__] += 1
        return None
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    result.statuses[response.status] += 1
    return response.status


async def paced_users(
    url: str, users: int, interval: float, duration: float, *, headers: dict, connections: int, headers_for=None
) -> LoadResult:
    """`users` pollers, each GETting `url` every `interval` s (phases spread evenly), for `duration` s.

    Like htmx's `every 2s`, a poller whose answer is late skips the ticks it missed instead of
    piling requests up. Latency is from sending to the last byte, waiting for a pooled
    connection included. headers_for(index), when given, adds each user's own headers.
    """
    result, loop = LoadResult(), asyncio.get_running_loop()
    async with client_session(connections, headers) as session:
        start = loop.time()
        end = start + duration

        async def user(index: int) -> None:
            tick = start + interval * index / users
            while tick < end:
                await asyncio.sleep(max(0.0, tick - loop.time()))
                extra = {"headers": headers_for(index)} if headers_for else {}
                await _timed(session, result, "GET", url, **extra)
                while tick <= loop.time():
                    tick += interval

        await asyncio.gather(*(user(i) for i in range(users)))
        # The rate is over the window the polls were sent in, not the last answer's arrival.
        result.elapsed = max(duration, 1e-9)
    return result


async def closed_loop(
    make_request, concurrency: int, duration: float, *, headers: dict | None = None, max_requests: int | None = None
) -> LoadResult:
    """`concurrency` users sending back to back for `duration` s (or `max_requests` in all).

    make_request(number) returns (method, url, kwargs, units) or None when there is nothing left.
    """
    result, loop = LoadResult(), asyncio.get_running_loop()
    counter = iter(range(max_requests if max_requests is not None else 1 << 62))
    async with client_session(concurrency, headers) as session:
        start = loop.time()

        async def user() -> None:
            for number in counter:
                request = make_request(number) if loop.time() - start < duration else None
                if request is None:
                    return
                method, url, kwargs, units = request
                if await _timed(session, result, method, url, **kwargs) in (200, 302):
                    result.units += units

        await asyncio.gather(*(user() for _ in range(concurrency)))
        result.elapsed = loop.time() - start
    return result


def run(coroutine):
    return asyncio.run(coroutine)
