"""/admin/api/: JSON for everything the admin pages do. The OpenAPI document is built from
the same route table (openapi.py), and a test checks the two match."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..preview import preview
from ..service import Service
from ..staff.accounts import AccountError, Session
from ..staff.tables import ReviewAction, Role
from ..web.keys import SERVICE
from . import dashboard, desk, editor
from .auth import client_ip, current

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below /admin/api
    handler: Handler
    summary: str
    role: Role | None = Role.AUTHOR  # None: no sign-in needed
    body: dict[str, Any] | None = None  # JSON Schema of the request body
    responses: dict[str, str] = field(default_factory=dict)


def _session(request: web.Request, role: Role) -> Session:
    session = current(request)
    if session is None:
        raise desk.DeskError(401, "sign in, or send Authorization: Bearer <API token>")
    desk.need(session, role, f"{request.method} {request.path}")
    return session


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise desk.DeskError(422, "the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise desk.DeskError(422, "the request body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise desk.DeskError(422, f"'{key}' must be a non-empty string")
    return value


def _optional(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise desk.DeskError(422, f"'{key}' must be a string")
    return value


def _service(request: web.Request) -> Service:
    return request.config_dict[SERVICE]


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
    }


async def me(request: web.Request) -> web.Response:
    session = _session(request, Role.AUTHOR)
    service = _service(request)
    return web.json_response(
        {
            "name": session.user.name,
            "role": session.role,
            "approval_policy": str(service.workspace.approval),
        }
    )


async def list_campaigns(request: web.Request) -> web.Response:
    _session(request, Role.AUTHOR)
    rows = await desk.campaign_rows(_service(request))
    return web.json_response({"campaigns": [_row(r) for r in rows]})


async def create_campaign(request: web.Request) -> web.Response:
    session = _session(request, Role.AUTHOR)
    data = await _json(request)
    campaign_id = _text(data, "id")
    files = data.get("files") or dict(editor.NEW_CAMPAIGN)
    revision = await desk.save(
        _service(request), session, campaign_id, None, _files(files), client_ip(request)
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
    _session(request, Role.AUTHOR)
    service = _service(request)
    campaign_id = request.match_info["campaign"]
    try:
        files = editor.read_files(service.settings.root, campaign_id)
        on_disk = editor.current_revision(service.settings.root, campaign_id)
    except editor.EditRefused as exc:
        raise desk.DeskError(404, str(exc)) from None
    if on_disk is None:
        raise desk.DeskError(404, f"no campaign '{campaign_id}'")
    _, problems = editor.problems_for(service.settings.root, service.settings, campaign_id)
    body: dict[str, Any] = {"id": campaign_id, "revision": on_disk, "files": files}
    body["problems"] = [str(p) for p in problems]
    if campaign_id in service.workspace.campaigns:
        body |= {"status": _row(await desk.row(service, campaign_id))}
    _, approvals = desk.parts(service)
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
    session = _session(request, Role.AUTHOR)
    data = await _json(request)
    base = _text(data, "revision")
    service = _service(request)
    campaign_id = request.match_info["campaign"]
    revision = await desk.save(
        service, session, campaign_id, base, _files(data.get("files")), client_ip(request)
    )
    _, problems = editor.problems_for(service.settings.root, service.settings, campaign_id)
    return web.json_response({"revision": revision, "problems": [str(p) for p in problems]})


async def get_preview(request: web.Request) -> web.Response:
    _session(request, Role.AUTHOR)
    service = _service(request)
    found = desk.campaign(service, request.match_info["campaign"])
    result = preview(
        service.workspace,
        service.settings,
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


def _review(action: ReviewAction) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        session = _session(request, Role.AUTHOR)
        data = await _json(request)
        revision = _text(data, "revision")
        verdict = await desk.review(
            _service(request),
            session,
            request.match_info["campaign"],
            revision,
            action,
            _optional(data, "comment"),
            client_ip(request),
        )
        return web.json_response(
            {"review": verdict.state, "publishable": verdict.publishable}, status=201
        )

    return handler


async def publish(request: web.Request) -> web.Response:
    session = _session(request, Role.APPROVER)
    data = await _json(request)
    revision = _text(data, "revision")
    channels = data.get("channels")
    if channels is not None and not (
        isinstance(channels, list) and all(isinstance(c, str) for c in channels)
    ):
        raise desk.DeskError(422, "'channels' must be a list of channel names")
    emergency = data.get("emergency_reason")
    if emergency is not None and not isinstance(emergency, str):
        raise desk.DeskError(422, "'emergency_reason' must be a string")
    result = await desk.publish(
        _service(request),
        session,
        request.match_info["campaign"],
        revision,
        channels,
        emergency,
        client_ip(request),
    )
    return web.json_response(result, status=201)


async def withdraw(request: web.Request) -> web.Response:
    session = _session(request, Role.APPROVER)
    data = await _json(request)
    reason = _text(data, "reason")
    await desk.withdraw(
        _service(request), session, request.match_info["campaign"], reason, client_ip(request)
    )
    return web.json_response({"withdrawn": request.match_info["campaign"]}, status=201)


async def list_publications(request: web.Request) -> web.Response:
    _session(request, Role.AUTHOR)
    return web.json_response({"publications": await dashboard.publication_list(_service(request))})


def _publication_id(request: web.Request) -> int:
    try:
        return int(request.match_info["publication"])
    except ValueError:
        raise desk.DeskError(404, "a publication id is a number") from None


async def get_publication(request: web.Request) -> web.Response:
    _session(request, Role.AUTHOR)
    service = _service(request)
    publication_id = _publication_id(request)
    return web.json_response(
        {
            "id": publication_id,
            "channels": await dashboard.progress(service, publication_id),
            "attempts": await dashboard.attempts(service, publication_id),
        }
    )


async def retry_publication(request: web.Request) -> web.Response:
    session = _session(request, Role.APPROVER)
    service = _service(request)
    publication_id = _publication_id(request)
    count = await dashboard.retry_failed(service, publication_id)
    _, approvals = desk.parts(service)
    await approvals.audit.record(
        session.user.name,
        "publication.retried",
        detail={"publication": publication_id, "deliveries": count},
        ip=client_ip(request),
    )
    return web.json_response({"requeued": count})


async def release_held(request: web.Request) -> web.Response:
    session = _session(request, Role.APPROVER)
    try:
        held_id = int(request.match_info["held"])
    except ValueError:
        raise desk.DeskError(404, "a held publication id is a number") from None
    publication_id = await desk.release_held(
        _service(request), session, held_id, client_ip(request)
    )
    return web.json_response({"publication": publication_id}, status=201)


async def subscriber_counts(request: web.Request) -> web.Response:
    _session(request, Role.AUTHOR)
    return web.json_response(await dashboard.subscriber_counts(_service(request)))


async def audit_entries(request: web.Request) -> web.Response:
    _session(request, Role.ADMIN)
    _, approvals = desk.parts(_service(request))
    entries = await approvals.audit.entries(limit=500)
    return web.json_response(
        {
            "entries": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "campaign": e.campaign_id,
                    "revision": e.revision,
                    "detail": e.detail,
                    "ip": e.ip,
                }
                for e in entries
            ]
        }
    )


async def audit_csv(request: web.Request) -> web.Response:
    _session(request, Role.ADMIN)
    _, approvals = desk.parts(_service(request))
    return web.Response(
        text=await approvals.audit.csv(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


async def list_users(request: web.Request) -> web.Response:
    _session(request, Role.ADMIN)
    accounts, _ = desk.parts(_service(request))
    return web.json_response(
        {
            "users": [
                {
                    "name": u.name,
                    "role": u.role,
                    "email": u.email,
                    "disabled": u.disabled,
                    "active": u.has_password,
                }
                for u in await accounts.list_users()
            ]
        }
    )


async def add_user(request: web.Request) -> web.Response:
    session = _session(request, Role.ADMIN)
    data = await _json(request)
    name, role = _text(data, "name"), _text(data, "role")
    if role not in {r.value for r in Role}:
        raise desk.DeskError(422, "'role' is author, approver or admin")
    service = _service(request)
    accounts, approvals = desk.parts(service)
    try:
        user, token = await accounts.add_user(name, Role(role), _optional(data, "email"))
    except AccountError as exc:
        raise desk.DeskError(422, str(exc)) from None
    await approvals.audit.record(
        session.user.name,
        "user.added",
        detail={"user": user.name, "role": role},
        ip=client_ip(request),
    )
    link = f"{service.settings.base_url}/admin/setup/{token}"
    return web.json_response({"name": user.name, "setup_link": link}, status=201)


async def change_password(request: web.Request) -> web.Response:
    session = _session(request, Role.AUTHOR)
    data = await _json(request)
    old, new = _text(data, "current_password"), _text(data, "new_password")
    accounts, approvals = desk.parts(_service(request))
    try:
        await accounts.change_password(session.user.id, old, new)
    except AccountError as exc:
        raise desk.DeskError(422, str(exc)) from None
    await approvals.audit.record(session.user.name, "user.password-changed", ip=client_ip(request))
    return web.json_response({"changed": True, "sessions": "every session signed out"})


async def openapi_document(request: web.Request) -> web.Response:
    from .openapi import document

    return web.json_response(document(ROUTES))


_REVIEW_BODY = {
    "type": "object",
    "required": ["revision"],
    "properties": {"revision": {"type": "string"}, "comment": {"type": "string"}},
}
_FILES = {"type": "object", "additionalProperties": {"type": "string"}}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/openapi.json", openapi_document, "This document", role=None),
    Route("GET", "/me", me, "Who the caller is, and the workspace's approval policy"),
    Route("GET", "/campaigns", list_campaigns, "Campaigns with status and review state"),
    Route(
        "POST",
        "/campaigns",
        create_campaign,
        "Create a campaign folder (campaigns/<id>/)",
        body={
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}, "files": _FILES},
        },
        responses={"201": "created", "409": "it exists already"},
    ),
    Route("GET", "/campaigns/{campaign}", get_campaign, "Files, revision, check problems, reviews"),
    Route(
        "PUT",
        "/campaigns/{campaign}",
        put_campaign,
        "Save the files; refused (409) when they changed since `revision`",
        body={
            "type": "object",
            "required": ["revision", "files"],
            "properties": {"revision": {"type": "string"}, "files": _FILES},
        },
        responses={"200": "saved", "409": "changed by someone else; nothing saved"},
    ),
    Route("GET", "/campaigns/{campaign}/preview", get_preview, "Every rendition of every channel"),
    Route(
        "POST",
        "/campaigns/{campaign}/review-requests",
        _review(ReviewAction.REQUESTED),
        "Ask for review of a revision",
        body=_REVIEW_BODY,
        responses={"201": "recorded"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/approvals",
        _review(ReviewAction.APPROVED),
        "Approve a revision (approver; never one's own)",
        role=Role.APPROVER,
        body=_REVIEW_BODY,
        responses={"201": "recorded", "403": "not an approver, or one's own revision"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/rejections",
        _review(ReviewAction.REJECTED),
        "Reject a revision with a comment (approver)",
        role=Role.APPROVER,
        body=_REVIEW_BODY,
        responses={"201": "recorded"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/publications",
        publish,
        "Publish an approved revision now; `emergency_reason` skips the second person",
        role=Role.APPROVER,
        body={
            "type": "object",
            "required": ["revision"],
            "properties": {
                "revision": {"type": "string"},
                "channels": {"type": "array", "items": {"type": "string"}},
                "emergency_reason": {"type": "string"},
            },
        },
        responses={"201": "published", "409": "not approved, or the files changed"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/withdrawal",
        withdraw,
        "Withdraw a published campaign from every channel",
        role=Role.APPROVER,
        body={
            "type": "object",
            "required": ["reason"],
            "properties": {"reason": {"type": "string"}},
        },
        responses={"201": "withdrawn"},
    ),
    Route(
        "GET", "/publications", list_publications, "Publications (and held firings) with progress"
    ),
    Route("GET", "/publications/{publication}", get_publication, "Progress and attempt log"),
    Route(
        "POST",
        "/publications/{publication}/retry",
        retry_publication,
        "Queue failed deliveries again",
        role=Role.APPROVER,
    ),
    Route(
        "POST",
        "/held/{held}/release",
        release_held,
        "Send a held firing once its revision is approved",
        role=Role.APPROVER,
        responses={"201": "published", "409": "still not approved"},
    ),
    Route(
        "GET", "/subscribers/counts", subscriber_counts, "Subscribers by topic, language, frequency"
    ),
    Route("GET", "/audit", audit_entries, "The audit log, newest first", role=Role.ADMIN),
    Route("GET", "/audit.csv", audit_csv, "The audit log as CSV", role=Role.ADMIN),
    Route("GET", "/users", list_users, "Staff accounts", role=Role.ADMIN),
    Route(
        "POST",
        "/users",
        add_user,
        "Create a user; answers their one-time setup link",
        role=Role.ADMIN,
        body={
            "type": "object",
            "required": ["name", "role"],
            "properties": {
                "name": {"type": "string"},
                "role": {"enum": ["author", "approver", "admin"]},
                "email": {"type": "string"},
            },
        },
        responses={"201": "created"},
    ),
    Route(
        "POST",
        "/password",
        change_password,
        "Change one's password; every session of the user ends",
        body={
            "type": "object",
            "required": ["current_password", "new_password"],
            "properties": {
                "current_password": {"type": "string"},
                "new_password": {"type": "string", "minLength": 12},
            },
        },
    ),
)


def add_api_routes(app: web.Application) -> None:
    """Register ROUTES under /api on the admin sub-application."""
    for route in ROUTES:
        app.router.add_route(route.method, "/api" + route.path, route.handler)
