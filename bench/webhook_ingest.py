"""Webhook ingest: ack events per second stored and applied by our receiver vs a bare WSGI insert.

Run from the project root:

    .venv/bin/python bench/webhook_ingest.py                      # SQLite and PostgreSQL, ~3 minutes
    .venv/bin/python bench/webhook_ingest.py --backends sqlite --duration 20 --batches 1,10,50

For each backend, a fresh database gets the demo data plus enough in-flight handoffs (status
accepted) that every ack matches one: event j is `sent`, `delivered` or `read` of a message
(see event()), so each event is new and moves its handoff on, as 1MSG's three acks per card
do. --senders concurrent connections POST back to back, one event or 50 per POST, for
--duration s or until every event with a handoff waiting (--max-events) has been posted, when
the rate is taken over the time they posted: repeats would be work that no handoff shows. On
PostgreSQL each run starts with a VACUUM, so none pays for the previous one's dead rows. The
load client is wrk (with bench/webhook_ingest.lua writing the bodies) when it is installed,
else the Python client (asyncio + aiohttp); the table says which ran. Both
servers are gunicorns with scripts/run's flags, measured in the same run; beside ours runs
two `flask handoffs applier`, as scripts/run starts them (on PostgreSQL they apply the bodies).

Ours answers once the body is stored and applies it off the request path, so besides the ack
rate and latency the table gives the apply side: events applied per second (first body
received to last body applied) and the apply lag (received to applied, per body). After each
run of ours the bench waits until the bodies stored when the load ended are applied, then
counts: every acked POST stored, every acked event in status_events and applied, none of those
bodies left pending; "lost" adds up what is missing (POSTs, events and bodies alike). POSTs the
client abandoned when it stopped may still be stored afterwards: never acked, they are not counted.
The reference stores the raw row and applies nothing.
"""

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from common import (
    OURS,
    WEBHOOK_SECRET,
    add_inflight_handoffs,
    add_tickets,
    app_env,
    bench_database,
    closed_loop,
    gunicorn,
    machine,
    percentile,
    postgres_available,
    print_table,
    run,
    webhook_applier,
)

STATUSES = ("sent", "delivered", "read")
WINDOW = 1000  # handoffs per block of acks (see event())
WRK = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
LUA = Path(__file__).resolve().parent / "webhook_ingest.lua"
WRK_THREADS = 2
DRAIN_TIMEOUT = 180.0
JSON = {"Content-Type": "application/json"}


