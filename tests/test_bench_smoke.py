"""The benchmark scripts still run: each one's core, with tiny sizes, against real servers.

Numbers are not checked (this machine is shared and noisy); that every request was answered,
nothing was lost and each table has its rows, is.
"""

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import memory  # noqa: E402
import profile_request  # noqa: E402
import send_overhead  # noqa: E402
import status_polling  # noqa: E402
import webhook_ingest  # noqa: E402

pytestmark = pytest.mark.slow


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert [common.percentile(values, q) for q in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert common.percentile([], 50) == 0.0


@pytest.mark.parametrize("client", ["python", "wrk"])
def test_status_polling_measures_both_servers(capsys, client):
    if client == "wrk" and not common.WRK:
        pytest.skip("wrk is not installed: not checked")
    results = status_polling.measure(
        rounds=1,
        duration=1,
        connections=2,
        agents=4,
        interval=0.5,
        paced_connections=2,
        paced_duration=1,
        client=client,
    )
    assert results["client"] == client
    assert [(row[1], row[2]) for row in results["ceiling"]] == [
        ("reference", "constant"),
        ("ours", "304"),
        ("ours", "full"),
    ]
    assert all(row[5] > 0 and row[9] == 0 for row in results["ceiling"])  # served, none failed
    assert [row[1] for row in results["paced"]] == ["ours", "reference"]
    assert all(row[4] > 0 and row[9] == 0 for row in results["paced"])
    assert results["paced"][0][5] > 0.5  # most of ours were 304s
    status_polling.report(results)
    assert "Median of rounds" in capsys.readouterr().out


@pytest.mark.parametrize("client", ["python", "wrk"])
def test_webhook_ingest_loses_nothing(client):
    if client == "wrk" and not webhook_ingest.WRK:
        pytest.skip("wrk is not installed: not checked")
    rows = webhook_ingest.measure("sqlite", batches=(1, 5), senders=2, duration=0.5, max_events=60, client=client)
    assert [(row[1], row[3]) for row in rows] == [("ours", 1), ("reference", 1), ("ours", 5), ("reference", 5)]
    for row in rows:
        assert row[0] == client and row[4] > 0 and row[11] == 0 and row[12] == 0  # answered, none failed or lost
    assert all(row[6] > 0 and row[10] is not None for row in rows if row[1] == "ours")  # applied, lag measured


def test_webhook_ingest_rounds_alternate_ours_and_the_reference():
    rows = webhook_ingest.measure(
        "sqlite", batches=(1,), senders=2, duration=0.5, max_events=60, client="python", rounds=2
    )
    assert [(row[1], row[-1]) for row in rows] == [("ours", 1), ("reference", 1), ("ours", 2), ("reference", 2)]
    assert all(row[4] > 0 and row[11] == 0 and row[12] == 0 for row in rows)
    webhook_ingest.report(rows)  # one ratio per round


def test_webhook_events_of_one_block_touch_different_handoffs():
    window = webhook_ingest.WINDOW
    first = [webhook_ingest.event(j) for j in range(3 * window)]
    assert first[0] == (0, "sent") and first[window] == (0, "delivered") and first[2 * window] == (0, "read")
    assert webhook_ingest.event(3 * window) == (window, "sent")
    assert len(set(first)) == 3 * window


def test_send_overhead_sends_every_card():
    results = send_overhead.measure(sends=5)
    assert results["sends"] == 5 == results["accepted"]  # measured after three warm-up rounds
    assert results["rows"][0][2] > results["rows"][1][2] > 0  # through the app takes longer than direct


def test_memory_samples_every_worker():
    results = memory.measure(requests=40, sample_every=20, concurrency=2)
    assert [row[0] for row in results["rows"]] == [0, 20, 40]
    assert results["workers"] == common.WORKERS
    assert all(value > 10 for row in results["rows"] for value in row[1 : 1 + results["workers"]])  # MiB
    assert all(row[-1] == 0 for row in results["rows"])


def test_profile_prints_the_view():
    mean, tree = profile_request.profile("status", count=20)
    assert mean > 0 and "status" in tree and "views/handoffs.py" in tree


def test_webhook_ingest_counts_only_what_was_acked_as_lost(tmp_path):
    """A POST the client gave up on when the load stopped may be stored after the drain was
    awaited: its body, pending for a moment, is not a lost event; an acked one left behind is.
    The events counted are those the stored bodies hold."""
    import sqlite3

    url = f"sqlite:///{tmp_path}/ingest.db"
    body = json.dumps({"ack": [{"id": "wamid.BX1", "status": "sent"}, {"id": "wamid.BX2", "status": "sent"}]})
    with sqlite3.connect(tmp_path / "ingest.db") as conn:
        conn.executescript(
            "CREATE TABLE webhook_events (id INTEGER PRIMARY KEY, applied_at TEXT, body TEXT);"
            "CREATE TABLE status_events (id INTEGER PRIMARY KEY, message_id TEXT, status TEXT,"
            " webhook_event_id INTEGER, applied BOOLEAN);"
            "INSERT INTO status_events VALUES (1, 'wamid.BX1', 'sent', 1, 1), (2, 'wamid.BX2', 'sent', 1, 1);"
        )
        conn.execute("INSERT INTO webhook_events VALUES (1, '2026-11-30 15:00:00', ?)", (body,))
    stored = webhook_ingest.stored_ids(url, 0)
    assert stored == {1}
    straggler = json.dumps({"ack": [{"id": "wamid.BX3", "status": "sent"}]})
    with sqlite3.connect(tmp_path / "ingest.db") as conn:  # stored after the load ended, never acked
        conn.execute("INSERT INTO webhook_events VALUES (2, NULL, ?)", (straggler,))
    assert webhook_ingest.count_lost(url, 0, stored, "wamid.BX") == 0
    # What was acked and is not applied is counted: a missing event, an unapplied one, a pending body.
    with sqlite3.connect(tmp_path / "ingest.db") as conn:
        conn.execute("DELETE FROM status_events WHERE id = 1")
    assert webhook_ingest.count_lost(url, 0, stored, "wamid.BX") == 1
    with sqlite3.connect(tmp_path / "ingest.db") as conn:
        conn.execute("UPDATE status_events SET applied = 0 WHERE id = 2")
        conn.execute("UPDATE webhook_events SET applied_at = NULL WHERE id = 1")
    assert webhook_ingest.count_lost(url, 0, stored, "wamid.BX") == 3
