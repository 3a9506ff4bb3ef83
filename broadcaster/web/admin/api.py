"""/admin/api/ handlers for campaigns: list, create, read, save, preview, review, publish,
withdraw. The route table and the OpenAPI document are in routes.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from broadcaster.publishing.preview import preview
from broadcaster.staff.accounts import Session
from broadcaster.staff.tables import ReviewAction, Role
from broadcaster.web.admin import corrections, desk, editor
from broadcaster.web.admin.auth import client_ip, current
from broadcaster.web.admin.parts import Desk

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_of(request: web.Request, role: Role) -> Session:
    session = current(request)
    if session is None:
        raise desk.DeskError(401, "sign in, or send Authorization: Bearer <API token>")
    desk.need(session, role, f"{request.method} {request.path}")
    return session


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise desk.DeskError(422, "the request body must be a JSON object") from None
    except RecursionError:
        raise desk.DeskError(
            400, "the request body is JSON nested too deeply; send a flat JSON object"
        ) from None
    if not isinstance(data, dict):
        raise desk.DeskError(422, "the request body must be a JSON object")
    return data


def text_field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise desk.DeskError(422, f"'{key}' must be a non-empty string")
    return value


def optional_field(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise desk.DeskError(422, f"'{key}' must be a string")
    return value


def _row(found: desk.CampaignRow) -> dict[str, Any]:
    return {
        "id": found.id,
        "title": found.title,
        "revision": found.revision,
        "status": found.status,
        "review": found.review.state,
        "publishable": found.review.publishable,
        "reason": found.review.reason,
        "approved_by": found.review.approved_by,
        "emergency": found.review.emergency,
        "published_revision": found.published_revision,
        "next_fire": found.next_fire.isoformat() if found.next_fire else None,
        "locales": list(found.locales),
        "held": found.held,
    }


async def me(request: web.Request) -> web.Response:
    session = session_of(request, Role.AUTHOR)
    staff_desk = Desk.of(request)
    return web.json_response(
        {
            "name": session.user.name,
            "role": session.role,
            "approval_policy": str(staff_desk.workspace.approval),
        }
    )


async def list_campaigns(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    staff_desk = Desk.of(request)
    rows = await desk.campaign_rows(staff_desk)
    held = [q.as_json() for q in staff_desk.live.quarantine]
    return web.json_response({"campaigns": [_row(r) for r in rows], "quarantined": held})


async def create_campaign(request: web.Request) -> web.Response:
    session = session_of(request, Role.AUTHOR)
    data = await json_body(request)
    campaign_id = text_field(data, "id")
    files = data.get("files") or editor.new_campaign(Desk.of(request).workspace)
    revision = await desk.save(
        Desk.of(request), session, campaign_id, None, _files(files), client_ip(request)
    )
    return web.json_response({"id": campaign_id, "revision": revision}, status=201)


def _files(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise desk.DeskError(
            422, "'files' must map file names (campaign.yaml, vi.md, en.md) to text"
        )
    return value


async def get_campaign(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    staff_desk = Desk.of(request)
    campaign_id = request.match_info["campaign"]
    try:
        files = editor.read_files(staff_desk.settings.root, campaign_id)
        on_disk = editor.current_revision(staff_desk.settings.root, campaign_id)
    except editor.EditRefused as exc:
        raise desk.DeskError(404, str(exc)) from None
    if on_disk is None:
        raise desk.DeskError(404, f"no campaign '{campaign_id}'")
    _, problems = await asyncio.to_thread(
        editor.problems_for, staff_desk.settings.root, staff_desk.settings, campaign_id
    )
    body: dict[str, Any] = {"id": campaign_id, "revision": on_disk, "files": files}
    body["problems"] = [str(p) for p in problems]
    quarantined = staff_desk.live.quarantined(campaign_id)
    body["quarantine"] = quarantined.as_json() if quarantined is not None else None
    if campaign_id in staff_desk.workspace.campaigns:
        body |= {"status": _row(await desk.row(staff_desk, campaign_id))}
    _, approvals = desk.parts(staff_desk)
    body["reviews"] = [
        {
            "revision": r.revision,
            "action": r.action,
            "by": r.user_name,
            "comment": r.comment,
            "at": r.at.isoformat(),
        }
        for r in await approvals.reviews.of(campaign_id)
    ]
    return web.json_response(body)


async def put_campaign(request: web.Request) -> web.Response:
    session = session_of(request, Role.AUTHOR)
    data = await json_body(request)
    base = text_field(data, "revision")
    staff_desk = Desk.of(request)
    campaign_id = request.match_info["campaign"]
    revision = await desk.save(
        staff_desk, session, campaign_id, base, _files(data.get("files")), client_ip(request)
    )
    _, problems = await asyncio.to_thread(
        editor.problems_for, staff_desk.settings.root, staff_desk.settings, campaign_id
    )
    return web.json_response({"revision": revision, "problems": [str(p) for p in problems]})


async def get_preview(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    staff_desk = Desk.of(request)
    found = desk.campaign(staff_desk, request.match_info["campaign"])
    result = await asyncio.to_thread(
        preview,
        staff_desk.workspace,
        staff_desk.settings,
        found.id,
        published_at=datetime.now(UTC).replace(microsecond=0),
    )
    items = [
        {
            "channel": r.channel,
            "locale": r.locale,
            "summary": r.summary,
            "files": {name: data.decode("utf-8", "replace") for name, data in r.files.items()},
        }
        for r in result.renditions
    ]
    return web.json_response({"revision": found.revision, "renditions": items})


def review_handler(action: ReviewAction) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        session = session_of(request, Role.AUTHOR)
        data = await json_body(request)
        revision = text_field(data, "revision")
        verdict = await desk.review(
            Desk.of(request),
            session,
            request.match_info["campaign"],
            revision,
            action,
            optional_field(data, "comment"),
            client_ip(request),
        )
        return web.json_response(
            {"review": verdict.state, "publishable": verdict.publishable}, status=201
        )

    return handler


async def publish(request: web.Request) -> web.Response:
    session = session_of(request, Role.APPROVER)
    data = await json_body(request)
    revision = text_field(data, "revision")
    channels = data.get("channels")
    if channels is not None and not (
        isinstance(channels, list) and all(isinstance(c, str) for c in channels)
    ):
        raise desk.DeskError(422, "'channels' must be a list of channel names")
    emergency = data.get("emergency_reason")
    if emergency is not None and not isinstance(emergency, str):
        raise desk.DeskError(422, "'emergency_reason' must be a string")
    result = await desk.publish(
        Desk.of(request),
        session,
        request.match_info["campaign"],
        revision,
        channels,
        emergency,
        client_ip(request),
        corrections.correction_of(data.get("correction", "material")),
    )
    return web.json_response(result, status=201)


async def withdraw(request: web.Request) -> web.Response:
    session = session_of(request, Role.APPROVER)
    data = await json_body(request)
    reason = text_field(data, "reason")
    await corrections.withdraw(
        Desk.of(request), session, request.match_info["campaign"], reason, client_ip(request)
    )
    return web.json_response({"withdrawn": request.match_info["campaign"]}, status=201)


async def add_schedule(request: web.Request) -> web.Response:
    session = session_of(request, Role.APPROVER)
    data = await json_body(request)
    channels = data.get("channels")
    if channels is not None and not (
        isinstance(channels, list) and all(isinstance(c, str) for c in channels)
    ):
        raise desk.DeskError(422, "'channels' must be a list of channel names")
    schedule_id = await desk.schedule(
        Desk.of(request),
        session,
        request.match_info["campaign"],
        text_field(data, "at"),
        channels,
        client_ip(request),
    )
    return web.json_response({"schedule": schedule_id}, status=201)
