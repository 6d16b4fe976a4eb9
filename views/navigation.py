"""Navigation by role, and the template filters every page uses."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, request, url_for
from flask_login import current_user
from markupsafe import Markup

from services import time_zones

# The browser's zone, written by static/js/app.js (used until the profile names one).
BROWSER_ZONE_COOKIE = "tz"

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
    items = []
    for label, endpoint, role in NAV:
        if endpoint not in current_app.view_functions or not current_user.has_role(role):
            continue
        blueprint = endpoint.split(".")[0]
        items.append(
            NavItem(
                label,
                url_for(endpoint),
                request.blueprint == blueprint
                and (request.endpoint == endpoint or blueprint not in ("history", "admin")),
            )
        )
    return items


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return value.strftime(fmt) if value else ""


def viewer_zone() -> str:
    """The zone the person looking at the page reads times in (once per request)."""
    if "viewer_zone" not in g:
        profile = current_user.time_zone if current_user.is_authenticated else None
        g.viewer_zone = time_zones.effective_zone(profile, request.cookies.get(BROWSER_ZONE_COOKIE))
    return g.viewer_zone


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> Markup:
    """A stored UTC moment in the viewer's zone, as <time> carrying the exact UTC instant."""
    if value is None:
        return Markup("")
    shown = time_zones.to_zone(value, viewer_zone())
    instant = value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    # Markup.format escapes its arguments; only the literal tag is trusted.
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(instant, shown.strftime(fmt))


def time_zone_note() -> str:
    """The footer's statement of which zone the page's times are in."""
    return f"times shown in {viewer_zone()}"


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
    app.jinja_env.globals["time_zone_note"] = time_zone_note
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["duration"] = format_duration
