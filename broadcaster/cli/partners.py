"""`broadcaster partners ...`: argument parsing only; the work is in `commands`."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from broadcaster.cli.common import load as _load
from broadcaster.cli.common import root_option as _root_option
from broadcaster.cli.common import run as _run
from broadcaster.cli.common import settings_for as _settings
from broadcaster.partners.store import Partner, PartnerError

T = TypeVar("T")


def _call(root: Path, coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return _run(coroutine, _settings(root))
    except PartnerError as exc:
        raise click.ClickException(str(exc)) from None


def _split(values: tuple[str, ...]) -> list[str]:
    """`--topics a,b --topics c` -> [a, b, c]."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _line(partner: Partner) -> str:
    state = "enabled" if partner.enabled else f"disabled ({partner.disabled_reason})"
    topics = ",".join(partner.topics) or "all topics"
    locales = ",".join(partner.locales) or "all locales"
    return f"{partner.name:<20} {state:<10} {topics} / {locales}  {partner.url}"


@click.group()
def partners() -> None:
    """Media partners that receive signed webhooks (see docs/partners.md)."""


@partners.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The partner's https endpoint.")
@click.option("--topics", multiple=True, help="Only these topics (comma-separated; default all).")
@click.option("--locales", multiple=True, help="Only these locales (comma-separated; default all).")
@_root_option
def add(name: str, url: str, topics: tuple[str, ...], locales: tuple[str, ...], root: Path) -> None:
    """Register NAME at URL and print its signing secret (shown this once only)."""
    from broadcaster.partners.commands import add_partner

    workspace, settings = _load(root)
    partner, secret = _call(
        root, add_partner(settings, workspace, name, url, _split(topics), _split(locales))
    )
    click.echo(f"added partner {partner.name}: {partner.url}")
    click.echo(
        f"signing secret (shown once; give it to the partner over a safe channel):\n{secret}"
    )


@partners.command("list")
@_root_option
def list_command(root: Path) -> None:
    """Every partner, with its topics, locales and state (never its secret)."""
    from broadcaster.partners.commands import list_partners

    found = _call(root, list_partners(_settings(root)))
    if not found:
        click.echo("no partners yet: `broadcaster partners add NAME --url https://...`")
    for partner in found:
        click.echo(_line(partner))


@partners.command("show")
@click.argument("name")
@_root_option
def show(name: str, root: Path) -> None:
    """One partner and its deliveries by status."""
    from broadcaster.partners.commands import show_partner

    partner, counts = _call(root, show_partner(_settings(root), name))
    click.echo(_line(partner))
    click.echo(f"  added {partner.created_at:%Y-%m-%d %H:%M} UTC, secret: (hidden)")
    if partner.previous_until is not None:
        click.echo(
            f"  previous secret also signs until {partner.previous_until:%Y-%m-%d %H:%M} UTC"
        )
    summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "none yet"
    click.echo(f"  deliveries: {summary}")


@partners.command("rotate-secret")
@click.argument("name")
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=24,
    show_default=True,
    help="How long the previous secret keeps signing alongside the new one.",
)
@_root_option
def rotate_secret(name: str, grace_hours: float, root: Path) -> None:
    """Give NAME a new signing secret (printed once); the old one signs too for a while."""
    from broadcaster.partners.commands import rotate_secret as rotate

    grace = timedelta(hours=grace_hours)
    partner, secret = _call(root, rotate(_settings(root), name, grace))
    click.echo(f"new signing secret for {partner.name} (shown once):\n{secret}")
    if partner.previous_until is not None:
        click.echo(
            f"the previous secret also signs until {partner.previous_until:%Y-%m-%d %H:%M} UTC"
        )


@partners.command("disable")
@click.argument("name")
@_root_option
def disable(name: str, root: Path) -> None:
    """Stop sending to NAME (queued deliveries are cancelled)."""
    from broadcaster.partners.commands import set_enabled

    partner = _call(root, set_enabled(_settings(root), name, False))
    click.echo(f"disabled partner {partner.name}")


@partners.command("enable")
@click.argument("name")
@_root_option
def enable(name: str, root: Path) -> None:
    """Send to NAME again (after a 410 or `disable`)."""
    from broadcaster.partners.commands import set_enabled

    partner = _call(root, set_enabled(_settings(root), name, True))
    click.echo(f"enabled partner {partner.name}")


@partners.command("remove")
@click.argument("name")
@_root_option
def remove(name: str, root: Path) -> None:
    """Delete NAME and its secrets; its delivery log stays."""
    from broadcaster.partners.commands import remove_partner

    partner = _call(root, remove_partner(_settings(root), name))
    click.echo(f"removed partner {partner.name}")


@partners.command("deliveries")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@_root_option
def deliveries(name: str, limit: int, root: Path) -> None:
    """NAME's newest deliveries: id, campaign, event, status, attempts, last error."""
    from broadcaster.partners.commands import partner_deliveries

    found = _call(root, partner_deliveries(_settings(root), name, limit))
    if not found:
        click.echo(f"no deliveries to {name} yet")
    for item in found:
        error = f"  {item.last_error}" if item.last_error else ""
        click.echo(
            f"#{item.id:<6} {item.campaign:<28} {item.locale:<3} {item.event_type or '-':<22} "
            f"{item.status:<18} {item.attempts} attempt(s) {item.updated_at:%Y-%m-%d %H:%M}{error}"
        )


@partners.command("replay")
@click.argument("delivery_id", type=int)
@_root_option
def replay(delivery_id: int, root: Path) -> None:
    """Send delivery DELIVERY_ID again (same webhook-id and body), with a fresh retry schedule."""
    from broadcaster.partners.commands import replay as requeue

    workspace, settings = _load(root)
    partner = _call(root, requeue(settings, workspace, delivery_id))
    click.echo(
        f"delivery {delivery_id} to {partner.name} queued again; "
        "`broadcaster serve` (or publish --wait) sends it"
    )
