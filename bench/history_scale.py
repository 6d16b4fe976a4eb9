"""Server-side time of the leads' history page and SLA figures at 10k, 100k and 1M handoffs.

Run from the project root:

    .venv/bin/python bench/history_scale.py                        # SQLite and PostgreSQL, 10k/100k/1M
    .venv/bin/python bench/history_scale.py --sizes 10000,100000 --backends sqlite
    .venv/bin/python bench/history_scale.py --reuse --backends sqlite  # measure the last run's rows again

It never touches the app's or the tests' databases: SQLite uses instance/bench_history.db
(recreated), PostgreSQL a database `bench_history` that it drops and creates again
(BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/bench_history). The schema,
indexes included, is built by the migrations (`flask db upgrade`), as in production.
Rows are added incrementally (10k, then up to 100k, then up to 1M) with the same generator as
`flask demo seed --handoffs N`. Each request runs in-process through the Flask test client, as a
logged-in lead; the time printed is the median of --repeat runs after one warm-up run, so it is
the server's time (routing, queries, templates), without network. Bounded: the seeding is the
slow part (about 2 minutes per million rows on SQLite); --timeout stops the run cleanly.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app import create_app  # noqa: E402
from config import DevelopmentConfig, normalise_database_url  # noqa: E402
from models import User, db  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SQLITE_PATH = ROOT / "instance" / "bench_history.db"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/bench_history")
PAGES = (
    ("history, last 7 days", "/history/", {}),
    ("history, all time", "/history/?date_from=", {}),
    ("history, all time, one agent", "/history/?date_from=&agent={agent}", {}),
    ("history, page 2 (keyset)", None, {}),
    ("SLA summary (htmx), 7 days", "/history/sla", {"HX-Request": "true"}),
    ("SLA + charts + tables, 7 days", "/history/sla", {}),
    ("SLA summary (htmx), 30 days", "/history/sla?date_from={d30}", {"HX-Request": "true"}),
    ("SLA summary (htmx), all time", "/history/sla?date_from=", {"HX-Request": "true"}),
)


def sqlite_url() -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{SQLITE_PATH}"


def postgres_url() -> str:
    url = normalise_database_url(POSTGRES_URL)
    name = url.rsplit("/", 1)[1]
    if name in ("test", "postgres") or name.startswith("test"):
        raise SystemExit(f"refusing to use the database {name!r} for a benchmark")
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def build_app(url: str):
    settings = {k: getattr(DevelopmentConfig, k) for k in dir(DevelopmentConfig) if k.isupper()}
    settings.update(
        SQLALCHEMY_DATABASE_URI=url,
        RATELIMIT_ENABLED=False,
        WTF_CSRF_ENABLED=False,
        PASSWORD_HASH_MEMORY_KIB=1024,
        ONEMSG_API_URL="",
        TESTING=False,
    )
    app = create_app(settings)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def lead_client(app):
    from services import sessions
    from services.passwords import hash_password

    with app.app_context():
        lead = db.session.scalar(db.select(User).where(User.email == "bench.lead@example.com"))
        if lead is None:
            lead = User(
                email="bench.lead@example.com",
                name="Bench Lead",
                role="lead",
                password_hash=hash_password("bench-lead-password"),
            )
            db.session.add(lead)
            db.session.commit()
        sessions.start(lead, remember=False)
        user_id = sessions.cookie_value(lead)
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_id, True
    return client


def timed(client, url: str, headers: dict, repeat: int) -> tuple[float, int]:
    client.get(url, headers=headers)  # warm-up: caches, first compile of the statements
    times, status = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(times), status


def measure(app, client, repeat: int) -> dict:
    import re
    from datetime import timedelta

    from models import Handoff, utcnow

    with app.app_context():
        agent = db.session.scalar(db.select(Handoff.agent_id).where(Handoff.agent_id.is_not(None)).limit(1))
    d30 = (utcnow() - timedelta(days=29)).date().isoformat()
    results = {}
    for label, url, headers in PAGES:
        if url is None:  # the "older" link of the first all-time page
            body = client.get("/history/?date_from=").get_data(as_text=True)
            found = re.search(r'href="(/history/\?before=[^"]+)"', body)
            url = found.group(1).replace("&amp;", "&") if found else "/history/?date_from="
        results[label] = timed(client, url.format(agent=agent, d30=d30), headers, repeat)
    return results


def seed_up_to(app, have: int, want: int) -> float:
    from services.history_seed import generate_history

    started = time.monotonic()
    with app.app_context():
        if want > have:
            generate_history(want - have, seed=want)
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE handoffs"))
            else:
                db.session.execute(text("ANALYZE"))
                db.session.commit()
                # Fold the seeding's WAL back into the database, as a long-running server would.
                raw = db.engine.raw_connection()
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                raw.close()
    return time.monotonic() - started


def existing_url(name: str) -> str:
    """--reuse: the database the last run left behind, as it is."""
    if name == "sqlite":
        if not SQLITE_PATH.exists():
            raise SystemExit(f"--reuse: {SQLITE_PATH} does not exist; run once without --reuse")
        return f"sqlite:///{SQLITE_PATH}"
    return normalise_database_url(POSTGRES_URL)


def row_count(app) -> int:
    from models import Handoff

    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Handoff)) or 0


def run_backend(name: str, sizes: list[int], repeat: int, reuse: bool, deadline: float) -> list:
    url = existing_url(name) if reuse else (sqlite_url() if name == "sqlite" else postgres_url())
    app = build_app(url)
    client, have, rows = lead_client(app), 0, []
    if reuse:
        have = row_count(app)
        print(f"  {name}: measuring the {have:,} handoffs already there", flush=True)
        rows.append((name, have, measure(app, client, repeat)))
        sizes = []
    for size in sizes:
        if time.monotonic() > deadline:
            print(f"  {name}: stopping before {size:,} rows (--timeout reached)", flush=True)
            break
        seconds = seed_up_to(app, have, size)
        have = size
        print(f"  {name}: {size:,} handoffs ready (seeding took {seconds:.0f} s)", flush=True)
        rows.append((name, size, measure(app, client, repeat)))
    with app.app_context():
        db.engine.dispose()
    return rows


def print_table(rows: list) -> None:
    labels = [label for label, _, _ in PAGES]
    header = f"{'backend':<10} {'handoffs':>10}  " + "  ".join(f"{i + 1:>7}" for i in range(len(labels)))
    print("\nServer time per request in ms (median):")
    for i, label in enumerate(labels):
        print(f"  {i + 1}. {label}")
    print(header)
    for backend, size, results in rows:
        cells = "  ".join(
            f"{results[label][0]:>7.0f}" if results[label][1] == 200 else f"{'ERR':>7}" for label in labels
        )
        print(f"{backend:<10} {size:>10,}  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the databases the last run left, without seeding (ignores --sizes)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds; no new size starts after this")
    args = parser.parse_args()
    os.environ.setdefault("APP_ENV", "development")
    deadline = time.monotonic() + args.timeout
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = []
    for backend in args.backends.split(","):
        rows += run_backend(backend.strip(), sizes, args.repeat, args.reuse, deadline)
    print_table(rows)


if __name__ == "__main__":
    main()
