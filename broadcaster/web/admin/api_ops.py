"""/admin/api/ handlers for delivery, subscribers, the audit log and accounts."""

from __future__ import annotations

from aiohttp import web

from broadcaster.partners.commands import webhook_channels
from broadcaster.staff.accounts import AccountError
from broadcaster.staff.tables import Role
from broadcaster.web.admin import dashboard, desk, people
from broadcaster.web.admin.api import json_body, optional_field, service_of, session_of, text_field
from broadcaster.web.admin.auth import client_ip


async def list_publications(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    return web.json_response(
        {"publications": await dashboard.publication_list(service_of(request))}
    )


def _publication_id(request: web.Request) -> int:
    try:
        return int(request.match_info["publication"])
    except ValueError:
        raise desk.DeskError(404, "a publication id is a number") from None


async def get_publication(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    service = service_of(request)
    publication_id = _publication_id(request)
    return web.json_response(
        {
            "id": publication_id,
            "channels": await dashboard.progress(service, publication_id),
            "attempts": await dashboard.attempts(service, publication_id),
            "dead_letters": await dashboard.dead_letters(
                service, publication_id, webhook_channels(service.workspace)
            ),
        }
    )


async def retry_publication(request: web.Request) -> web.Response:
    session = session_of(request, Role.APPROVER)
    service = service_of(request)
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
    session = session_of(request, Role.APPROVER)
    try:
        held_id = int(request.match_info["held"])
    except ValueError:
        raise desk.DeskError(404, "a held publication id is a number") from None
    publication_id = await desk.release_held(
        service_of(request), session, held_id, client_ip(request)
    )
    return web.json_response({"publication": publication_id}, status=201)


async def subscriber_counts(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    return web.json_response(await dashboard.subscriber_counts(service_of(request)))


async def audit_entries(request: web.Request) -> web.Response:
    session_of(request, Role.ADMIN)
    _, approvals = desk.parts(service_of(request))
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
    session_of(request, Role.ADMIN)
    _, approvals = desk.parts(service_of(request))
    return web.Response(
        text=await approvals.audit.csv(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


async def list_users(request: web.Request) -> web.Response:
    session_of(request, Role.ADMIN)
    accounts, _ = desk.parts(service_of(request))
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
    session = session_of(request, Role.ADMIN)
    data = await json_body(request)
    user, link = await people.add(
        service_of(request),
        session,
        text_field(data, "name"),
        text_field(data, "role"),
        optional_field(data, "email"),
        client_ip(request),
    )
    return web.json_response({"name": user.name, "setup_link": link}, status=201)


async def change_user(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    data = await json_body(request)
    disabled = data.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise desk.DeskError(422, "'disabled' is true or false")
    user = await people.change(
        service_of(request),
        session,
        request.match_info["name"],
        role=optional_field(data, "role"),
        disabled=disabled,
        ip=client_ip(request),
    )
    return web.json_response({"name": user.name, "role": user.role, "disabled": user.disabled})


async def user_setup_link(request: web.Request) -> web.Response:
    session = session_of(request, Role.ADMIN)
    link = await people.new_link(
        service_of(request), session, request.match_info["name"], client_ip(request)
    )
    return web.json_response({"setup_link": link}, status=201)


async def change_password(request: web.Request) -> web.Response:
    session = session_of(request, Role.AUTHOR)
    data = await json_body(request)
    old, new = text_field(data, "current_password"), text_field(data, "new_password")
    accounts, approvals = desk.parts(service_of(request))
    try:
        await accounts.change_password(session.user.id, old, new)
    except AccountError as exc:
        raise desk.DeskError(422, str(exc)) from None
    await approvals.audit.record(session.user.name, "user.password-changed", ip=client_ip(request))
    return web.json_response({"changed": True, "sessions": "every session signed out"})
