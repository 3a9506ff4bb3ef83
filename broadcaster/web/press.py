"""The press room, `/{locale}/press/`: the press desk's releases by date, each with its
official date line, the release to download (.eml), its files, the radio script and the
audio bulletin, and the press contact from workspace.yaml."""

from __future__ import annotations

import email
import email.policy
from typing import Any

from aiohttp import web

from broadcaster.bulletins.names import LOCALE, bulletin_links
from broadcaster.channels.email_desk import DeskEmailChannel
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.snapshot import from_snapshot
from broadcaster.site.fastpath import NEVER_GENERATED
from broadcaster.site.headers import NOT_FRAMEABLE
from broadcaster.text.dateline import date_line
from broadcaster.text.radio_script import read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import localized
from broadcaster.web.keys import ENGINE, LIVE, SETTINGS
from broadcaster.workspace.attachments import campaign_files
from broadcaster.workspace.models import DEFAULT_LOCALE, Workspace

RELEASES = 200  # the newest ones listed


def _locales(workspace: Workspace) -> list[str]:
    found = {DEFAULT_LOCALE} | {loc for c in workspace.campaigns.values() for loc in c.locales}
    return sorted(found, key=lambda loc: (loc != DEFAULT_LOCALE, loc))


def _desks(request: web.Request) -> list[DeskEmailChannel]:
    channels = request.app[LIVE].channels.values()
    return [channel for channel in channels if isinstance(channel, DeskEmailChannel)]


async def _releases(request: web.Request) -> list[tuple[int, Publication]]:
    """(publication id, publication) of every release the press desk sent, newest first."""
    desks = _desks(request)
    if not desks:
        return []
    workspace = request.app[LIVE].workspace
    rows = await ContentStore(request.app[ENGINE]).releases([d.name for d in desks], RELEASES)
    base_url = request.app[SETTINGS].base_url
    return [(ident, from_snapshot(snapshot, workspace, base_url)) for ident, snapshot in rows]


def _locale(request: web.Request) -> str:
    locale = request.match_info["locale"]
    if not LOCALE.fullmatch(locale) or locale not in _locales(request.app[LIVE].workspace):
        raise web.HTTPNotFound(text="No such language.\n")
    return locale


def _release(publication: Publication, ident: int, locale: str) -> dict[str, Any]:
    workspace, campaign = publication.workspace, publication.campaign
    content = publication.content(locale)
    place = localized(workspace.press.place, locale) if workspace.press else ""
    local = publication.published_at.astimezone(workspace.timezone)
    return {
        "published_at": local,
        "date_line": date_line(place, local.date(), locale),
        "title": content.title,
        "summary": content.summary,
        "issuer": campaign.issuer_name(locale),
        "reference": campaign.reference,
        "url": publication.url(locale),
        "eml": f"{ident}.eml",
        "script": f"{ident}/radio.txt",
        "files": [
            {
                "name": f.name,
                "url": f.url(publication),
                "media_type": f.media_type,
                "size_kb": f.size_kb,
            }
            for f in campaign_files(publication)
        ],
        "audio": bulletin_links(publication, locale),
    }


async def press_room(request: web.Request) -> web.Response:
    """GET /{locale}/press/: the list of releases, newest first."""
    locale = _locale(request)
    live, settings = request.app[LIVE], request.app[SETTINGS]
    workspace = live.workspace
    releases = [_release(p, ident, locale) for ident, p in await _releases(request)]
    site = next((c.options for c in workspace.channels.values() if c.type == "website"), None)
    title = getattr(site, "title", {}) if site is not None else {}
    contact = None
    if workspace.press is not None and workspace.press.contact is not None:
        person = workspace.press.contact
        contact = {
            "name": localized(person.name, locale),
            "phone": person.phone,
            "email": person.email,
        }
    base = settings.base_url.rstrip("/")
    html = Templates(workspace.root / "templates").render(
        "website/press.html",
        locale=locale,
        lang=locale,
        section="press",
        root="../../",
        site_title=localized(title, locale) or "Broadcaster",
        canonical=f"{base}/{locale}/press/",
        alternates=[(loc, f"{base}/{loc}/press/") for loc in _locales(workspace)],
        languages=[(loc, f"../../{loc}/press/") for loc in _locales(workspace)],
        updated=releases[0]["published_at"] if releases else None,
        releases=releases,
        contact=contact,
    )
    return web.Response(text=html, content_type="text/html", headers=NOT_FRAMEABLE)


async def _one(request: web.Request) -> tuple[int, Publication]:
    wanted = request.match_info["id"]
    for ident, publication in await _releases(request):
        if str(ident) == wanted:
            return ident, publication
    raise web.HTTPNotFound(text="No such press release.\n")


async def release_eml(request: web.Request) -> web.Response:
    """GET /{locale}/press/{id}.eml: the release as sent, without the newsrooms' addresses."""
    locale = _locale(request)
    ident, publication = await _one(request)
    desk = _desks(request)[0]
    stored = await ContentStore(request.app[ENGINE]).rendition(ident, desk.name, locale)
    if stored is not None:
        message = email.message_from_bytes(stored, policy=email.policy.default)
    else:
        message = desk.build(publication, locale, list(desk.options.recipients))
    del message["To"]  # who else received it is nobody's business
    del message["Message-ID"]  # each newsroom's copy had its own
    message["Message-ID"] = f"<press-{ident}-{locale}@{desk.options.domain}>"
    name = f"{publication.campaign.id}-{locale}.eml"
    return web.Response(
        body=message.as_bytes(),
        content_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def release_script(request: web.Request) -> web.Response:
    """GET /{locale}/press/{id}/radio.txt: the radio read-aloud script of the release."""
    locale = _locale(request)
    _, publication = await _one(request)
    templates = Templates(publication.workspace.root / "templates")
    script = read_aloud(publication, locale, templates)
    return web.Response(text=script.text, content_type="text/plain", charset="utf-8")


def add_press_room(app: web.Application) -> None:
    """Serve the press room (before any catch-all route)."""
    for handler in (press_room, release_eml, release_script):
        setattr(handler, NEVER_GENERATED, True)
    app.router.add_get("/{locale}/press/", press_room)
    app.router.add_get(r"/{locale}/press/{id:\d+}.eml", release_eml)
    app.router.add_get(r"/{locale}/press/{id:\d+}/radio.txt", release_script)
