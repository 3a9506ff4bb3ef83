"""`broadcaster users ...`: staff accounts for the admin UI and API."""

from __future__ import annotations

from pathlib import Path

import click

from broadcaster.cli.common import root_option as _root_option
from broadcaster.cli.common import run as _run
from broadcaster.cli.common import settings_for as _settings

_ROLES = click.Choice(["author", "approver", "admin"])


@click.group()
def users() -> None:
    """Staff accounts for the admin UI and API (/admin/)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=_ROLES, required=True, help="author, approver or admin.")
@click.option("--email", help="Where approvers are told about held publications (optional).")
@_root_option
def users_add(name: str, role: str, email: str | None, root: Path) -> None:
    """Create a user and print their one-time setup link."""
    from broadcaster.staff.commands import add_user, setup_hours
    from broadcaster.staff.tables import Role

    settings = _settings(root)
    link = _run(add_user(settings, name, Role(role), email), settings)
    click.echo(f"user {name} ({role}) created. Send them this one-time link to set a password")
    click.echo(f"(valid {setup_hours()} hours; `broadcaster users reset {name}` makes a new one):")
    click.echo(f"  {link}")


@users.command("list")
@_root_option
def users_list(root: Path) -> None:
    """Every user with role and state."""
    from broadcaster.staff.commands import list_users

    settings = _settings(root)
    found = _run(list_users(settings), settings)
    if not found:
        click.echo("no users yet: `broadcaster users add NAME --role admin`")
    for user in found:
        state = (
            "disabled" if user.disabled else "active" if user.has_password else "waiting for setup"
        )
        click.echo(f"{user.name:<24} {user.role:<9} {state:<18} {user.email or ''}")


@users.command("reset")
@click.argument("name")
@_root_option
def users_reset(name: str, root: Path) -> None:
    """Print a new one-time setup link (lost or leaked password).

    The old password, every session and every API token of NAME stop working at once."""
    from broadcaster.staff.commands import reset_user, setup_hours

    settings = _settings(root)
    link = _run(reset_user(settings, name), settings)
    click.echo(
        f"{name}'s password, sessions and API tokens no longer work; "
        f"new setup link (valid {setup_hours()} hours):\n  {link}"
    )


@users.command("role")
@click.argument("name")
@click.argument("role", type=_ROLES)
@_root_option
def users_role(name: str, role: str, root: Path) -> None:
    """Change NAME's role; their sessions end."""
    from broadcaster.staff.commands import change_user
    from broadcaster.staff.tables import Role

    settings = _settings(root)
    user = _run(change_user(settings, name, role=Role(role)), settings)
    click.echo(f"{user.name} is now {user.role}")


@users.command("disable")
@click.argument("name")
@_root_option
def users_disable(name: str, root: Path) -> None:
    """Stop NAME signing in; their sessions and API tokens stop working."""
    from broadcaster.staff.commands import change_user

    settings = _settings(root)
    _run(change_user(settings, name, disabled=True), settings)
    click.echo(f"{name} is disabled")


@users.command("enable")
@click.argument("name")
@_root_option
def users_enable(name: str, root: Path) -> None:
    """Let a disabled user sign in again."""
    from broadcaster.staff.commands import change_user

    settings = _settings(root)
    _run(change_user(settings, name, disabled=False), settings)
    click.echo(f"{name} is enabled")


@users.command("token")
@click.argument("name")
@click.option("--role", type=_ROLES, help="Scope the token below the user's own role.")
@click.option("--label", default="api", show_default=True, help="What the token is for.")
@_root_option
def users_token(name: str, role: str | None, label: str, root: Path) -> None:
    """Print a new API bearer token acting as NAME (shown once)."""
    from broadcaster.staff.commands import issue_token
    from broadcaster.staff.tables import Role

    settings = _settings(root)
    token = _run(issue_token(settings, name, Role(role) if role else None, label), settings)
    click.echo(token)
