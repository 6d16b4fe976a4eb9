"""Send overhead: what a card send through our app adds to the 1MSG call itself.

Run from the project root:

    .venv/bin/python bench/send_overhead.py                  # 200 sends, about half a minute
    .venv/bin/python bench/send_overhead.py --sends 1000 --backend postgresql

The 1MSG emulator runs as `flask onemsg emulator` (its own process) and our app as gunicorn with
scripts/run's flags. Each of the --sends rounds, one after the other (latency, not throughput):
1. the emulator's sendContact is timed directly, with the same client class the app uses
   (onemsg.client.OneMsgClient, a pooled requests.Session): the emulator's service time plus
   the HTTP round trip, i.e. what the app cannot avoid;
2. a logged-in agent POSTs the send form (CSRF token, specialist, new idempotency key, card
   only) to /tickets/<id>/handoffs for a ticket whose customer wrote a minute ago, timed to
   the 302 answer (the redirect is not followed).
Our overhead is (2) minus (1): per round (paired), and as p50(2) - p50(1). Afterwards every
send must be an accepted handoff in the database. The load client is always the Python one
(requests): one send at a time is a latency measurement, which wrk (a throughput tool that
cannot follow a CSRF form per request, nor time a direct call beside it) would not improve.
"""

import argparse
import os
import time

from common import (
    CHANNEL,
    OURS,
    TOKEN,
    add_tickets,
    app_env,
    available_specialist,
    bench_database,
    count_rows,
    cpu_seconds,
    data_app,
    emulator,
    gunicorn,
    login,
    machine,
    open_windows,
    percentile,
    print_table,
)

TARGET_MS = 10.0  # our overhead's p50 over the emulator's own time


def measure(backend: str = "sqlite", sends: int = 200) -> dict:
    """Interleaved direct and through-the-app sends; returns the rows and the overhead figures."""
    with bench_database(backend, "send") as url:
        tickets = add_tickets(url, sends + 3, first_phone=14155563000, prefix="BENCHSEND")
        direct_phones = [f"+{14155565000 + i}" for i in range(sends + 3)]
        with emulator(app_env(url, 0)) as emu:
            open_windows(emu.base_url, [t["phone"] for t in tickets] + direct_phones)
            with gunicorn("ours", OURS, app_env(url, 0, emu.base_url)) as ours:
                before = cpu_seconds(ours)
                direct, through = _rounds(url, ours.base_url, emu.base_url, tickets, direct_phones)
                cpu_ms = 1000 * (cpu_seconds(ours) - before) / max(1, len(through))
        accepted = count_rows(url, "handoffs", "WHERE idempotency_key LIKE '%bench-send-%' AND status = 'accepted'")
    found = _summary(direct[3:], through[3:], accepted - 3)  # the first three rounds are the warm-up
    # Our workers' CPU per send (login and warm-up included): less at the mercy of a neighbour's
    # load than the wall-clock figures.
    return {**found, "cpu_ms": cpu_ms}


def _rounds(url, app_url, emulator_url, tickets, direct_phones) -> tuple[list[float], list[float]]:
    import requests

    from onemsg.client import OneMsgClient

    specialist_id, card = _specialist_and_card(url)
    cookie, token = login(app_url, csrf_page=f"/tickets/{tickets[0]['id']}")
    one_msg = OneMsgClient(emulator_url, CHANNEL, TOKEN)
    direct, through = [], []
    with requests.Session() as http:
        http.headers["Cookie"] = cookie
        for ticket, phone in zip(tickets, direct_phones):
            started = time.perf_counter()
            one_msg.send_contact(phone, card)
            direct.append((time.perf_counter() - started) * 1000)
            form = {
                "csrf_token": token,
                "specialist_id": specialist_id,
                "include_intro": "no",
                "idempotency_key": f"bench-send-{ticket['id']}",
            }
            started = time.perf_counter()
            answer = http.post(f"{app_url}/tickets/{ticket['id']}/handoffs", data=form, allow_redirects=False)
            through.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 302 or "#handoff-" not in answer.headers.get("Location", ""):
                raise RuntimeError(f"send refused: {answer.status_code} {answer.text[:300]}")
    one_msg.close()
    return direct, through


def _specialist_and_card(url: str) -> tuple[int, dict]:
    from models import Specialist, db
    from services.specialist_cards import card_payload

    specialist_id = available_specialist(url)
    app = data_app(url)
    with app.app_context():
        specialist = db.session.get(Specialist, specialist_id)
        found = specialist.id, card_payload(specialist)
        db.engine.dispose()
    return found


def _summary(direct: list[float], through: list[float], accepted: int) -> dict:
    paired = [t - d for t, d in zip(through, direct)]
    rows = [
        [
            "ours: POST /tickets/<id>/handoffs",
            len(through),
            percentile(through, 50),
            percentile(through, 95),
            percentile(through, 99),
        ],
        [
            "emulator sendContact, direct",
            len(direct),
            percentile(direct, 50),
            percentile(direct, 95),
            percentile(direct, 99),
        ],
        [
            "overhead, per round (ours - direct)",
            len(paired),
            percentile(paired, 50),
            percentile(paired, 95),
            percentile(paired, 99),
        ],
    ]
    return {
        "rows": rows,
        "overhead_p50": percentile(through, 50) - percentile(direct, 50),
        "overhead_p95": percentile(through, 95) - percentile(direct, 50),
        "accepted": accepted,
        "sends": len(through),
    }


def report(results: dict) -> None:
    print_table(
        ["what", "sends", "p50 ms", "p95 ms", "p99 ms"],
        results["rows"],
        "Send overhead (one send at a time; load client: python requests)",
    )
    verdict = "meets" if results["overhead_p50"] < TARGET_MS else "misses"
    print(
        f"\nOur overhead: p50 {results['overhead_p50']:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target), "
        f"p95 {results['overhead_p95']:.1f} ms (ours p95 - emulator p50); "
        f"{results['accepted']} of {results['sends']} sends accepted; "
        f"our workers' CPU {results['cpu_ms']:.1f} ms per send"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sends", type=int, default=200)
    args = parser.parse_args()
    print(f"Send overhead on {args.backend}; {machine()}; load {os.getloadavg()}")
    report(measure(args.backend, args.sends))


if __name__ == "__main__":
    main()
