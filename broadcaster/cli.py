"""The `broadcaster` command: argument parsing only; the work happens in the modules."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from .diagnostics import Diagnostics
from .models import Workspace
from .preview import preview, write_preview
from .settings import Settings
from .workspace import load_workspace

_root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The workspace folder.",
)


def _report(diag: Diagnostics) -> None:
    for problem in diag.errors:
        click.echo(str(problem), err=True)
    if diag.warnings:
        if diag.errors:
            click.echo("", err=True)
        for problem in diag.warnings:
            click.echo(str(problem), err=True)


def _load(root: Path) -> tuple[Workspace, Settings]:
    settings = Settings.from_environ(root)
    workspace, diag = load_workspace(root, settings)
    _report(diag)
    if workspace is None:
        count = len(diag.errors)
        plural = "s" if count != 1 else ""
        click.echo(f"{count} error{plural}: fix them and run `broadcaster check` again.", err=True)
        sys.exit(1)
    return workspace, settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="broadcaster")
def main() -> None:
    """Publish public-service guidance to websites, feeds, email and media partners."""


@main.command()
@_root_option
def check(root: Path) -> None:
    """Validate the workspace and report every problem as path:line: message."""
    workspace, _ = _load(root)
    click.echo(f"{workspace.root}: OK")
    for campaign in workspace.campaigns.values():
        click.echo(
            f"  campaign {campaign.id:<28} {','.join(campaign.locales):<8} "
            f"revision {campaign.revision[:12]}"
        )
    click.echo(
        f"  {len(workspace.topics)} topics, {len(workspace.channels)} channels, "
        f"{len(workspace.schedules)} schedules"
    )


@main.command("preview")
@click.argument("campaign")
@click.option("--channel", "channels", multiple=True, help="Only this channel (repeatable).")
@click.option("--locale", "locales", multiple=True, help="Only this locale (repeatable).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the renditions here as <locale>/page.html, email.eml, ...",
)
@_root_option
def preview_command(
    campaign: str, channels: tuple[str, ...], locales: tuple[str, ...], out: Path | None, root: Path
) -> None:
    """Show or write exactly what CAMPAIGN would publish on each channel."""
    workspace, settings = _load(root)
    if campaign not in workspace.campaigns:
        known = ", ".join(workspace.campaigns) or "none"
        raise click.UsageError(f"no campaign '{campaign}' in campaigns/ (have: {known})")
    for name in channels:
        if name not in workspace.channels:
            known = ", ".join(workspace.channels) or "none"
            raise click.UsageError(f"no channel '{name}' in channels/ (have: {known})")
    result = preview(
        workspace,
        settings,
        campaign,
        channels=channels,
        locales=locales,
        published_at=datetime.now(workspace.timezone).replace(microsecond=0),
    )
    subject = result.publication.campaign
    click.echo(f"campaign {subject.id} revision {subject.revision[:12]}")
    if out is not None:
        for path in write_preview(result.renditions, out):
            click.echo(f"  wrote {path}")
        return
    for rendition in result.renditions:
        click.echo(f"  [{rendition.locale}] {rendition.channel}: {rendition.summary}")
        for name, data in rendition.files.items():
            if name.endswith(".txt"):
                click.echo(f"\n--- {name} ({rendition.locale}) ---\n{data.decode()}")
