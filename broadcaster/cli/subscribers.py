"""`broadcaster subscribers ...` and `broadcaster bounces process`: argument parsing and
progress only; the work is in the subscribers and bounces wings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broadcaster.cli.common import load as _load
from broadcaster.cli.common import root_option as _root_option
from broadcaster.cli.common import run as _run
from broadcaster.cli.common import settings_for as _settings
from broadcaster.cli.progress import Meter
from broadcaster.settings import SettingsError


@click.group()
def subscribers() -> None:
    """The citizens' email list: import and export it as CSV."""


def _lines(lines: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(line) for line in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--confirmed",
    is_flag=True,
    help="Everyone in FILE already consented: add them confirmed, without a confirmation email.",
)
@click.option(
    "--consent-note",
    metavar="TEXT",
    help="How and when they consented; required with --confirmed, kept in each consent record.",
)
@_root_option
def subscribers_import(file: Path, confirmed: bool, consent_note: str | None, root: Path) -> None:
    """Add the people in FILE.csv (columns email,locale,topics,frequency; topics split by ;)."""
    from broadcaster.subscribers.commands import import_rows
    from broadcaster.subscribers.csvio import read_subscribers

    if confirmed and not (consent_note and consent_note.strip()):
        raise click.UsageError(
            "--confirmed needs --consent-note TEXT saying how and when these people consented"
        )
    workspace, settings = _load(root)
    rows, problems = read_subscribers(file, topics=workspace.topics, locales=workspace.locales)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        bad = len({problem.line for problem in problems})
        click.echo(
            f"{bad} bad line{'s' if bad != 1 else ''}: nothing was imported; "
            "fix the file and run the import again.",
            err=True,
        )
        sys.exit(1)
    try:
        settings.secret_key  # noqa: B018  (a bad key is a usage error, not a traceback)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    with Meter("importing subscribers", len(rows)) as meter:
        done = _run(
            import_rows(
                settings, rows, confirmed=confirmed, note=consent_note, advance=meter.advance
            ),
            settings,
        )
    click.echo(
        f"{file}: added {done.added} subscribers ({done.confirmed} confirmed, "
        f"{len(done.needs_confirmation)} pending)"
    )
    if done.needs_confirmation:
        click.echo(
            f"  {len(done.needs_confirmation)} confirmation emails will be sent by "
            "`broadcaster serve`; each stays pending until its link is followed"
        )
    if done.already_listed:
        click.echo(
            f"  {len(done.already_listed)} already on the list, left unchanged: "
            f"line {_lines(done.already_listed)}"
        )
    if done.suppressed:
        click.echo(
            f"  {len(done.suppressed)} suppressed (bounced, complained or erased), skipped: "
            f"line {_lines(done.suppressed)}"
        )


@subscribers.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV here instead of to standard output.",
)
@_root_option
def subscribers_export(out: Path | None, root: Path) -> None:
    """Write pending and confirmed subscribers as CSV, in the import format (plus status)."""
    from broadcaster.subscribers.commands import export_rows

    settings = _settings(root)
    with Meter("exporting subscribers") as meter:
        if out is None:
            count = _run(export_rows(settings, sys.stdout, advance=meter.advance), settings)
        else:
            with out.open("w", encoding="utf-8", newline="") as stream:
                count = _run(export_rows(settings, stream, advance=meter.advance), settings)
    click.echo(f"exported {count} subscribers" + (f" to {out}" if out else ""), err=True)


@click.group()
def bounces() -> None:
    """Bounces and complaints sent back to the list's return path."""


@bounces.command("process")
@click.argument("path", type=click.Path(path_type=Path))
@_root_option
def bounces_process(path: Path, root: Path) -> None:
    """Act on the bounces and complaints in PATH (a Maildir folder or an mbox file).

    Hard bounces suppress the address, soft ones are scored, abuse complaints unsubscribe.
    Processed messages are marked and skipped next time; others are left alone and listed.
    """
    from broadcaster.bounces.command import process_bounces
    from broadcaster.bounces.mailboxes import BounceSourceError

    settings = _settings(root)
    try:
        with Meter("reading bounces") as meter:
            report = _run(process_bounces(settings, path, advance=meter.advance), settings)
    except (BounceSourceError, SettingsError) as exc:
        raise click.UsageError(str(exc)) from None
    for line in report.summary():
        click.echo(line)
