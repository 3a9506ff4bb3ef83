"""The application keys shared by the public app and the admin sub-application."""

from __future__ import annotations

from aiohttp import web

from broadcaster.service import Service
from broadcaster.site.static import StaticFiles

SERVICE = web.AppKey("service", Service)
STATIC = web.AppKey("static", StaticFiles)
