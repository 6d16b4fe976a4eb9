"""Card sends are rate limited per agent; on Redis the count is shared by every worker."""

import contextlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import redis
import requests

from models import db
from tests.conftest import DEFAULT_PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def limited_app(make_app, **overrides):
    return make_app(RATELIMIT_ENABLED=True, SEND_LIMIT="3 per minute", **overrides)


def logged_in(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 302
    return client


def post_send(client, ticket_id):
    # An incomplete form: nothing is sent, but the attempt still counts.
    return client.post(f"/tickets/{ticket_id}/handoffs", data={}).status_code


def test_sends_are_limited_per_agent_in_memory(make_app, make_user, make_ticket):
    app = limited_app(make_app)
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    with app.app_context():
        ticket, first, second = make_ticket(), make_user(), make_user()
        busy, other = logged_in(app, first), logged_in(app, second)
        codes = [post_send(busy, ticket.id) for _ in range(4)]
        assert codes == [302, 302, 302, 429]
        refused = busy.post(f"/tickets/{ticket.id}/handoffs", data={})
        assert b"Too many attempts" in refused.data
        assert post_send(other, ticket.id) == 302, "another agent has a count of their own"


def test_templates_and_retries_share_the_agents_send_limit(make_app, make_user, make_ticket):
    app = limited_app(make_app)
    with app.app_context():
        ticket = make_ticket()
        client = logged_in(app, make_user())
        assert post_send(client, ticket.id) == 302
        assert client.post(f"/tickets/{ticket.id}/reopen", data={}).status_code == 302
        assert client.post("/handoffs/999999/retry", data={}).status_code == 404
        assert post_send(client, ticket.id) == 429, "three messages of any kind use up the limit"


SERVE = """
import json, sys
from werkzeug.serving import make_server
from app import create_app
from config import TestingConfig
settings = {k: getattr(TestingConfig, k) for k in dir(TestingConfig) if k.isupper()}
settings.update(json.loads(sys.argv[1]))
server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextlib.contextmanager
def worker_processes(count: int, **settings):
    """`count` separate server processes of the app, like gunicorn's workers."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE, json.dumps(settings)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    try:
        yield [f"http://127.0.0.1:{int(p.stdout.readline())}" for p in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()


def sessions_for(urls, user):
    email = user.email
    db.session.commit()  # end our read: on SQLite it holds the lock the servers need for login
    sessions = []
    for url in urls:
        session = requests.Session()
        response = session.post(
            f"{url}/login", data={"email": email, "password": DEFAULT_PASSWORD}, allow_redirects=False, timeout=10
        )
        assert response.status_code == 302
        sessions.append(session)
    return sessions


def alternate_sends(urls, sessions, ticket_id, count):
    return [
        sessions[i % len(urls)]
        .post(f"{urls[i % len(urls)]}/tickets/{ticket_id}/handoffs", data={}, allow_redirects=False, timeout=10)
        .status_code
        for i in range(count)
    ]


def process_settings(database_url, **extra):
    return dict(SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_ENABLED=True, SEND_LIMIT="3 per minute", **extra)


def test_the_send_limit_is_shared_by_worker_processes_on_redis(database_url, redis_url, make_user, make_ticket):
    prefix = f"test-send-{uuid.uuid4().hex}"
    ticket_id, user = make_ticket().id, make_user()
    settings = process_settings(database_url, REDIS_URL=redis_url, RATELIMIT_KEY_PREFIX=prefix)
    try:
        with worker_processes(2, **settings) as urls:
            codes = alternate_sends(urls, sessions_for(urls, user), ticket_id, 5)
        assert codes == [302, 302, 302, 429, 429], "each process alone would have allowed 3"
        assert redis.Redis.from_url(redis_url).keys(f"*{prefix}*"), "the count lives in Redis"
    finally:
        store = redis.Redis.from_url(redis_url)
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)


def test_without_redis_each_process_counts_alone(database_url, make_user, make_ticket):
    """Why REDIS_URL matters with several workers: memory counters are per process."""
    ticket_id, user = make_ticket().id, make_user()
    with worker_processes(2, **process_settings(database_url)) as urls:
        codes = alternate_sends(urls, sessions_for(urls, user), ticket_id, 6)
    assert codes == [302] * 6
