"""The admin pages for campaigns and delivery: plain HTML forms, no JavaScript needed; each
POST redirects or re-renders. Sign-in and account pages are in ui_account.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web

from broadcaster.partners.commands import webhook_channels
from broadcaster.publishing.preview import preview
from broadcaster.staff.accounts import Session
from broadcaster.staff.tables import ReviewAction, Role
from broadcaster.web.admin import corrections, dashboard, desk, drafts, editor, media
from broadcaster.web.admin.auth import client_ip, current
from broadcaster.web.admin.i18n import translations
from broadcaster.web.admin.localtime import LocalTime
from broadcaster.web.admin.pages import language, render
from broadcaster.web.admin.parts import Desk, PartnerDesk
from broadcaster.web.keys import APPROVALS, OUTBOX, WORKERS


def signed_in(request: web.Request, role: Role = Role.AUTHOR) -> Session:
    session = current(request)
    if session is None:
        raise web.HTTPSeeOther(f"/admin/login?next={quote(request.path)}")
    desk.need(session, role, request.path)
    return session


def back(location: str, done: str | None = None) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location + (f"?done={quote(done)}" if done else ""))


async def form_of(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def campaigns(request: web.Request) -> web.Response:
    signed_in(request)
    rows = await desk.campaign_rows(Desk.of(request))
    return render(request, "campaigns.html", rows=rows, done=request.query.get("done"))


async def create_campaign(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    form = await form_of(request)
    campaign_id = form.get("id", "").strip()
    try:
        await desk.save(
            Desk.of(request),
            session,
            campaign_id,
            None,
            editor.new_campaign(Desk.of(request).workspace),
            client_ip(request),
        )
    except desk.DeskError as exc:
        rows = await desk.campaign_rows(Desk.of(request))
        return render(request, "campaigns.html", status=exc.status, rows=rows, message=exc.message)
    raise back(f"/admin/campaigns/{campaign_id}", "created")


EXPIRED_UNCONFIRMED = (
    "this campaign has expired: tick the box that confirms you want to publish it anyway"
)


def expired_at(staff_desk: Desk, campaign_id: str) -> datetime | None:
    """When the campaign expired, if it has (publishing it again needs a confirmation)."""
    found = staff_desk.workspace.campaigns.get(campaign_id)
    if found is None or found.expires is None or found.expires > datetime.now(UTC):
        return None
    return found.expires


async def review(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    form = await form_of(request)
    action = {
        "request": ReviewAction.REQUESTED,
        "approve": ReviewAction.APPROVED,
        "reject": ReviewAction.REJECTED,
    }.get(form.get("action", ""))
    if action is None:
        raise web.HTTPBadRequest(text="action is request, approve or reject")
    campaign_id = request.match_info["campaign"]
    await desk.review(
        Desk.of(request),
        session,
        campaign_id,
        form.get("revision", ""),
        action,
        form.get("comment"),
        client_ip(request),
    )
    raise back(f"/admin/campaigns/{campaign_id}", str(action))


async def publish(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.APPROVER)
    form = await form_of(request)
    campaign_id = request.match_info["campaign"]
    if expired_at(Desk.of(request), campaign_id) and not form.get("publish_expired"):
        raise desk.DeskError(409, EXPIRED_UNCONFIRMED)
    # The emergency form sends `emergency`; its reason is then required (even if empty).
    emergency = form.get("emergency_reason", "") if form.get("emergency") else None
    result = await desk.publish(
        Desk.of(request),
        session,
        campaign_id,
        form.get("revision", ""),
        None,
        emergency,
        client_ip(request),
        corrections.correction_of(form.get("correction", "material")),
    )
    raise back(f"/admin/publications/{result['publication']}", "published")


async def schedule(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.APPROVER)
    form = await form_of(request)
    campaign_id = request.match_info["campaign"]
    await desk.schedule(
        Desk.of(request), session, campaign_id, form.get("at", ""), None, client_ip(request)
    )
    raise back(f"/admin/campaigns/{campaign_id}", "scheduled")


async def withdraw(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.APPROVER)
    form = await form_of(request)
    campaign_id = request.match_info["campaign"]
    await corrections.withdraw(
        Desk.of(request), session, campaign_id, form.get("reason", ""), client_ip(request)
    )
    raise back(f"/admin/campaigns/{campaign_id}", "withdrawn")


async def preview_page(request: web.Request) -> web.Response:
    signed_in(request)
    staff_desk = Desk.of(request)
    found = desk.campaign(staff_desk, request.match_info["campaign"])
    result = await asyncio.to_thread(
        preview, staff_desk.workspace, staff_desk.settings, found.id, published_at=datetime.now(UTC)
    )
    return render(
        request,
        "preview.html",
        campaign_id=found.id,
        title=found.doc("vi").title,
        revision=found.revision,
        items=drafts.rendition_items(
            result.renditions, {n: c.type for n, c in staff_desk.workspace.channels.items()}
        ),
        problems=[],
        draft=False,
        done=request.query.get("done"),
    )


async def publications(request: web.Request) -> web.Response:
    signed_in(request)
    staff_desk, outbox = Desk.of(request), request.config_dict[OUTBOX]
    span = "hour" if request.query.get("by") == "hour" else "day"
    lang = language(request)
    clock = LocalTime(staff_desk.workspace.timezone, lang)
    return render(
        request,
        "publications.html",
        span=span,
        charts=await dashboard.charts(staff_desk.engine, clock, span, translations(lang).gettext),
        items=await dashboard.publication_list(staff_desk.approvals, outbox),
        counts=await dashboard.subscriber_counts(staff_desk.engine),
        emergencies=await desk.emergencies(staff_desk),
        partners=await media.health(PartnerDesk.of(request)),
        alerts=await dashboard.channel_alerts(staff_desk.engine),
        done=request.query.get("done"),
    )


async def publication(request: web.Request) -> web.Response:
    signed_in(request)
    staff_desk, outbox = Desk.of(request), request.config_dict[OUTBOX]
    try:
        publication_id = int(request.match_info["publication"])
    except ValueError:
        raise web.HTTPNotFound() from None
    listed = await dashboard.publication_list(staff_desk.approvals, outbox, 500)
    found = next(
        (p for p in listed if p["id"] == publication_id),
        None,
    )
    if found is None:
        raise web.HTTPNotFound(text=f"no publication {publication_id}")
    return render(
        request,
        "publication.html",
        item=found,
        attempts=await dashboard.attempts(outbox, publication_id),
        dead_letters=await dashboard.dead_letters(
            outbox, publication_id, webhook_channels(staff_desk.workspace)
        ),
        done=request.query.get("done"),
    )


async def retry(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.APPROVER)
    outbox, workers = request.config_dict[OUTBOX], request.config_dict[WORKERS]
    publication_id = int(request.match_info["publication"])
    count = await dashboard.retry_failed(outbox, workers, publication_id)
    await request.config_dict[APPROVALS].audit.record(
        session.user.name,
        "publication.retried",
        detail={"publication": publication_id, "deliveries": count},
        ip=client_ip(request),
    )
    raise back(f"/admin/publications/{publication_id}", "retried")


async def release(request: web.Request) -> web.StreamResponse:
    session = signed_in(request, Role.APPROVER)
    publication_id = await desk.release_held(
        Desk.of(request), session, int(request.match_info["held"]), client_ip(request)
    )
    raise back(f"/admin/publications/{publication_id}", "published")