def measure(
    backend: str = "sqlite",
    batches=(1, 50),
    senders: int = 8,
    duration: float = 8.0,
    max_events: int = 360000,
    client: str = "auto",
    rounds: int = 1,
) -> list[list]:
    """Ours and the reference for each batch size on one backend, `rounds` times over, ours and the
    reference alternating (so a neighbour's load hits both alike); returns the table's rows."""
    client = ("wrk" if WRK else "python") if client == "auto" else client
    rows = []
    with bench_database(backend, "ingest") as url:
        tickets = add_tickets(url, 2000)  # a "delivered" ack also moves its ticket on
        prefixes = {(r, batch): f"wamid.BENCH{batch}X{r}X" for r in range(rounds) for batch in batches}
        capacity = (max_events // (3 * WINDOW) + 1) * 3 * WINDOW
        for prefix in prefixes.values():  # every event of ours has its handoff waiting for it
            add_inflight_handoffs(url, tickets, [f"{prefix}{m:07d}" for m in range(capacity // 3)])
        env = app_env(url, 0)
        with (
            gunicorn("ours", OURS, env) as ours,
            webhook_applier(env),
            webhook_applier(env),  # two, as scripts/run starts them
            gunicorn("reference", "bench.reference_app:ingest_app", env, ready_path="/") as ref,
        ):
            _warm_up(ours.base_url + f"/webhooks/1msg/{WEBHOOK_SECRET}", ref.base_url + "/")
            for r in range(rounds):
                for batch in batches:
                    target = ours.base_url + f"/webhooks/1msg/{WEBHOOK_SECRET}"
                    rows.append(
                        _run(
                            client,
                            "ours",
                            backend,
                            url,
                            target,
                            batch,
                            prefixes[(r, batch)],
                            senders,
                            duration,
                            capacity,
                        )
                        + [r + 1]
                    )
                    rows.append(
                        _run(
                            client,
                            "reference",
                            backend,
                            url,
                            ref.base_url + "/",
                            batch,
                            prefixes[(r, batch)] + "R",
                            senders,
                            duration,
                            capacity,
                        )
                        + [r + 1]
                    )
    return rows


def _warm_up(*targets: str) -> None:
    body = json.dumps({"instanceId": "100000", "ack": [{"id": "wamid.BENCHWARM", "status": "sent"}]})
    for target in targets:
        run(closed_loop(lambda n, t=target: ("POST", t, {"data": body, "headers": JSON}, 1), 4, 1.0))


def event(j: int) -> tuple[int, str]:
    """Event j as (message number, status): blocks of WINDOW messages get sent, then delivered, then read.

    So the events in flight at one time (at most senders x batch) touch different handoffs, as
    1MSG's acks, seconds apart, do; consecutive numbers for one message would queue on its row lock.
    """
    block, k = divmod(j, 3 * WINDOW)
    return block * WINDOW + k % WINDOW, STATUSES[k // WINDOW]


def _body(prefix: str, first: int, count: int) -> str:
    acks = []
    for j in range(first, first + count):
        message, status = event(j)
        acks.append(
            {"id": f"{prefix}{message:07d}", "status": status, "chatId": "14155562000@c.us", "phone": "14155562000"}
        )
    return json.dumps({"instanceId": "100000", "ack": acks})


class Load:
    """What a load run saw, whichever client ran it."""

    def __init__(self, acked: int, failed: int, elapsed: float, p50: float, p95: float, p99: float):
        self.acked, self.failed, self.elapsed, self.p50, self.p95, self.p99 = acked, failed, elapsed, p50, p95, p99


def _python_load(target, batch, prefix, senders, duration, capacity) -> Load:
    def next_post(number: int):
        if (number + 1) * batch > capacity:
            return None  # no handoff left to move: stop rather than repeat events
        return "POST", target, {"data": _body(prefix, number * batch, batch), "headers": JSON}, batch

    result = run(closed_loop(next_post, senders, duration))
    return Load(result.statuses[200], result.failures(), result.elapsed, result.p(50), result.p(95), result.p(99))


def _wrk_load(target, batch, prefix, senders, duration, capacity) -> Load:
    env = {
        **os.environ,
        "BENCH_BATCH": str(batch),
        "BENCH_PREFIX": prefix,
        "BENCH_WINDOW": str(WINDOW),
        "BENCH_CAPACITY": str(capacity),
        "BENCH_THREADS": str(WRK_THREADS),
    }
    command = [
        WRK,
        "-t",
        str(WRK_THREADS),
        "-c",
        str(senders),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        target,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_RESULT "))
    found = json.loads(line.removeprefix("BENCH_RESULT "))
    acked = found["requests"] - found["non_2xx"]
    return Load(
        acked,
        found["non_2xx"] + found["socket_errors"],
        found["duration_us"] / 1e6,
        found["p50_us"] / 1000,
        found["p95_us"] / 1000,
        found["p99_us"] / 1000,
    )


def _run(client, server, backend, url, target, batch, prefix, senders, duration, capacity) -> list:
    _vacuum(url)
    last_post = _max_id(url, "webhook_events")
    load = (_wrk_load if client == "wrk" else _python_load)(target, batch, prefix, senders, duration, capacity)
    acked_events = load.acked * batch
    if acked_events + senders * batch >= capacity:
        # The senders stopped early, once every event had been posted: the rate is over the time
        # they posted (the bodies' first to last arrival), not over the run's full duration.
        load.elapsed = min(load.elapsed, max(_stored_span(url, last_post), 1e-3))
    # Every acked POST is stored by now (we answer after the commit). POSTs still in the server
    # when the client stopped are stored later and were never acked: they are not counted.
    stored = stored_ids(url, last_post)
    lost = max(0, load.acked - len(stored))
    applied_rate = lag_p95 = None
    if server == "ours":
        _wait_until_applied(url, last_post, stored)
        lost += count_lost(url, last_post, stored, prefix)
        applied_rate, lag_p95 = _apply_figures(url, last_post, min(acked_events, capacity))
    return [
        client,
        server,
        backend,
        batch,
        load.acked,
        acked_events / load.elapsed,
        applied_rate,
        load.p50,
        load.p95,
        load.p99,
        lag_p95,
        load.failed,
        lost,
    ]


def _vacuum(url: str) -> None:
    """PostgreSQL: clean up after the previous run before this one starts. A run at 50 events per
    POST leaves ~360,000 dead row versions behind (handoffs, status events, bodies marked applied),
    and autovacuum's pass over them fell into the next run, whichever server that measured."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    from config import normalise_database_url

    engine = create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    engine.dispose()


def count_lost(url: str, last_post: int, stored: set[int], prefix: str) -> int:
    """Events of the stored bodies without a status_events row, or with one never applied, plus
    those bodies left pending.

    The events are read back from the bodies: once wrk's numbers wrap round the handoffs made for
    the run, the events sent are not the first (acked x batch) numbers, as wrk's threads do not
    keep in step (one 8 s run at load ~10 counted 2,450 "lost" that were never sent). Only bodies
    stored when the load ended count: a POST still in the server then (unacked) may be stored
    after the drain was awaited, and its body, pending for a moment, is no loss."""
    wanted = {
        (item["id"], item["status"])
        for body_id, body in _rows(url, f"SELECT id, body FROM webhook_events WHERE id > {last_post}")
        if body_id in stored
        for item in json.loads(body)["ack"]
    }
    found = dict(
        ((message_id, kind), applied)
        for message_id, kind, applied in _rows(
            url, f"SELECT message_id, status, applied FROM status_events WHERE message_id LIKE '{prefix}%'"
        )
    )
    missing = sum(1 for key in wanted if key not in found)
    unapplied = sum(1 for key in wanted if key in found and not found[key])
    return missing + unapplied + len(_pending_ids(url, last_post) & stored)


def stored_ids(url: str, last_post: int) -> set[int]:
    """Ids of the webhook bodies stored after `last_post` (the id before the load began)."""
    return {row[0] for row in _rows(url, f"SELECT id FROM webhook_events WHERE id > {last_post}")}


def _stored_span(url: str, last_post: int) -> float:
    """Seconds from the first to the last body stored after `last_post`."""
    ((first, last),) = _rows(
        url, f"SELECT min(received_at), max(received_at) FROM webhook_events WHERE id > {last_post}"
    )
    return (_as_time(last) - _as_time(first)).total_seconds() if first is not None else 0.0


def _pending_ids(url: str, last_post: int) -> set[int]:
    return {
        row[0] for row in _rows(url, f"SELECT id FROM webhook_events WHERE id > {last_post} AND applied_at IS NULL")
    }


def _rows(url: str, sql: str) -> list:
    from sqlalchemy import create_engine, text

    from config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    engine.dispose()
    return rows


def _wait_until_applied(url: str, last_post: int, stored: set[int]) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while _pending_ids(url, last_post) & stored:
        if time.monotonic() > deadline:
            return  # what is still pending is counted as lost
        time.sleep(0.1)


def _apply_figures(url: str, last_post: int, events: int) -> tuple[float, float]:
    """(events applied per second, first received to last applied; p95 ms from received to applied)."""
    from sqlalchemy import create_engine, text

    from config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT received_at, applied_at FROM webhook_events WHERE id > {last_post} AND applied_at IS NOT NULL"
            )
        ).all()
    engine.dispose()
    if not rows:
        return 0.0, 0.0
    rows = [(_as_time(received), _as_time(applied)) for received, applied in rows]
    span = max(a for _, a in rows) - min(r for r, _ in rows)
    lags = [(a - r).total_seconds() * 1000 for r, a in rows]
    return events / max(span.total_seconds(), 1e-6), percentile(lags, 95)


def _as_time(value):
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _max_id(url: str, table: str) -> int:
    from sqlalchemy import create_engine, text

    from config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        value = conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
    engine.dispose()
    return value


HEADERS = [
    "client",
    "server",
    "database",
    "events/POST",
    "POSTs acked",
    "acked events/s",
    "applied events/s",
    "ack p50 ms",
    "ack p95 ms",
    "ack p99 ms",
    "apply lag p95 ms",
    "failed",
    "lost",
    "round",
]


def report(rows: list[list]) -> None:
    print_table(
        HEADERS,
        [[("-" if v is None else v) for v in row] for row in rows],
        "Webhook ingest (closed loop, back to back)",
    )
    ours = {(r[2], r[3], r[-1]): r for r in rows if r[1] == "ours"}
    for row in rows:
        if row[1] != "reference":
            continue
        mine, backend, batch = ours[(row[2], row[3], row[-1])], row[2], row[3]
        ratio = mine[5] / row[5] if row[5] else 0.0
        lines = [f"ours / reference {ratio:.2f}"]
        if batch == 1:
            target = 0.5 if backend == "postgresql" else 0.35
            lines.append(f"target >= {target:.2f}: {'met' if ratio >= target else 'missed'}")
            if backend == "postgresql":
                lines.append(f"ack p95 {mine[8]:.1f} ms (target < 20: {'met' if mine[8] < 20 else 'missed'})")
        else:
            target = 5000 if backend == "postgresql" else 2000
            lines.append(
                f"applied {mine[6]:,.0f} events/s (target >= {target:,}: {'met' if mine[6] >= target else 'missed'})"
            )
        lines.append(f"apply lag p95 {mine[10]:.0f} ms (target < 500: {'met' if mine[10] < 500 else 'missed'})")
        lines.append(f"lost {mine[12]}")
        print(f"{backend}, {batch} event(s)/POST, {row[0]}, round {row[-1]}: " + "; ".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batches", default="1,50", help="events per POST, comma-separated")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument(
        "--max-events",
        type=int,
        default=360000,
        help="events with a handoff waiting, per batch size and round; the senders stop once all are posted",
    )
    parser.add_argument(
        "--client", choices=["auto", "wrk", "python"], default="auto", help="load client (auto: wrk when installed)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of ours then the reference, alternating, per batch size"
    )
    args = parser.parse_args()
    print(
        f"Webhook ingest; {machine()}; load client: "
        f"{args.client if args.client != 'auto' else ('wrk' if WRK else 'python (wrk not installed)')}"
    )
    rows = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL is not reachable on 127.0.0.1:5432: skipped")
            continue
        rows += measure(
            backend,
            [int(b) for b in args.batches.split(",")],
            args.senders,
            args.duration,
            args.max_events,
            args.client,
            args.rounds,
        )
    report(rows)


if __name__ == "__main__":
    main()
