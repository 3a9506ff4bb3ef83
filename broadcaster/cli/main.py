"""The `broadcaster` command: argument parsing only; the work happens in the modules."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from broadcaster.cli.common import fail_on_errors as _fail_on_errors
from broadcaster.cli.common import leave_out_expired as _leave_out_expired
from broadcaster.cli.common import load as _load
from broadcaster.cli.common import load_leaving_out as _load_leaving_out
from broadcaster.cli.common import root_option as _root_option
from broadcaster.cli.common import run as _run
from broadcaster.cli.common import settings_for as _settings
from broadcaster.cli.partners import partners
from broadcaster.cli.staff import users
from broadcaster.publishing.preview import preview, write_preview
from broadcaster.settings import Settings, SettingsError
from broadcaster.workspace.diagnostics import WorkspaceError
from broadcaster.workspace.models import ApprovalPolicy

T = TypeVar("T")

APPROVAL_MEANING = {
    ApprovalPolicy.TWO_PERSON: "a revision goes out once an approver other than its last "
    "editor approves it; set in workspace.yaml",
    ApprovalPolicy.NONE: "anyone who can publish releases alone; "
    "set approval: two-person in workspace.yaml to require a second person",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="broadcaster")
def main() -> None:
    """Publish public-service guidance to websites, feeds, email and media partners."""


@main.command()
@_root_option
def check(root: Path) -> None:
    """Validate the workspace and report every problem as path:line: message."""
    workspace, _ = _load(root, warnings=True)
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
    click.echo(f"  approval policy: {workspace.approval} ({APPROVAL_MEANING[workspace.approval]})")


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


@main.command()
@click.option(
    "--listen", help="HOST:PORT to listen on (default BROADCASTER_LISTEN or 127.0.0.1:8080)."
)
@click.option("--watch", is_flag=True, help="Reload when workspace files change.")
@_root_option
def serve(listen: str | None, watch: bool, root: Path) -> None:
    """Serve the website and feeds, run the schedules and deliver the outbox."""
    from broadcaster.cli import logs
    from broadcaster.service import make_app
    from broadcaster.web.app import run

    _, settings, _ = _load_leaving_out(root)
    if listen:
        settings = Settings.from_environ(root, {**settings.environ, "BROADCASTER_LISTEN": listen})
    host, port = settings.host_port
    logs.configure(settings.log_format)
    try:
        # Like web.run_app(..., access_log=None, print=None), on uvloop and with the static
        # fast path in front of aiohttp: see broadcaster.web.app.run.
        run(
            make_app(settings, watch=watch),
            host=host,
            port=port,
            shutdown_timeout=settings.shutdown_timeout,
        )
    except WorkspaceError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail_on_errors(len(exc.problems))
    except OSError as exc:
        click.echo(f"cannot listen on {settings.listen}: {exc.strerror or exc}", err=True)
        sys.exit(1)


@main.command()
@click.argument("campaigns", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every campaign in the workspace.")
@click.option("--channels", help="Comma-separated channel names (default: every channel).")
@click.option("--wait", is_flag=True, help="Deliver now and wait until every delivery is done.")
@click.option(
    "--include-expired",
    is_flag=True,
    help="With --all, also publish campaigns whose `expires` has passed.",
)
@_root_option
def publish(
    campaigns: tuple[str, ...],
    everything: bool,
    channels: str | None,
    wait: bool,
    include_expired: bool,
    root: Path,
) -> None:
    """Publish CAMPAIGN(s) now, through the same path as a schedule firing.

    --all leaves out expired campaigns (saying which) unless --include-expired; a campaign
    named on the command line is published even when it expired."""
    from broadcaster.cli.operations import publish_now

    workspace, settings, held = _load_leaving_out(root)
    chosen = list(campaigns)
    if everything:
        chosen = _leave_out_expired(workspace, campaigns, include_expired)
    if not chosen and everything:
        raise click.ClickException("every campaign has expired: nothing was published")
    if not chosen:
        raise click.UsageError("name at least one campaign, or use --all")
    for campaign in chosen:
        for quarantined in (q for q in held if q.campaign == campaign):
            problems = "\n".join(str(p) for p in quarantined.problems)
            raise click.ClickException(f"campaign '{campaign}' has errors; fix them:\n{problems}")
        if campaign not in workspace.campaigns:
            known = ", ".join(workspace.campaigns) or "none"
            raise click.UsageError(f"no campaign '{campaign}' in campaigns/ (have: {known})")
    names = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
    for name in names or []:
        if name not in workspace.channels:
            known = ", ".join(workspace.channels) or "none"
            raise click.UsageError(f"no channel '{name}' in channels/ (have: {known})")
    for report in _run(publish_now(settings, chosen, names, wait=wait), settings):
        state = "created" if report.published.created else "already existed"
        click.echo(
            f"publication {report.published.publication_id} ({report.campaign}) {state}, "
            f"{report.published.deliveries} deliveries"
        )
        for channel, counts in sorted(report.progress.items()):
            summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
            click.echo(f"  {channel:<12} {summary}")
    if not wait:
        click.echo("queued: `broadcaster serve` delivers it (or run publish --wait).")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=20, show_default=True, help="How many publications.")
@_root_option
def status(as_json: bool, limit: int, root: Path) -> None:
    """Publications and their delivery progress per channel."""
    from broadcaster.cli.operations import status_report

    settings = _settings(root)
    report = _run(status_report(settings, limit), settings)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if not report:
        click.echo(
            "no publications yet: run `broadcaster publish CAMPAIGN` or `broadcaster serve`."
        )
    for item in report:
        origin = item["schedule"] or item["source"]
        number = f"#{item['id']}" if item["id"] is not None else "held"
        state = item["status"] + (" EMERGENCY (review it afterwards)" if item["emergency"] else "")
        if item["status"] == "held":
            state = "held: not approved, not sent; an approver must approve it in /admin/"
        elif item["status"] == "quarantined":
            _echo_quarantined(item)
            continue
        elif item.get("kind") == "withdrawal":
            state += " WITHDRAWAL (publication.withdrawn to partners)"
        click.echo(
            f"{number:<6} {item['campaign']:<28} {item['revision'][:12]}  "
            f"{item['created_at'][:19]}  {origin}  {state}"
        )
        for channel, counts in sorted(item["channels"].items()):
            summary = ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
            click.echo(f"       {channel:<12} {summary}")
        for failed in item["dead_letters"]:
            who = failed["partner"] or failed["recipient"]
            hint = (
                f" (replay: broadcaster partners replay {failed['id']})"
                if failed["partner"]
                else ""
            )
            click.echo(
                f"       dead letter #{failed['id']} {failed['channel']} to {who}: "
                f"{failed['error']}{hint}"
            )


def _echo_quarantined(item: dict[str, Any]) -> None:
    kept = item["revision"]
    what = f"keeps revision {kept[:12]}" if kept else "left out (never loaded)"
    since = (item["created_at"] or "")[:19]
    click.echo(
        f"{'QUARANTINED':<6} {item['campaign']:<28} {what}  since {since}: "
        "its files have errors; fix them and reload"
    )
    for problem in item["problems"]:
        click.echo(f"       {problem['path']}:{problem['line']}: {problem['message']}")


@main.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
@_root_option
def db_upgrade(root: Path) -> None:
    """Apply migrations to BROADCASTER_DATABASE_URL (serve does this on start too)."""
    from broadcaster.cli.operations import upgrade_database

    settings = _settings(root)
    _run(upgrade_database(settings), settings)
    click.echo(f"database is up to date: {settings.database_url}")


@main.group()
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
    done = _run(import_rows(settings, rows, confirmed=confirmed, note=consent_note), settings)
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
    if out is None:
        count = _run(export_rows(settings, sys.stdout), settings)
    else:
        with out.open("w", encoding="utf-8", newline="") as stream:
            count = _run(export_rows(settings, stream), settings)
    click.echo(f"exported {count} subscribers" + (f" to {out}" if out else ""), err=True)


@main.group()
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
        report = _run(process_bounces(settings, path), settings)
    except (BounceSourceError, SettingsError) as exc:
        raise click.UsageError(str(exc)) from None
    for line in report.summary():
        click.echo(line)


main.add_command(partners)
main.add_command(users)
