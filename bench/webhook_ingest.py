"""Webhook ingest: ack[] events per second into our receiver vs a bare WSGI insert of the raw row.

Run from the project root:

    .venv/bin/python bench/webhook_ingest.py                      # SQLite and PostgreSQL, ~2 minutes
    .venv/bin/python bench/webhook_ingest.py --backends sqlite --duration 20 --batches 1,10,50

For each backend, a fresh database gets the demo data plus enough in-flight handoffs (status
accepted) that every ack matches one: event j is `sent`, `delivered` or `read` (j % 3) of
message j // 3, so each event is new and moves its handoff on, as 1MSG's three acks per card
do. --senders concurrent senders (asyncio + aiohttp, one process) POST back to back, one event
or 50 per POST, for --duration s (ours stops early at --max-events, the handoffs made for it).
Both servers are gunicorns with scripts/run's flags. After each run the rows are counted:
webhook_events (one per acked POST) and, for ours, status_events (one per acked event) and
handoffs that reached the last status sent; nothing may be missing.
"""
import argparse
import json

from common import (OURS, WEBHOOK_SECRET, add_inflight_handoffs, add_tickets, app_env, bench_database, closed_loop,
                    count_rows, gunicorn, machine, postgres_available, print_table, run)

STATUSES = ("sent", "delivered", "read")
WINDOW = 1000  # handoffs per block of acks (see event())


def measure(backend: str = "sqlite", batches=(1, 50), senders: int = 8, duration: float = 8.0,
            max_events: int = 30000) -> list[list]:
    """Ours and the reference for each batch size on one backend; returns the table's rows."""
    rows = []
    with bench_database(backend, "ingest") as url:
        tickets = add_tickets(url, 2000)  # a "delivered" ack also moves its ticket on
        prefixes = {batch: f"wamid.BENCH{batch}X" for batch in batches}
        for batch in batches:  # every event of ours has its handoff waiting for it
            messages = (max_events // (3 * WINDOW) + 1) * WINDOW
            add_inflight_handoffs(url, tickets, [f"{prefixes[batch]}{m:07d}" for m in range(messages)])
        env = app_env(url, 0)
        with gunicorn("ours", OURS, env) as ours, \
                gunicorn("reference", "bench.reference_app:ingest_app", env, ready_path="/") as ref:
            _warm_up(ours.base_url + f"/webhooks/1msg/{WEBHOOK_SECRET}", ref.base_url + "/")
            for batch in batches:
                target = ours.base_url + f"/webhooks/1msg/{WEBHOOK_SECRET}"
                rows.append(_run("ours", backend, url, target, batch, prefixes[batch], senders, duration,
                                 max_events))
                rows.append(_run("reference", backend, url, ref.base_url + "/", batch, prefixes[batch] + "R",
                                 senders, duration, None))
    return rows


def _warm_up(*targets: str) -> None:
    body = json.dumps({"instanceId": "100000", "ack": [{"id": "wamid.BENCHWARM", "status": "sent"}]})
    for target in targets:
        run(closed_loop(lambda n, t=target: ("POST", t, {"data": body, "headers": JSON}, 1), 4, 1.0))


JSON = {"Content-Type": "application/json"}


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
        acks.append({"id": f"{prefix}{message:07d}", "status": status, "chatId": "14155562000@c.us",
                     "phone": "14155562000"})
    return json.dumps({"instanceId": "100000", "ack": acks})


def _run(server, backend, url, target, batch, prefix, senders, duration, max_events) -> list:
    posts_before = count_rows(url, "webhook_events")
    events_before = count_rows(url, "status_events")
    limit = max_events // batch if max_events else None

    def next_post(number: int):
        return "POST", target, {"data": _body(prefix, number * batch, batch), "headers": JSON}, batch

    result = run(closed_loop(next_post, senders, duration, max_requests=limit))
    stored_posts = count_rows(url, "webhook_events") - posts_before
    stored_events = count_rows(url, "status_events") - events_before if server == "ours" else None
    acked_posts = result.statuses[200]
    lost = acked_posts - stored_posts + ((result.units - stored_events) if stored_events is not None else 0)
    if server == "ours":  # every handoff whose three acks were all acked must be "read" now
        lost += _unread_handoffs(url, prefix, result.units)
    return [server, backend, batch, result.count, result.units / result.elapsed, result.p(50), result.p(95),
            result.p(99), result.failures(), lost]


def _unread_handoffs(url: str, prefix: str, events: int) -> int:
    """Handoffs of the blocks this run finished (all three acks acked) that are not "read"."""
    finished_messages = events // (3 * WINDOW) * WINDOW
    if not finished_messages:
        return 0
    last = f"{prefix}{finished_messages - 1:07d}"
    return count_rows(url, "handoffs", f"WHERE message_id LIKE '{prefix}%' AND message_id <= '{last}' "
                                       "AND status <> 'read'")


def report(rows: list[list]) -> None:
    print_table(["server", "database", "events/POST", "POSTs", "events/s", "p50 ms", "p95 ms", "p99 ms",
                 "failed", "lost"], rows, "Webhook ingest (closed loop, back to back)")
    ours = {(r[1], r[2]): r for r in rows if r[0] == "ours"}
    for row in rows:
        if row[0] != "reference":
            continue
        mine = ours[(row[1], row[2])]
        ratio = mine[4] / row[4] if row[4] else 0.0
        extra = "; target >= 1,000 events/s: " + ("met" if mine[4] >= 1000 else "missed") if row[2] == 1 else ""
        print(f"{row[1]}, {row[2]} event(s)/POST: ours / reference = {ratio:.2f} (target >= 0.50); "
              f"ours p95 {mine[6]:.1f} ms (target < 50){extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batches", default="1,50", help="events per POST, comma-separated")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--max-events", type=int, default=30000, help="events per run of ours (at most)")
    args = parser.parse_args()
    print(f"Webhook ingest; {machine()}")
    rows = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL is not reachable on 127.0.0.1:5432: skipped")
            continue
        rows += measure(backend, [int(b) for b in args.batches.split(",")], args.senders, args.duration,
                        args.max_events)
    report(rows)


if __name__ == "__main__":
    main()
