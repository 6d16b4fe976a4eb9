"""Status polling: the live status fragment of an in-flight handoff vs a constant-string Flask endpoint.

Run from the project root:

    .venv/bin/python bench/status_polling.py                     # 3 rounds, about 3 minutes
    .venv/bin/python bench/status_polling.py --rounds 5 --backend postgresql

Both servers are real gunicorns on 127.0.0.1 with the flags of scripts/run (2 workers x 8
threads), started once and measured in the same run. The load client is wrk (bench/
status_polling.lua sets the headers: `HX-Request: true`, the logged-in session cookie and, for
a revalidation, `If-None-Match` with the fragment's ETag) when it is installed, else the Python
client (asyncio + aiohttp, which shares the two cores and caps the reference); the tables say
which ran. Each round measures, in an order that alternates from round to round:

- the ceiling (closed loop, --connections back to back) of the reference, of our revalidated
  poll (304: the browser's copy is current, as for most polls of an unchanged handoff) and of
  our full-render poll (200: no If-None-Match, or a stale one);
- the realistic load: --agents agents polling every --interval s (htmx's `every 2s`), of which
  --revalidate send the current ETag (a 304) and the rest get a full render; wrk paces
  --paced-connections connections with a pause before each poll (jittered) so that together
  they offer agents / interval polls per second, and the reference is paced the same way.

Ratios are taken within a round (ours / the reference measured next to it); the summary gives
the median over rounds.
"""

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

import requests
from common import (
    OURS,
    WRK,
    add_inflight_handoffs,
    add_tickets,
    app_env,
    bench_database,
    closed_loop,
    cpu_seconds,
    gunicorn,
    login,
    machine,
    paced_users,
    print_table,
    run,
)

LUA = Path(__file__).resolve().parent / "status_polling.lua"
WRK_THREADS = 2
TARGETS = {"304": 0.5, "full": 0.3}  # ours / reference throughput
P95_TARGET_MS = 50.0
# The polls come from the client that logged in, as a browser's do (common.login uses requests).
USER_AGENT = requests.utils.default_user_agent()


def measure(
    backend: str = "sqlite",
    rounds: int = 3,
    duration: float = 8.0,
    connections: int = 32,
    agents: int = 1000,
    interval: float = 2.0,
    paced_connections: int = 250,
    paced_duration: float = 10.0,
    revalidate: float = 0.9,
    client: str = "auto",
) -> dict:
    """Every scenario on both servers, `rounds` times; returns {"client", "ceiling", "paced"} rows."""
    client = ("wrk" if WRK else "python") if client == "auto" else client
    ceiling, paced = [], []
    with bench_database(backend, "polling") as url:
        tickets = add_tickets(url, 1)
        handoff_id = add_inflight_handoffs(url, tickets, ["wamid.BENCHPOLL1"])[0]
        env = app_env(url, 0)
        with (
            gunicorn("ours", OURS, env) as ours,
            gunicorn("reference", "bench.reference_app:constant_app", env, ready_path="/constant") as ref,
        ):
            cookie, _ = login(ours.base_url)
            fragment = f"{ours.base_url}/handoffs/{handoff_id}/status"
            etag = check_fragment(fragment, cookie)
            targets = {"reference": f"{ref.base_url}/constant", "ours": fragment}
            servers = {"reference": ref, "ours": ours}
            load = Load(client, cookie, etag)
            for target in targets.values():  # warm-up: connections, first template compile, caches
                load.ceiling(target, min(connections, 8), 1.0, 0.5)
            for r in range(1, rounds + 1):
                order = [("reference", 0.0), ("ours", 1.0), ("ours", 0.0)]
                for server, share in order if r % 2 else order[::-1]:
                    kind = "constant" if server == "reference" else ("304" if share else "full")
                    before = cpu_seconds(servers[server])
                    found = load.ceiling(targets[server], connections, duration, share)
                    cpu_ms = 1000 * (cpu_seconds(servers[server]) - before) / max(1, found[0] * duration)
                    ceiling.append([client, server, kind, r, connections, *found, cpu_ms])
                for server in ("ours", "reference") if r % 2 else ("reference", "ours"):
                    found = load.paced(targets[server], paced_connections, paced_duration, revalidate, agents, interval)
                    paced.append([client, server, r, agents / interval, *found])
    return {"client": client, "ceiling": ceiling, "paced": paced, "revalidate": revalidate, "agents": agents}


