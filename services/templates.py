"""Approved WhatsApp templates: which one reopens the chat, and its parameters."""
import time

from flask import current_app

from models import Specialist, Ticket
from onemsg.client import clean_template_param
from onemsg.errors import OneMsgError
from services import settings
from services.onemsg_gateway import client

# What an admin can map each template parameter to.
PARAM_SOURCES = {
    "customer_name": "Customer name",
    "specialist_name": "Specialist name",
    "specialist_phone": "Specialist phone",
    "ticket_ref": "Ticket reference",
}
CACHE_SECONDS = 300


def available(refresh: bool = False) -> list[dict]:
    """The channel's approved templates, cached for a few minutes."""
    cache = current_app.extensions.setdefault("onemsg_templates", {})
    if not refresh and cache and time.monotonic() - cache["at"] < CACHE_SECONDS:
        return cache["templates"]
    try:
        templates = [t for t in client().templates() if str(t.get("status", "approved")).lower() == "approved"]
    except OneMsgError:
        return cache.get("templates", [])
    cache.update(templates=templates, at=time.monotonic())
    return templates


def body_text(template: dict) -> str:
    for component in template.get("components") or []:
        if str(component.get("type", "")).upper() == "BODY":
            return component.get("text", "")
    return ""


def reopen_choice() -> dict | None:
    """The admins' choice: {"name", "language", "params": [source, ...]}, or None."""
    choice = settings.get("reopen_template")
    return choice if isinstance(choice, dict) and choice.get("name") else None


def parameters(choice: dict, ticket: Ticket, specialist: Specialist) -> list[str]:
    """The template's parameters for this customer and specialist, cleaned for 1MSG."""
    values = {
        "customer_name": ticket.customer_name,
        "specialist_name": specialist.display_name,
        "specialist_phone": specialist.phone,
        "ticket_ref": ticket.external_ref,
    }
    return [clean_template_param(values.get(source, "")) for source in choice.get("params", [])]


def preview(choice: dict, ticket: Ticket, specialist: Specialist) -> str:
    """The message text the customer will read (as far as we know the template)."""
    template = next((t for t in available() if t.get("name") == choice["name"]), None)
    text = body_text(template) if template else choice["name"]
    for number, value in enumerate(parameters(choice, ticket, specialist), start=1):
        text = text.replace("{{%d}}" % number, value)
    return text
