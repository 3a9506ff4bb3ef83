"""What every `broadcaster` command shares: the --root option, settings, workspace loading,
and running a coroutine with user-fixable failures reported as messages, not tracebacks."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from broadcaster.publishing.publisher import PublishError
from broadcaster.settings import Settings, SettingsError
from broadcaster.staff.accounts import AccountError
from broadcaster.workspace.diagnostics import Diagnostics, WorkspaceError
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace
from broadcaster.workspace.quarantine import Quarantined, load_quarantining

T = TypeVar("T")

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The workspace folder.",
)


def report(diag: Diagnostics, *, warnings: bool) -> None:
    for problem in diag.errors:
        click.echo(str(problem), err=True)
    if warnings:
        if diag.errors and diag.warnings:
            click.echo("", err=True)
        for problem in diag.warnings:
            click.echo(str(problem), err=True)


def fail_on_errors(count: int) -> None:
    plural = "s" if count != 1 else ""
    click.echo(f"{count} error{plural}: fix them and run `broadcaster check` again.", err=True)
    sys.exit(1)


def settings_for(root: Path) -> Settings:
    try:
        return Settings.from_environ(root)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def load(root: Path, *, warnings: bool = False) -> tuple[Workspace, Settings]:
    settings = settings_for(root)
    workspace, diag = load_workspace(root, settings)
    report(diag, warnings=warnings)
    if workspace is None:
        fail_on_errors(len(diag.errors))
    assert workspace is not None
    return workspace, settings


def load_leaving_out(root: Path) -> tuple[Workspace, Settings, tuple[Quarantined, ...]]:
    """The workspace without the campaigns whose own files have errors (quarantined, and
    named on stderr), for `serve` and `publish`; errors elsewhere fail as in `check`."""
    settings = settings_for(root)
    workspace, diag, held = load_quarantining(root, settings, None)
    if workspace is None:
        report(diag, warnings=False)
        fail_on_errors(len(diag.errors))
    assert workspace is not None
    for quarantined in held:
        click.echo(
            f"campaign {quarantined.campaign} is quarantined (left out until its files are "
            "fixed; `broadcaster check` lists its errors)",
            err=True,
        )
    return workspace, settings, held


def run(coroutine: Coroutine[Any, Any, T], settings: Settings) -> T:
    """Run a command's coroutine; user-fixable failures become messages, not tracebacks."""
    try:
        return asyncio.run(coroutine)
    except WorkspaceError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail_on_errors(len(exc.problems))
    except PublishError as exc:
        raise click.UsageError(str(exc)) from None
    except AccountError as exc:
        raise click.UsageError(str(exc)) from None
    except (OperationalError, DBAPIError, OSError) as exc:
        store_failed(settings, exc)
    raise AssertionError("unreachable")


def store_failed(settings: Settings, exc: BaseException) -> NoReturn:
    """Say that the store cannot be used, and why, and exit 1."""
    reason = getattr(exc, "orig", None) or exc
    click.echo(f"cannot use the database {settings.database_url}: {reason}", err=True)
    click.echo("check BROADCASTER_DATABASE_URL and that the server is running.", err=True)
    sys.exit(1)


def leave_out_expired(
    workspace: Workspace, named: tuple[str, ...], include_expired: bool
) -> list[str]:
    """Every campaign for --all, less the expired ones not named (saying so on stderr)."""
    now, chosen = datetime.now(UTC), []
    for campaign_id in dict.fromkeys([*named, *workspace.campaigns]):
        expires = (
            workspace.campaigns[campaign_id].expires if campaign_id in workspace.campaigns else None
        )
        if campaign_id in named or include_expired or expires is None or expires > now:
            chosen.append(campaign_id)
            continue
        local = expires.astimezone(workspace.timezone).isoformat(timespec="minutes")
        click.echo(
            f"skipped {campaign_id}: it expired on {local} "
            "(name it, or add --include-expired, to publish it anyway)",
            err=True,
        )
    return chosen
