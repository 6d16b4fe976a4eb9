"""Command-line tasks: `flask users ...`, `flask demo ...` and friends."""

import functools
import sys

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from models import ApiKey
from onemsg.cli import onemsg_cli
from onemsg.client import OneMsgClient
from services import api_keys
from services import users as user_service
from services.applier import listen
from services.channel_setup import connect
from services.database import unit_of_work
from services.demo import seed_demo, seed_history
from services.onemsg_gateway import client
from services.reconcile import reconcile
from services.worker import run_worker

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for trying the app.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["agent", "lead", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password comes from a prompt or from stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work():
            user = user_service.create_user(email, name, role, password)
    except user_service.UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {user.email} ({user.role}).")


@demo_cli.command("seed")
@click.option("--handoffs", type=int, default=0, help="Also generate this many historical handoffs.")
@click.option("--force", is_flag=True, help="Seed even outside development.")
def seed_command(handoffs: int, force: bool) -> None:
    """Create demo users, specialists and tickets (idempotent)."""
    if current_app.config["ENV_NAME"] == "production" and not force:
        raise click.ClickException("Refusing to seed demo data in production (use --force if you mean it).")
    for line in seed_demo():
        click.echo(line)
    if handoffs:
        click.echo(seed_history(handoffs))


handoffs_cli = AppGroup("handoffs", help="Settle and follow handoffs.")


@handoffs_cli.command("reconcile")
def reconcile_command() -> None:
    """One pass: ask 1MSG about handoffs with no news, flag stuck ones (for cron)."""
    click.echo(str(reconcile()))


@handoffs_cli.command("worker")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Run one pass and stop.")
def worker_command(interval: float, once: bool) -> None:
    """Background jobs: reconciliation and stuck detection, every few seconds."""
    run_worker(interval=interval, once=once)


@handoffs_cli.command("applier")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between looks when no NOTIFY comes.")
def applier_command(poll: float) -> None:
    """Apply stored webhook bodies as they arrive (PostgreSQL: woken by NOTIFY). Several may run (they
    take different bodies; scripts/run starts two); while none runs, the worker's passes apply them.
    On SQLite the web processes apply, and this waits."""
    listen(current_app._get_current_object(), poll=poll)


@click.command("connect")
@click.option("--wait", default=0, help="Seconds to wait for the app to answer /healthz first.")
@with_appcontext
def connect_command(wait: int) -> None:
    """Register this app's webhook URL with 1MSG (merged with the URLs already there)."""
    try:
        for line in connect(wait_seconds=wait):
            click.echo(line)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


api_keys_cli = AppGroup("api-keys", help="API keys for the helpdesk.")


@api_keys_cli.command("create")
@click.option("--name", required=True, help="Whose key this is, e.g. the helpdesk's name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["agent", "lead"]),
    help="agent: create tickets and handoffs, and read; lead: read only.",
)
def create_api_key_command(name: str, role: str) -> None:
    """Create an API key and print it once (only its hash is kept)."""
    try:
        with unit_of_work():
            new_key = api_keys.create(name, role, label="cli")
    except api_keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created API key {new_key.api_key.name} ({role}). Copy it now; it is not shown again:", err=True)
    click.echo(new_key.secret)


@api_keys_cli.command("list")
def list_api_keys_command() -> None:
    """Every key with its role, state and last use (never the key itself)."""
    for key in api_keys.all_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(f"{key.id}\t{key.name}\t{key.role}\tshk_{key.prefix}_…\t{state}\tlast used {used}")


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke_api_key_command(key_id: int) -> None:
    """Revoke the key with this id (see `flask api-keys list`)."""
    with unit_of_work() as session:
        api_key = session.get(ApiKey, key_id)
        if api_key is None:
            raise click.ClickException(f"No API key has the id {key_id}.")
        api_keys.revoke(api_key, label="cli")
    click.echo(f"Revoked {api_key.name}.")


def _with_app_client(callback):
    """Run a library command with this app's 1MSG client (emulator or real, from settings)."""

    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        info = ctx.find_object(ScriptInfo)
        if ctx.find_object(OneMsgClient) is not None or info is None:
            return callback(*args, **kwargs)  # used as a plain library command
        with info.load_app().app_context():
            ctx.obj = client()
            return callback(*args, **kwargs)

    return wrapper


def register_commands(app) -> None:
    for name in ("status", "set-webhook"):
        command = onemsg_cli.commands[name]
        if not getattr(command.callback, "uses_app_client", False):
            command.callback = _with_app_client(command.callback)
            command.callback.uses_app_client = True
    onemsg_cli.add_command(connect_command)
    app.cli.add_command(onemsg_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(handoffs_cli)
    app.cli.add_command(api_keys_cli)