def check_fragment(url: str, cookie: str) -> str:
    """The fragment must be the polling one (200 with its trigger and an ETag, 304 when revalidated
    with it), or the numbers mean nothing; returns the ETag."""
    import requests

    headers = {"Cookie": cookie, "HX-Request": "true", "User-Agent": USER_AGENT}
    answer = requests.get(url, headers=headers, timeout=30)
    etag = answer.headers.get("ETag", "")
    if answer.status_code != 200 or "hx-trigger" not in answer.text or not etag:
        raise RuntimeError(f"the status fragment did not answer as expected: {answer.status_code}")
    again = requests.get(url, headers={**headers, "If-None-Match": etag}, timeout=30)
    if again.status_code != 304:
        raise RuntimeError(f"the revalidated poll answered {again.status_code}, not 304")
    return etag


class Load:
    """One load client (wrk or the Python one) with the agent's cookie and the fragment's ETag."""

    def __init__(self, client: str, cookie: str, etag: str):
        self.client, self.cookie, self.etag = client, cookie, etag

    def ceiling(self, url: str, connections: int, duration: float, revalidate: float) -> list:
        """[req/s, p50, p95, p99, failed] back to back."""
        if self.client == "wrk":
            found = self._wrk(url, connections, duration, revalidate, 0.0)
            return [found["rate"], found["p50"], found["p95"], found["p99"], found["failed"]]
        headers = self._headers(revalidate >= 1)
        result = run(closed_loop(lambda n: ("GET", url, {}, 1), connections, duration, headers=headers))
        return [result.rate, result.p(50), result.p(95), result.p(99), result.failures()]

    def paced(self, url, connections, duration, revalidate, agents, interval) -> list:
        """[served req/s, share of 304s, p50, p95, p99, failed] under the paced mix: `agents` polls
        every `interval` s, carried by `connections` connections (wrk) or one task per agent (Python)."""
        if self.client == "wrk":
            pause_ms = 1000.0 * connections * interval / agents
            found = self._wrk(url, connections, duration, revalidate, pause_ms, count=True)
            answered = found["s200"] + found["s304"] + found["sother"]
            share = found["s304"] / answered if answered else 0.0
            return [found["rate"], share, found["p50"], found["p95"], found["p99"], found["failed"]]
        cut = round(agents * revalidate)

        def headers_for(index: int) -> dict:
            return self._headers(index < cut)

        result = run(paced_users(url, agents, interval, duration, headers={}, connections=64, headers_for=headers_for))
        answered = sum(result.statuses.values())
        share = result.statuses[304] / answered if answered else 0.0
        return [result.rate, share, result.p(50), result.p(95), result.p(99), result.failures()]

    def _headers(self, conditional: bool) -> dict:
        headers = {"Cookie": self.cookie, "HX-Request": "true", "User-Agent": USER_AGENT}
        return {**headers, "If-None-Match": self.etag} if conditional else headers

    def _wrk(self, url, connections, duration, revalidate, pause_ms, count=False) -> dict:
        env = {
            **os.environ,
            "BENCH_COOKIE": self.cookie,
            "BENCH_USER_AGENT": USER_AGENT,
            "BENCH_ETAG": self.etag,
            "BENCH_REVALIDATE": str(revalidate),
            "BENCH_DELAY_MS": str(pause_ms),
            "BENCH_COUNT_STATUSES": "1" if count else "0",
        }
        seconds = max(1, round(duration))
        command = [WRK, "-t", str(min(WRK_THREADS, connections)), "-c", str(connections), "-d", f"{seconds}s"]
        command += ["--timeout", "10s", "-s", str(LUA), url]
        output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True)
        line = next(line for line in output.stdout.splitlines() if line.startswith("BENCH_RESULT "))
        found = json.loads(line.removeprefix("BENCH_RESULT "))
        return {
            **found,
            "rate": found["requests"] / (found["duration_us"] / 1e6),
            "p50": found["p50_us"] / 1000,
            "p95": found["p95_us"] / 1000,
            "p99": found["p99_us"] / 1000,
            "failed": found["non_2xx"] + found["socket_errors"],
        }


