"""Memory: resident memory of each gunicorn worker along 10,000 requests of the everyday mix.

Run from the project root:

    .venv/bin/python bench/memory.py                          # 10,000 requests, about a minute
    .venv/bin/python bench/memory.py --requests 50000 --sample-every 5000 --backend postgresql

The mix, sent by --concurrency back-to-back users (asyncio + aiohttp) as a logged-in agent:
70 % status fragment polls (50 in-flight handoffs), 15 % webhook POSTs (one new ack each),
10 % ticket pages, 5 % card sends (a new ticket each; the emulator then posts its three acks
to our webhook, on top of the counted requests). VmRSS of each worker is read from
/proc/<pid>/status before the run and after every --sample-every requests; it must level off.
"""

import argparse
import json

from common import (
    CHANNEL,
    OURS,
    TOKEN,
    WEBHOOK_SECRET,
    add_inflight_handoffs,
    add_tickets,
    app_env,
    bench_database,
    closed_loop,
    emulator,
    gunicorn,
    login,
    machine,
    open_windows,
    print_table,
    rss_kib,
    run,
)

MIX = ["status"] * 14 + ["webhook"] * 3 + ["ticket"] * 2 + ["send"]  # of every 20 requests
JSON = {"Content-Type": "application/json"}


def measure(backend: str = "sqlite", requests: int = 10000, sample_every: int = 1000, concurrency: int = 8) -> dict:
    """Run the mix in chunks, sampling each worker's RSS; returns rows and the growth figures."""
    sends = requests // len(MIX) + 1
    with bench_database(backend, "memory") as url:
        tickets = add_tickets(url, sends + 50, first_phone=14155566000, prefix="BENCHMEM")
        webhook_messages = [f"wamid.BENCHMEMWH{m:07d}" for m in range(requests * 3 // 20 // 3 + 1)]
        polled = add_inflight_handoffs(url, tickets[:50], [f"wamid.BENCHMEMPOLL{i}" for i in range(50)])
        add_inflight_handoffs(url, tickets[:50], webhook_messages)
        with emulator(app_env(url, 0)) as emu:
            open_windows(emu.base_url, [t["phone"] for t in tickets[50:]])
            with gunicorn("ours", OURS, app_env(url, 0, emu.base_url)) as ours:
                _register_webhook(emu.base_url, ours.base_url)
                cookie, token = login(ours.base_url, csrf_page=f"/tickets/{tickets[0]['id']}")
                mix = Mix(ours.base_url, token, polled, webhook_messages, tickets)
                rows = _run_chunks(ours, mix, requests, sample_every, concurrency, cookie)
    return _summary(rows)


class Mix:
    """Request number n of the mix, as (method, url, kwargs, units) for common.closed_loop."""

    def __init__(self, base_url, csrf_token, polled, webhook_messages, tickets):
        self.base_url, self.csrf_token, self.polled = base_url, csrf_token, polled
        self.webhook_messages, self.tickets = webhook_messages, tickets
        self.webhooks = self.sends = 0

    def __call__(self, number: int):
        kind = MIX[number % len(MIX)]
        if kind == "status":
            handoff_id = self.polled[number % len(self.polled)]
            return "GET", f"{self.base_url}/handoffs/{handoff_id}/status", {"headers": {"HX-Request": "true"}}, 1
        if kind == "ticket":
            return "GET", f"{self.base_url}/tickets/{self.tickets[number % 50]['id']}", {}, 1
        if kind == "webhook":
            target = f"{self.base_url}/webhooks/1msg/{WEBHOOK_SECRET}"
            return "POST", target, {"data": self._ack(), "headers": JSON}, 1
        return "POST", *self._send()

    def _ack(self) -> str:
        j, self.webhooks = self.webhooks, self.webhooks + 1
        message = self.webhook_messages[(j // 3) % len(self.webhook_messages)]
        status = ("sent", "delivered", "read")[j % 3]
        return json.dumps({"instanceId": CHANNEL, "ack": [{"id": message, "status": status}]})

    def _send(self):
        ticket = self.tickets[50 + self.sends % (len(self.tickets) - 50)]
        self.sends += 1
        form = {
            "csrf_token": self.csrf_token,
            "specialist_id": "1",
            "include_intro": "no",
            "idempotency_key": f"bench-memory-{ticket['id']}-{self.sends}",
        }
        return f"{self.base_url}/tickets/{ticket['id']}/handoffs", {"data": form}, 1


def _register_webhook(emulator_url: str, app_url: str) -> None:
    import requests

    requests.post(
        f"{emulator_url}/{CHANNEL}/webhook",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
        json={"webhookUrl": f"{app_url}/webhooks/1msg/{WEBHOOK_SECRET}"},
    ).raise_for_status()
    # Status acks flow only once switched on, as on a real channel.
    requests.post(
        f"{emulator_url}/{CHANNEL}/settings",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
        json={"ackNotificationsOn": True},
    ).raise_for_status()


def _run_chunks(server, mix, requests, sample_every, concurrency, cookie) -> list[list]:
    workers = server.worker_pids()
    rows = [[0, *(rss_kib(pid) / 1024 for pid in workers), 0.0, 0]]
    done = 0
    while done < requests:
        size = min(sample_every, requests - done)
        result = run(
            closed_loop(
                lambda n, first=done: mix(first + n), concurrency, 3600, headers={"Cookie": cookie}, max_requests=size
            )
        )
        done += size
        if server.worker_pids() != workers:
            raise RuntimeError("a worker was replaced during the run: its memory cannot be followed")
        rows.append([done, *(rss_kib(pid) / 1024 for pid in workers), result.rate, result.failures()])
    return rows


def _summary(rows: list[list]) -> dict:
    workers = len(rows[0]) - 3
    middle = rows[len(rows) // 2]
    first_half = [middle[1 + w] - rows[0][1 + w] for w in range(workers)]
    second_half = [rows[-1][1 + w] - middle[1 + w] for w in range(workers)]
    return {
        "rows": rows,
        "workers": workers,
        "first_half_mib": first_half,
        "second_half_mib": second_half,
        "middle": middle[0],
        "end": rows[-1][0],
    }


def report(results: dict) -> None:
    headers = ["requests"] + [f"worker {w + 1} RSS MiB" for w in range(results["workers"])] + ["req/s", "failed"]
    print_table(headers, results["rows"], "Resident memory per worker along the mix")
    for w in range(results["workers"]):
        print(
            f"worker {w + 1}: +{results['first_half_mib'][w]:.1f} MiB over the first {results['middle']:,} "
            f"requests, +{results['second_half_mib'][w]:.1f} MiB over the rest (to {results['end']:,})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--sample-every", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"Memory on {args.backend}; {machine()}")
    report(measure(args.backend, args.requests, args.sample_every, args.concurrency))


if __name__ == "__main__":
    main()
