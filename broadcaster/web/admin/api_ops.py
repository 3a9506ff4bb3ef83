"""/admin/api/ handlers for delivery, subscribers, the audit log and accounts."""

from __future__ import annotations

from aiohttp import web

from broadcaster.partners.commands import webhook_channels
from broadcaster.staff.accounts import AccountError
from broadcaster.staff.tables import Role
from broadcaster.web.admin import dashboard, desk, people, ui_audit
from broadcaster.web.admin.api import json_body, optional_field, session_of, text_field
from broadcaster.web.admin.auth import client_ip
from broadcaster.web.admin.parts import Desk
from broadcaster.web.keys import ACCOUNTS, APPROVALS, ENGINE, LIVE, OUTBOX, WORKERS


async def list_publications(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    app = request.config_dict
    listed = await dashboard.publication_list(app[APPROVALS], app[OUTBOX])
    alerts = await dashboard.channel_alerts(app[ENGINE])
    return web.json_response({"publications": listed, "alerts": alerts})


def _publication_id(request: web.Request) -> int:
    try:
        return int(request.match_info["publication"])
    except ValueError:
        raise desk.DeskError(404, "a publication id is a number") from None


async def get_publication(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    app = request.config_dict
    publication_id = _publication_id(request)
    return web.json_response(
        {
            "id": publication_id,
            "channels": await dashboard.progress(app[OUTBOX], publication_id),
            "attempts": await dashboard.attempts(app[OUTBOX], publication_id),
            "dead_letters": await dashboard.dead_letters(
                app[OUTBOX], publication_id, webhook_channels(app[LIVE].workspace)
            ),
        }
    )


async def retry_publication(request: web.Request) -> web.Response:
    session = session_of(request, Role.APPROVER)
    app = request.config_dict
    publication_id = _publication_id(request)
    count = await dashboard.retry_failed(app[OUTBOX], app[WORKERS], publication_id)
    await app[APPROVALS].audit.record(
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
    publication_id = await desk.release_held(Desk.of(request), session, held_id, client_ip(request))
    return web.json_response({"publication": publication_id}, status=201)


async def subscriber_counts(request: web.Request) -> web.Response:
    session_of(request, Role.AUTHOR)
    return web.json_response(await dashboard.subscriber_counts(request.config_dict[ENGINE]))


async def audit_entries(request: web.Request) -> web.Response:
    session_of(request, Role.ADMIN)
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
                    "local_time": local_time,
                    "description": description,
                }
                for e, description, local_time in await ui_audit.described(request, 500)
            ]
        }
    )


async def audit_csv(request: web.Request) -> web.Response:
    session_of(request, Role.ADMIN)
    return await ui_audit.csv_file(request)


async def list_users(request: web.Request) -> web.Response:
    session_of(request, Role.ADMIN)
    accounts = request.config_dict[ACCOUNTS]
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
        Desk.of(request),
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
        Desk.of(request),
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
        Desk.of(request), session, request.match_info["name"], client_ip(request)
    )
    return web.json_response({"setup_link": link}, status=201)


async def change_password(request: web.Request) -> web.Response:
    session = session_of(request, Role.AUTHOR)
    data = await json_body(request)
    old, new = text_field(data, "current_password"), text_field(data, "new_password")
    accounts, approvals = request.config_dict[ACCOUNTS], request.config_dict[APPROVALS]
    try:
        await accounts.change_password(session.user.id, old, new)
    except AccountError as exc:
        raise desk.DeskError(422, str(exc)) from None
    await approvals.audit.record(session.user.name, "user.password-changed", ip=client_ip(request))
    return web.json_response({"changed": True, "sessions": "every session signed out"})
