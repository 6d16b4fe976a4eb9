"""Settings admins change in the app, with defaults."""

from models import AppSetting, db
from services import audit

DEFAULTS = {
    # Sent just after the card, once 1MSG has accepted the card (never without it).
    "intro_text": "Please reach our specialist using the contact card above.",
}


def get(key: str, default=None):
    row = db.session.get(AppSetting, key)
    if row is not None:
        return row.value
    return DEFAULTS.get(key, default)


def save_send_settings(intro_text: str, reopen_template: dict | None, actor) -> None:
    """The admins' Settings page: the introduction and the template that reopens a chat."""
    put("intro_text", intro_text, actor)
    put("reopen_template", reopen_template, actor)


def put(key: str, value, actor) -> None:
    row = db.session.get(AppSetting, key)
    before = row.value if row else DEFAULTS.get(key)
    if row is None:
        row = AppSetting(key=key)
        db.session.add(row)
    row.value = value
    if before != value:
        audit.record(
            "settings.update",
            "setting",
            key,
            actor=actor,
            summary=f"changed {key}",
            before={key: before},
            after={key: value},
        )
