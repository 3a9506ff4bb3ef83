"""/admin/api/ handlers for media partners (admin): list with health, add, rotate the
secret, enable or disable, remove, the delivery log, and replay."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broadcaster.partners.commands import PartnerDelivery
from broadcaster.partners.health import Health
from broadcaster.partners.store import Partner
from broadcaster.staff.tables import Role
from broadcaster.web.admin import desk, media
from broadcaster.web.admin.api import json_body, session_of, text_field
from broadcaster.web.admin.auth import client_ip
from broadcaster.web.admin.parts import PartnerDesk


def partner_json(partner: Partner) -> dict[str, Any]:
    return {
        "name": partner.name,
        "url": partner.url,
        "topics": list(partner.topics),
        "locales": list(partner.locales),
        "enabled": partner.enabled,
        "disabled_reason": partner.disabled_reason,
        "previous_secret_until": (
            partner.previous_until.isoformat() if partner.previous_until else None
        ),
        "created_at": partner.created_at.isoformat(),
    }


def health_json(health: Health) -> dict[str, Any]:
    return {
        **partner_json(health.partner),
        "state": health.state,
        "last_delivery": {
            "status": str(health.last_status) if health.last_status else None,
            "at": health.last_at.isoformat() if health.last_at else None,
            "error": health.last_error,
        },
        "last_7_days": {
            "delivered": health.delivered,
            "pending": health.pending,
            "retrying": health.retrying,
            "dead_lettered": health.dead_lettered,
        },
    }


def delivery_json(item: PartnerDelivery) -> dict[str, Any]:
    return {
        "id": item.id,
        "publication": item.publication_id,
        "campaign": item.campaign,
        "locale": item.locale,
        "event": item.event_type,
        "status": str(item.status),
        "attempts": item.attempts,
        "updated_at": item.updated_at.isoformat(),
        "error": item.last_error,
    }


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise desk.DeskError(422, f'\'{key}\' must be a list of strings, like ["vi", "en"]')
    return value


async def list_partners(request: web.Request) -> web.Response:
    session_of(request, Role.ADMIN)
    found = await media.health(PartnerDesk.of(request))
    return web.json_response({"partners": [health_json(h) for h in found]})


async def add_partner(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    data = await json_body(request)
    partner, secret = await media.add(
        PartnerDesk.of(request),
        session,
        text_field(data, "name"),
        text_field(data, "url"),
        _strings(data, "topics"),
        _strings(data, "locales"),
        client_ip(request),
    )
    # The only time the secret is ever shown: the partner needs it to verify signatures.
    body = {**partner_json(partner), "secret": secret}
    return web.json_response(body, status=201, headers={"Cache-Control": "no-store"})


async def get_partner(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    partner, log = await media.log(PartnerDesk.of(request), session, request.match_info["name"])
    return web.json_response(
        {**partner_json(partner), "deliveries": [delivery_json(d) for d in log]}
    )


async def change_partner(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    data = await json_body(request)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise desk.DeskError(422, 'send {"enabled": true} or {"enabled": false}')
    partner = await media.set_enabled(
        PartnerDesk.of(request), session, request.match_info["name"], enabled, client_ip(request)
    )
    return web.json_response(partner_json(partner))


async def rotate_secret(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    data = await json_body(request) if request.can_read_body else {}
    hours = data.get("grace_hours")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float)):
        raise desk.DeskError(422, "'grace_hours' is a number of hours, like 24")
    partner, secret = await media.rotate(
        PartnerDesk.of(request), session, request.match_info["name"], hours, client_ip(request)
    )
    body = {**partner_json(partner), "secret": secret}
    return web.json_response(body, status=201, headers={"Cache-Control": "no-store"})


async def remove_partner(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    partner = await media.remove(
        PartnerDesk.of(request), session, request.match_info["name"], client_ip(request)
    )
    return web.json_response({"removed": partner.name})


async def replay_delivery(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    delivery_id = int(request.match_info["delivery"])
    partner = await media.replay(PartnerDesk.of(request), session, delivery_id, client_ip(request))
    return web.json_response({"replayed": delivery_id, "partner": partner.name}, status=201)
