"""Navigation by role, and the template filters every page uses."""
from dataclasses import dataclass
from datetime import datetime

from flask import request, url_for
from flask_login import current_user

# (label, endpoint, the least role that sees it)
NAV = [
    ("Tickets", "tickets.index", "agent"),
    ("Directory", "directory.index", "agent"),
    ("History", "history.index", "lead"),
    ("Audit", "history.audit", "lead"),
    ("Users", "admin.user_list", "admin"),
    ("Settings", "admin.settings_page", "admin"),
    ("API keys", "api_keys.index", "admin"),
]


@dataclass
class NavItem:
    label: str
    url: str
    active: bool


def nav_items() -> list[NavItem]:
    from flask import current_app

    items = []
    for label, endpoint, role in NAV:
        if endpoint not in current_app.view_functions or not current_user.has_role(role):
            continue
        blueprint = endpoint.split(".")[0]
        items.append(NavItem(label, url_for(endpoint), request.blueprint == blueprint
                             and (request.endpoint == endpoint or blueprint not in ("history", "admin"))))
    return items


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return value.strftime(fmt) if value else ""


def format_duration(seconds: float | None) -> str:
    """'4 min 05 s' style, for SLA figures and the window countdown."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def register_template_helpers(app) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["duration"] = format_duration
