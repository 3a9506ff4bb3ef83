"""The `broadcaster` command: argument parsing only; the work happens in the modules."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from broadcaster.cli.common import fail_on_errors as _fail_on_errors
from broadcaster.cli.common import leave_out_expired as _leave_out_expired
from broadcaster.cli.common import load as _load
from broadcaster.cli.common import load_leaving_out as _load_leaving_out
from broadcaster.cli.common import root_option as _root_option
from broadcaster.cli.common import run as _run
from broadcaster.cli.common import settings_for as _settings
from broadcaster.cli.common import store_failed as _store_failed
from broadcaster.cli.database import database
from broadcaster.cli.help import document
from broadcaster.cli.partners import partners
from broadcaster.cli.staff import users
from broadcaster.cli.subscribers import bounces, subscribers
from broadcaster.publishing.preview import preview, write_preview
from broadcaster.settings import Settings, SettingsError
from broadcaster.text.notice import Correction
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
    help="Write the renditions here as <locale>/page.html, email.eml, ... (and an alert's cap.xml)",
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
        for path in write_preview(result.renditions, out, result.cap):
            click.echo(f"  wrote {path}")
        return
    if result.cap is not None:
        click.echo("  cap.xml: a CAP 1.2 alert (written with --out)")
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
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Delivery processes on this host: serve and N-1 `broadcaster worker` children, "
    "stopped with it.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also log the libraries' INFO lines: Alembic's migrations, APScheduler's jobs.",
)
@_root_option
def serve(listen: str | None, watch: bool, processes: int, verbose: bool, root: Path) -> None:
    """Serve the website and feeds, run the schedules and deliver the outbox.

    The port is taken first and the store checked next: a port in use or a store that does
    not answer stops it with one line and exit status 1, before any schedule fires.
    """
    from broadcaster.cli import logs
    from broadcaster.cli.worker import extra_workers
    from broadcaster.service import make_app
    from broadcaster.web.app import CannotListen, run

    _, settings, _ = _load_leaving_out(root)
    if listen:
        settings = Settings.from_environ(root, {**settings.environ, "BROADCASTER_LISTEN": listen})
    try:
        host, port = settings.host_port
        metrics_at = settings.metrics_host_port
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    logs.configure(settings.log_format, verbose=verbose)
    try:
        # Like web.run_app(..., access_log=None, print=None), on uvloop and with the static
        # fast path in front of aiohttp: see broadcaster.web.app.run.
        with extra_workers(root, processes - 1, settings.shutdown_timeout + 5):
            run(
                make_app(settings, watch=watch),
                host=host,
                port=port,
                shutdown_timeout=settings.shutdown_timeout,
                metrics_at=metrics_at,
            )
    except CannotListen as exc:
        click.echo(f"cannot listen on {exc}", err=True)
        sys.exit(1)
    except WorkspaceError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail_on_errors(len(exc.problems))
    except (OperationalError, DBAPIError, OSError) as exc:
        _store_failed(settings, exc)


@main.command()
@click.option("--verbose", "-v", is_flag=True, help="Also log the libraries' INFO lines.")
@_root_option
def worker(verbose: bool, root: Path) -> None:
    """Deliver the outbox alone: no website, no schedules. Run it N times to use N cores.

    Same settings and channels as `serve`, sharing its outbox through the store. SIGHUP
    reloads the workspace; SIGTERM or SIGINT lets deliveries in flight finish within
    BROADCASTER_SHUTDOWN_TIMEOUT and stops.
    """
    from broadcaster.cli import logs
    from broadcaster.cli.worker import run_worker

    _, settings, _ = _load_leaving_out(root)
    logs.configure(settings.log_format, verbose=verbose)
    try:
        run_worker(settings)
    except WorkspaceError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail_on_errors(len(exc.problems))
    except (OperationalError, DBAPIError, OSError) as exc:
        _store_failed(settings, exc)


@main.command()
@click.argument("campaigns", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every campaign in the workspace.")
@click.option("--channels", help="Comma-separated channel names (default: every channel).")
@click.option("--wait", is_flag=True, help="Deliver now and wait until every delivery is done.")
@click.option(
    "--correction",
    type=click.Choice(["material", "minor"]),
    default="material",
    show_default=True,
    help="For a new revision of a campaign already out: material emails everyone who had "
    "the earlier version (marked Updated); minor updates the site, feeds, partners and "
    "alerts only.",
)
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
    correction: str,
    include_expired: bool,
    root: Path,
) -> None:
    """Publish CAMPAIGN(s) now, through the same path as a schedule firing.

    --all leaves out expired campaigns (saying which) unless --include-expired; a campaign
    named on the command line is published even when it expired."""
    from broadcaster.cli.operations import channel_totals, publish_now
    from broadcaster.cli.progress import Meter

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
    meter = Meter("delivering") if wait else None
    choice = Correction(correction)
    with meter or contextlib.nullcontext():
        reports = _run(
            publish_now(settings, chosen, names, wait=wait, meter=meter, correction=choice),
            settings,
        )
    for report in reports:
        state = "created" if report.published.created else "already existed"
        click.echo(
            f"publication {report.published.publication_id} ({report.campaign}) {state}, "
            f"{report.published.deliveries} deliveries"
        )
        for channel, counts in sorted(report.progress.items()):
            click.echo(f"  {channel:<12} {_counts(counts)}")
    if meter is None:
        click.echo("queued: `broadcaster serve` delivers it (or run publish --wait).")
        return
    click.echo(f"done in {meter.seconds:.1f} s; per channel:")
    for channel, counts in channel_totals(reports).items():
        click.echo(f"  {channel:<12} {_counts(counts)}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n:,}" for status, n in sorted(counts.items()))


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
        elif item["status"] == "alert":
            click.echo(
                f"{'ALERT':<6} channel {item['channel']} stopped since "
                f"{item['created_at'][:19]}: {item['error']}"
            )
            continue
        elif item.get("kind") == "withdrawal":
            state += " WITHDRAWAL (told to partners and readers who were emailed, posts taken down)"
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


main.add_command(database)
main.add_command(subscribers)
main.add_command(bounces)
main.add_command(partners)
main.add_command(users)
document(main)
