"""`flask onemsg ...` commands: run the emulator, check the channel, register a webhook."""

from __future__ import annotations

import os

import click
from flask import current_app

from .client import OneMsgClient, channel_id_from_token
from .emulator import run_emulator
from .errors import OneMsgError

DEV_CHANNEL_ID = "100000"
# bandit: the local emulator's token, not a credential
DEV_TOKEN = "dev-token"  # nosec B105
DEV_API_URL = "http://127.0.0.1:5001"


def _setting(name: str, default: str | None = None) -> str | None:
    """Read a setting from the running Flask app's config if there is one, else the environment."""
    try:
        value = current_app.config.get(name) if current_app else None
    except RuntimeError:  # no app context: plain click use
        value = None
    return value or os.environ.get(name) or default


def _client() -> OneMsgClient:
    """Use the client the caller put in ctx.obj, else build one from config/environment."""
    obj = click.get_current_context().find_object(OneMsgClient)
    if obj is not None:
        return obj
    token = _setting("ONEMSG_TOKEN", DEV_TOKEN)
    channel = _setting("ONEMSG_CHANNEL_ID") or channel_id_from_token(token) or DEV_CHANNEL_ID
    return OneMsgClient(
        _setting("ONEMSG_API_URL", DEV_API_URL), channel, token, token_in=_setting("ONEMSG_TOKEN_IN", "header")
    )


@click.group("onemsg")
def onemsg_cli() -> None:
    """1MSG WhatsApp API: emulator and channel tools."""


@onemsg_cli.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--ack-delay", default=1.0, show_default=True, type=float, help="Seconds between status acks.")
@click.option(
    "--hook-info/--no-hook-info",
    default=True,
    show_default=True,
    help="Offer GET hookInfo (newer channels answer it with 404).",
)
def emulator_command(host: str, port: int, ack_delay: float, hook_info: bool) -> None:
    """Run the 1MSG emulator (channel and token from ONEMSG_CHANNEL_ID / ONEMSG_TOKEN)."""
    token = _setting("ONEMSG_TOKEN", DEV_TOKEN)
    channel_id = _setting("ONEMSG_CHANNEL_ID") or channel_id_from_token(token) or DEV_CHANNEL_ID
    click.echo(
        f"1MSG emulator for channel {channel_id} on http://{host}:{port}" + ("" if hook_info else " (no hookInfo)")
    )
    run_emulator(host, port, channel_id, token, ack_delay=ack_delay, hook_info=hook_info)


@onemsg_cli.command("status")
def status_command() -> None:
    """Show the channel status and registered webhooks."""
    client = _client()
    try:
        click.echo(f"status: {client.channel_status().get('status')}")
        for url in client.get_webhooks():
            click.echo(f"webhook: {url}")
    except OneMsgError as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from None


@onemsg_cli.command("set-webhook")
@click.argument("url")
def set_webhook_command(url: str) -> None:
    """Register URL as a webhook, keeping the URLs already registered."""
    try:
        urls = _client().set_webhooks([url])
    except (OneMsgError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("webhooks: " + ", ".join(urls))
