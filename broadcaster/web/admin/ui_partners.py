"""The admin pages for media partners (admin): list with health, add, rotate, enable,
disable, remove, a partner's deliveries, and replaying a dead-lettered delivery."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broadcaster.staff.accounts import Session
from broadcaster.staff.tables import Role
from broadcaster.web.admin import desk, media
from broadcaster.web.admin.auth import client_ip
from broadcaster.web.admin.pages import language, render
from broadcaster.web.admin.parts import PartnerDesk
from broadcaster.web.admin.ui import back, signed_in

# Deliveries that may be replayed: finished ones (a replay of a queued one is refused).
FINISHED = ("delivered", "permanent-failure", "technical-failure", "cancelled")


async def _page(
    request: web.Request, status: int = 200, form: dict[str, Any] | None = None, **context: Any
) -> web.Response:
    partner_desk = PartnerDesk.of(request)
    workspace = partner_desk.workspace
    lang = language(request)
    topics = [(topic_id, topic.name(lang)) for topic_id, topic in sorted(workspace.topics.items())]
    return render(
        request,
        "partners.html",
        status=status,
        partners=await media.health(partner_desk),
        topics=topics,
        locales=list(workspace.locales),
        form=form or {"topics": [], "locales": []},
        **{"done": request.query.get("done"), **context},
    )


async def partners(request: web.Request) -> web.Response:
    signed_in(request, Role.ADMIN)
    return await _page(request)


async def add_partner(request: web.Request) -> web.Response:
    session = signed_in(request, Role.ADMIN)
    data = await request.post()
    name, url = str(data.get("name", "")), str(data.get("url", ""))
    topics = [str(v) for v in data.getall("topics", [])]
    locales = [str(v) for v in data.getall("locales", [])]
    form: dict[str, Any] = {"name": name, "url": url, "topics": topics, "locales": locales}
    try:
        partner, secret = await media.add(
            PartnerDesk.of(request), session, name, url, topics, locales, client_ip(request)
        )
    except desk.DeskError as exc:
        if exc.status != 422:
            raise
        # The form comes back filled in, with the reason (the SSRF guard's, for a URL).
        return await _page(request, status=422, form=form, message=exc.message)
    return await _page(request, secret=secret, secret_for=partner.name, done="added")


async def change_partner(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.ADMIN)
    data = await request.post()
    partner_desk = PartnerDesk.of(request)
    name = request.match_info["name"]
    action = str(data.get("action", ""))
    ip = client_ip(request)
    if action == "rotate":
        return await _rotate(request, session, name, str(data.get("grace_hours", "")))
    if action in ("enable", "disable"):
        await media.set_enabled(partner_desk, session, name, action == "enable", ip)
    elif action == "remove":
        if data.get("confirm") != "yes":
            return await _page(
                request, status=422, message=f"tick “really remove” to remove {name}"
            )
        await media.remove(partner_desk, session, name, ip)
    else:
        raise desk.DeskError(422, "action is rotate, enable, disable or remove")
    raise back("/admin/partners", {"enable": "enabled", "disable": "disabled"}.get(action, action))


async def _rotate(request: web.Request, session: Session, name: str, grace: str) -> web.Response:
    try:
        hours = float(grace) if grace.strip() else None
    except ValueError:
        raise desk.DeskError(422, f"{grace!r} is not a number of hours, like 24") from None
    partner, secret = await media.rotate(
        PartnerDesk.of(request), session, name, hours, client_ip(request)
    )
    until = partner.previous_until.strftime("%Y-%m-%d %H:%M UTC") if partner.previous_until else ""
    return await _page(request, secret=secret, secret_for=name, rotated=until, done="rotated")


async def partner(request: web.Request) -> web.Response:
    session = signed_in(request, Role.ADMIN)
    found, log = await media.log(PartnerDesk.of(request), session, request.match_info["name"])
    return render(
        request,
        "partner.html",
        partner=found,
        deliveries=log,
        finished=FINISHED,
        done=request.query.get("done"),
    )


async def replay(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.ADMIN)
    data = await request.post()
    delivery_id = int(request.match_info["delivery"])
    await media.replay(PartnerDesk.of(request), session, delivery_id, client_ip(request))
    target = str(data.get("next", ""))
    if not target.startswith("/admin/") or target.startswith("//"):
        target = "/admin/partners"
    raise back(target, "replayed")
