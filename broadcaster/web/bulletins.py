"""Spoken bulletins over HTTP: the radio podcast feed per locale, each bulletin's audio,
script and signed bundle, and the public key that verifies the bundles."""

from __future__ import annotations

import asyncio

from aiohttp import web

from broadcaster.bulletins.bundle import public_pem, signing_key
from broadcaster.bulletins.library import FEED, LIBRARY, BulletinLibrary
from broadcaster.site.fastpath import NEVER_GENERATED
from broadcaster.web.keys import SETTINGS

_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
    "zip": "application/zip",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "rss": "application/rss+xml; charset=utf-8",
}


def _library(request: web.Request) -> BulletinLibrary:
    return BulletinLibrary(request.app[SETTINGS].root / LIBRARY)


def _file(request: web.Request, locale: str, name: str) -> web.StreamResponse:
    path = _library(request).path(locale, name)
    if path is None or not path.is_file():
        raise web.HTTPNotFound(text="No such bulletin (yet): bulletins appear once rendered.\n")
    suffix = name.rsplit(".", 1)[-1]
    headers = {"Content-Type": _TYPES[suffix], "Cache-Control": "public, max-age=300"}
    if suffix in ("mp3", "opus", "zip"):
        headers["Content-Disposition"] = f'attachment; filename="{locale}-{name}"'
    return web.FileResponse(path, headers=headers)


async def radio_feed(request: web.Request) -> web.StreamResponse:
    """GET /feeds/{locale}/radio.rss: the podcast feed (conditional GET by aiohttp)."""
    return _file(request, request.match_info["locale"], FEED)


async def bulletin_file(request: web.Request) -> web.StreamResponse:
    """GET /bulletins/{locale}/{name}: a bulletin's MP3, Opus, script, bundle or manifest."""
    return _file(request, request.match_info["locale"], request.match_info["name"])


async def signing_key_pem(request: web.Request) -> web.Response:
    """GET /bulletins/key.pem: the Ed25519 public key that signs every bundle."""
    settings = request.app[SETTINGS]
    pem = await asyncio.to_thread(lambda: public_pem(signing_key(settings.secret_key)))
    return web.Response(body=pem, content_type="application/x-pem-file")


def add_bulletins(app: web.Application) -> None:
    """Serve the bulletin routes (before any catch-all route)."""
    for handler in (radio_feed, signing_key_pem, bulletin_file):
        setattr(handler, NEVER_GENERATED, True)
    app.router.add_get("/feeds/{locale}/radio.rss", radio_feed)
    app.router.add_get("/bulletins/key.pem", signing_key_pem)
    app.router.add_get("/bulletins/{locale}/{name}", bulletin_file)
