"""Command-line tasks: `flask users ...`, `flask demo ...` and friends."""
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from models import db
from services import users as user_service

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
        user = user_service.create_user(email, name, role, password)
    except user_service.UserError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role}).")


@demo_cli.command("seed")
@click.option("--handoffs", type=int, default=0, help="Also generate this many historical handoffs.")
@click.option("--force", is_flag=True, help="Seed even outside development.")
def seed_command(handoffs: int, force: bool) -> None:
    """Create demo users, specialists and tickets (idempotent)."""
    from services.demo import seed_demo, seed_history

    if current_app.config["ENV_NAME"] == "production" and not force:
        raise click.ClickException("Refusing to seed demo data in production (use --force if you mean it).")
    for line in seed_demo():
        click.echo(line)
    if handoffs:
        click.echo(seed_history(handoffs))


def register_commands(app) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
