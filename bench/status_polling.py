"""Status polling: the live status fragment of an in-flight handoff vs a constant-string Flask endpoint.

Run from the project root:

    .venv/bin/python bench/status_polling.py                     # 200 and 1,000 agents, ~2 minutes
    .venv/bin/python bench/status_polling.py --agents 200,500,1000 --duration 30 --backend postgresql

Both servers are real gunicorns on 127.0.0.1 with the same flags as scripts/run (2 workers x 8
threads). Agents are simulated by one asyncio + aiohttp client process: each agent GETs the
fragment every --interval s (as htmx's `every 2s` does, with `HX-Request: true` and a logged-in
session cookie), phases spread evenly, over a bounded pool of --connections keep-alive
connections. Then each server is driven flat out by --concurrency back-to-back users
(the throughput ceiling). The reference gets the same requests (headers included).
"""

import argparse

from common import (
    OURS,
    add_inflight_handoffs,
    add_tickets,
    app_env,
    bench_database,
    closed_loop,
    gunicorn,
    login,
    machine,
    paced_users,
    print_table,
    run,
)


def measure(
    backend: str = "sqlite",
    agents=(200, 1000),
    interval: float = 2.0,
    duration: float = 15.0,
    saturate: float = 8.0,
    concurrency: int = 32,
    connections: int = 64,
) -> dict:
    """Run every scenario on both servers; returns {"paced": rows, "ceiling": rows, "ratio": float}."""
    with bench_database(backend, "polling") as url:
        tickets = add_tickets(url, 1)
        handoff_id = add_inflight_handoffs(url, tickets, ["wamid.BENCHPOLL1"])[0]
        env = app_env(url, 0)
        with (
            gunicorn("ours", OURS, env) as ours,
            gunicorn("reference", "bench.reference_app:constant_app", env, ready_path="/constant") as ref,
        ):
            cookie, _ = login(ours.base_url)
            headers = {"Cookie": cookie, "HX-Request": "true"}
            targets = [
                ("ours: status fragment", f"{ours.base_url}/handoffs/{handoff_id}/status"),
                ("reference: constant string", f"{ref.base_url}/constant"),
            ]
            _check_fragment(targets[0][1], headers)
            for _, target in targets:  # warm-up: connections, first template compile, caches
                run(closed_loop(lambda n, t=target: ("GET", t, {}, 1), 8, 1.0, headers=headers))
            paced = [
                _paced_row(label, target, n, interval, duration, headers, connections)
                for n in agents
                for label, target in targets
            ]
            ceiling = [_ceiling_row(label, target, concurrency, saturate, headers) for label, target in targets]
    ratio = ceiling[0][2] / ceiling[1][2] if ceiling[1][2] else 0.0
    return {"paced": paced, "ceiling": ceiling, "ratio": ratio}


def _check_fragment(url: str, headers: dict) -> None:
    """The fragment must be the polling one (200, with its trigger), or the numbers mean nothing."""
    import requests

    answer = requests.get(url, headers=headers, timeout=30)
    if answer.status_code != 200 or "hx-trigger" not in answer.text:
        raise RuntimeError(f"the status fragment did not answer as expected: {answer.status_code}")


def _paced_row(label, url, agents, interval, duration, headers, connections) -> list:
    result = run(paced_users(url, agents, interval, duration, headers=headers, connections=connections))
    return [label, agents, agents / interval, result.rate, result.p(50), result.p(95), result.p(99), result.failures()]


def _ceiling_row(label, url, concurrency, seconds, headers) -> list:
    result = run(closed_loop(lambda n: ("GET", url, {}, 1), concurrency, seconds, headers=headers))
    return [label, concurrency, result.rate, result.p(50), result.p(95), result.p(99), result.failures()]


def report(results: dict) -> None:
    print_table(
        ["server", "agents", "offered req/s", "served req/s", "p50 ms", "p95 ms", "p99 ms", "failed"],
        results["paced"],
        "Agents polling the status fragment (open loop, one poll per agent per interval)",
    )
    print_table(
        ["server", "concurrent users", "req/s", "p50 ms", "p95 ms", "p99 ms", "failed"],
        results["ceiling"],
        "Throughput ceiling (closed loop, back to back)",
    )
    print(f"\nRatio ours / reference throughput: {results['ratio']:.2f} (target >= 0.50)")
    for row in results["paced"]:
        if row[0].startswith("ours"):
            verdict = "meets" if row[5] < 50 else "misses"
            print(f"ours at {row[1]} agents ({row[3]:.0f} req/s): p95 {row[5]:.1f} ms {verdict} the 50 ms target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--agents", default="200,1000", help="comma-separated agent counts")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one agent's polls")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per paced run")
    parser.add_argument("--saturate", type=float, default=8.0, help="seconds per ceiling run")
    parser.add_argument("--concurrency", type=int, default=32, help="back-to-back users for the ceiling")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections for the agents")
    args = parser.parse_args()
    print(f"Status polling on {args.backend}; {machine()}")
    report(
        measure(
            args.backend,
            [int(n) for n in args.agents.split(",")],
            args.interval,
            args.duration,
            args.saturate,
            args.concurrency,
            args.connections,
        )
    )


if __name__ == "__main__":
    main()