def summary(results: dict) -> dict:
    """Median over rounds: throughput ratios per poll kind, and the paced p95 of ours."""
    by_round = {}
    for row in results["ceiling"]:
        by_round.setdefault(row[3], {})[row[2]] = row[5]
    ratios = {
        kind: statistics.median(r[kind] / r["constant"] for r in by_round.values() if r.get("constant"))
        for kind in TARGETS
    }
    ours_paced = [row for row in results["paced"] if row[1] == "ours"]
    return {
        "ratios": ratios,
        "rates": {
            kind: statistics.median(r[kind] for r in by_round.values()) for kind in ("constant", *TARGETS.keys())
        },
        "paced_rate": statistics.median(row[4] for row in ours_paced),
        "paced_p95": statistics.median(row[7] for row in ours_paced),
    }


def report(results: dict) -> dict:
    client = results["client"]
    print_table(
        ["client", "server", "poll", "round", "connections", "req/s", "p50 ms", "p95 ms", "p99 ms", "failed"]
        + ["server CPU ms/req"],
        results["ceiling"],
        f"Throughput ceiling (closed loop, back to back; load client: {client})",
    )
    print_table(
        ["client", "server", "round", "offered req/s", "served req/s", "304 share", "p50 ms", "p95 ms", "p99 ms"]
        + ["failed"],
        results["paced"],
        f"{results['agents']:,} agents polling (load client: {client}; "
        f"{results['revalidate']:.0%} of ours revalidate their current copy)",
    )
    found = summary(results)
    rates = found["rates"]
    print(f"\nMedian of rounds ({client}): reference {rates['constant']:,.0f} req/s", end="")
    for kind, target in TARGETS.items():
        ratio = found["ratios"][kind]
        verdict = "met" if ratio >= target else "missed"
        print(f"; {kind} poll {rates[kind]:,.0f} req/s = {ratio:.2f}x (target >= {target}: {verdict})", end="")
    verdict = "met" if found["paced_p95"] < P95_TARGET_MS else "missed"
    print(
        f"\nRealistic mix: ours served {found['paced_rate']:,.0f} polls/s, p95 {found['paced_p95']:.1f} ms "
        f"(target < {P95_TARGET_MS:.0f}: {verdict})"
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per ceiling run")
    parser.add_argument("--connections", type=int, default=32, help="back-to-back connections for the ceiling")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one agent's polls")
    parser.add_argument("--paced-connections", type=int, default=250, help="wrk connections carrying the agents")
    parser.add_argument("--paced-duration", type=float, default=10.0, help="seconds per paced run")
    parser.add_argument("--revalidate", type=float, default=0.9, help="share of polls revalidating a current copy")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if WRK else "python (wrk not installed)")
    print(f"Status polling on {args.backend}; {machine()}; load client: {client}; load {os.getloadavg()}")
    report(
        measure(
            args.backend,
            args.rounds,
            args.duration,
            args.connections,
            args.agents,
            args.interval,
            args.paced_connections,
            args.paced_duration,
            args.revalidate,
            args.client,
        )
    )


if __name__ == "__main__":
    main()
