"""Where one request's time goes: pyinstrument over many in-process requests to a hot path.

Run from the project root:

    .venv/bin/python bench/profile_request.py status              # the status fragment (default)
    .venv/bin/python bench/profile_request.py status304           # the same poll revalidated (a 304)
    .venv/bin/python bench/profile_request.py webhook --events 50 # the webhook receiver, 50 acks per POST
    .venv/bin/python bench/profile_request.py send                # POST /tickets/<id>/handoffs (emulator)

Requests go through the Flask test client (no gunicorn, no network), as a logged-in agent, on a
temporary SQLite database (--backend postgresql for a temporary PostgreSQL one); the tree printed
is pyinstrument's, with the mean time per request. The emulator, for `send`, runs as its own
process so its time is not in the profile (only the wait for it).
"""

import argparse
import json
import time
from contextlib import nullcontext

from common import (
    AGENT,
    WEBHOOK_SECRET,
    add_inflight_handoffs,
    add_tickets,
    app_env,
    available_specialist,
    bench_database,
    emulator,
    open_windows,
)


def build_requests(kind: str, url: str, count: int, events: int, emulator_url: str | None):
    """The list of (method, path, kwargs) to replay, and the data they need."""
    tickets = add_tickets(url, count if kind == "send" else 1)
    if kind in ("status", "status304"):
        handoff_id = add_inflight_handoffs(url, tickets, ["wamid.BENCHPROFILE"])[0]
        return [("GET", f"/handoffs/{handoff_id}/status", {"headers": {"HX-Request": "true"}})] * count
    if kind == "webhook":
        message_ids = [f"wamid.BENCHPROF{i:07d}" for i in range(count * events // 3 + 1)]
        add_inflight_handoffs(url, tickets, message_ids)
        statuses = ("sent", "delivered", "read")
        return [
            (
                "POST",
                f"/webhooks/1msg/{WEBHOOK_SECRET}",
                {
                    "json": {
                        "instanceId": "100000",
                        "ack": [
                            {"id": message_ids[j // 3], "status": statuses[j % 3]}
                            for j in range(n * events, (n + 1) * events)
                        ],
                    }
                },
            )
            for n in range(count)
        ]
    open_windows(emulator_url, [t["phone"] for t in tickets])
    specialist_id = available_specialist(url)
    return [
        (
            "POST",
            f"/tickets/{t['id']}/handoffs",
            {
                "data": {
                    "specialist_id": specialist_id,
                    "idempotency_key": f"bench-profile-{t['id']}",
                    "include_intro": "no",
                }
            },
        )
        for t in tickets
    ]


def profile(
    kind: str = "status", count: int = 500, events: int = 1, backend: str = "sqlite", interval: float = 0.0005
) -> tuple[float, str]:
    """Replay `count` requests under pyinstrument; returns (mean ms per request, the text tree)."""
    from pyinstrument import Profiler

    with (
        bench_database(backend, "profile") as url,
        emulator(app_env(url, 0)) if kind == "send" else nullcontext() as emu,
    ):
        requests_ = build_requests(kind, url, count, events, emu.base_url if emu else None)
        client = _logged_in_client(url, emu.base_url if emu else "http://127.0.0.1:9")
        method, path, kwargs = requests_[0]
        first = client.open(path, method=method, **kwargs)  # warm-up (first compile of templates and statements)
        if kind == "status304":  # the browser's copy is current: it revalidates with the ETag
            conditional = {"headers": {**kwargs["headers"], "If-None-Match": first.headers["ETag"]}}
            requests_ = [(method, path, conditional)] * len(requests_)
        profiler = Profiler(interval=interval)
        started = time.perf_counter()
        with profiler:
            for method, path, kwargs in requests_[1:]:
                response = client.open(path, method=method, **kwargs)
                assert response.status_code in (200, 302, 304), (
                    response.status_code,
                    response.get_data(as_text=True)[:300],
                )
        mean = (time.perf_counter() - started) * 1000 / max(1, len(requests_) - 1)
    return mean, profiler.output_text(unicode=True, color=False, show_all=False)


def _logged_in_client(url: str, emulator_url: str):
    from sqlalchemy import select

    from app import create_app
    from config import DevelopmentConfig
    from models import User, db
    from services import sessions

    settings = {k: getattr(DevelopmentConfig, k) for k in dir(DevelopmentConfig) if k.isupper()}
    settings.update(
        SQLALCHEMY_DATABASE_URI=url,
        ONEMSG_API_URL="",
        ONEMSG_EMULATOR_URL=emulator_url,
        WTF_CSRF_ENABLED=False,
        HELPDESK_WEBHOOK_URL="",
        SEND_LIMIT="1000000 per minute",
    )
    app = create_app(settings)
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == AGENT[0]))
        sessions.start(agent, remember=False)
        user_id = sessions.cookie_value(agent)
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_id, True
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=("status", "status304", "webhook", "send"), default="status")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--events", type=int, default=1, help="acks per webhook POST")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    mean, tree = profile(args.kind, args.requests, args.events, args.backend)
    print(tree)
    print(json.dumps({"kind": args.kind, "requests": args.requests, "mean_ms_per_request": round(mean, 3)}))


if __name__ == "__main__":
    main()
