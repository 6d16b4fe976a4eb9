"""The access matrix: every route × every role, built from app.url_map.

A route that is not listed in EXPECTED fails this test: each new route must be given
an access rule here and in its view.
"""

import pytest
from werkzeug.routing import IntegerConverter

from views.access import access_rule_for

# endpoint -> the least role that may use it ("public": anyone, "api": API key, see test_api).
EXPECTED = {
    "static": "public",
    "health.healthz": "public",
    "auth.login": "public",
    "auth.logout": "agent",
    "auth.change_password": "agent",
    "auth.profile": "agent",
    "auth.logout_everywhere": "agent",
    "home.index": "agent",
    "channel.status_badge": "agent",
    "tickets.index": "agent",
    "tickets.new": "agent",
    "tickets.edit": "agent",
    "tickets.show": "agent",
    "tickets.mark_ready": "agent",
    "tickets.window_state": "agent",
    "tickets.simulate_inbound": "agent",
    "handoffs.send": "agent",
    "handoffs.reopen": "agent",
    "handoffs.retry": "agent",
    "handoffs.cancel_follow_up": "agent",
    "handoffs.ticket_list": "agent",
    "tickets.send_panel": "agent",
    "tickets.specialist_options": "agent",
    "handoffs.confirm": "agent",
    "admin.settings_page": "admin",
    "admin.template_params": "admin",
    "handoffs.show": "agent",
    "handoffs.status": "agent",
    "directory.index": "agent",
    "directory.show": "agent",
    "directory.preview": "agent",
    "directory.download_vcard": "agent",
    "directory.new": "admin",
    "directory.edit": "admin",
    "directory.add_absence": "admin",
    "directory.remove_absence": "admin",
    "webhooks.onemsg": "public",
    "api.openapi": "public",
    "api.upsert_ticket": "api",
    "api.get_ticket": "api",
    "api.list_specialists": "api",
    "api.create_handoff": "api",
    "api.get_handoff": "api",
    "api.list_handoffs": "api",
    "api_keys.index": "admin",
    "api_keys.create": "admin",
    "api_keys.revoke": "admin",
    "outbox.index": "admin",
    "outbox.replay": "admin",
    "webhook_log.index": "admin",
    "admin.user_list": "admin",
    "admin.user_new": "admin",
    "admin.user_edit": "admin",
    "admin.user_logout_everywhere": "admin",
    "history.index": "lead",
    "history.sla_figures": "lead",
    "history.export": "lead",
    "history.stuck": "lead",
    "history.audit": "lead",
}
ROLES = ["anonymous", "agent", "lead", "admin"]
RANK = {"anonymous": 0, "agent": 1, "lead": 2, "admin": 3}


def dummy_url(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 999999 if isinstance(converter, IntegerConverter) else "no-such-thing"
    return rule.build(values, append_unknown=False)[1]


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def allowed(expected_rule: str, role: str) -> bool:
    if expected_rule == "public":
        return True
    return role != "anonymous" and RANK[role] >= RANK[expected_rule]


def _session_cookie_for(user) -> str:
    from models import db
    from services import sessions

    sessions.start(user, remember=False)
    db.session.commit()
    return sessions.cookie_value(user)


def request_as(app, make_user, role, method, url):
    client = app.test_client()
    if role != "anonymous":
        user = make_user(role=role)
        with client.session_transaction() as session:
            session["_user_id"] = _session_cookie_for(user)
            session["_fresh"] = True
    return client.open(url, method=method, headers={"Accept": "text/html"})


def test_every_route_has_an_expected_rule_and_the_view_declares_it(app):
    for rule, _method in routes(app):
        if EXPECTED.get(rule.endpoint) == "api":
            continue
        assert rule.endpoint in EXPECTED, f"add {rule.endpoint} ({rule.rule}) to EXPECTED in {__file__}"
        assert access_rule_for(rule.endpoint) == EXPECTED[rule.endpoint], rule.endpoint


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, make_user, role):
    checked = 0
    for rule, method in routes(app):
        expected = EXPECTED[rule.endpoint]
        if expected == "api" or rule.endpoint == "static":
            continue
        response = request_as(app, make_user, role, method, dummy_url(rule))
        location = response.headers.get("Location", "")
        denied = response.status_code in (401, 403) or "/login" in location and role == "anonymous"
        assert denied != allowed(expected, role), f"{role} {method} {rule.rule}: got {response.status_code} {location}"
        checked += 1
    assert checked >= len(EXPECTED) - 1


def test_route_without_rule_is_refused(app, make_user):
    """Deny by default: a view that declares no rule answers 403 even to an admin."""
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    response = request_as(app, make_user, "admin", "GET", "/undeclared")
    assert response.status_code == 403
    assert b"secret" not in response.data
