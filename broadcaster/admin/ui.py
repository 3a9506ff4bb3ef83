"""The admin pages: plain HTML forms, no JavaScript needed; each POST redirects or re-renders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..preview import preview
from ..service import Service
from ..staff.accounts import AccountError, Session
from ..staff.tables import ReviewAction, Role
from ..web.keys import SERVICE
from . import dashboard, desk, editor
from .auth import COOKIE, THROTTLE, client_ip, current, set_cookie
from .pages import render


def _service(request: web.Request) -> Service:
    return request.config_dict[SERVICE]


def _signed_in(request: web.Request, role: Role = Role.AUTHOR) -> Session:
    session = current(request)
    if session is None:
        raise web.HTTPSeeOther(f"/admin/login?next={quote(request.path)}")
    desk.need(session, role, request.path)
    return session


def _back(location: str, done: str | None = None) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location + (f"?done={quote(done)}" if done else ""))


async def _form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/admin/campaigns" if current(request) else "/admin/login")


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=request.query.get("next", ""))


async def login(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    name, password = form.get("name", "").strip().lower(), form.get("password", "")
    service = _service(request)
    accounts, approvals = desk.parts(service)
    ip = client_ip(request)
    wait = request.config_dict[THROTTLE].wait(name, ip)
    if wait:
        await approvals.audit.record(name or "?", "login.throttled", ip=ip)
        response = render(
            request, "login.html", status=429, error="throttled", wait=wait, name=name
        )
        response.headers["Retry-After"] = str(wait)
        return response
    user = await accounts.authenticate(name, password)
    if user is None:
        await approvals.audit.record(name or "?", "login.failed", ip=ip)
        return render(request, "login.html", status=401, error="bad", name=name)
    token, _ = await accounts.open_session(user, ip)
    await approvals.audit.record(user.name, "login", ip=ip)
    target = form.get("next", "")
    response = web.HTTPSeeOther(target if target.startswith("/admin/") else "/admin/campaigns")
    set_cookie(response, token, service.settings.base_url)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    accounts, _ = desk.parts(_service(request))
    if token:
        await accounts.close_session(token)
    response = web.HTTPSeeOther("/admin/login")
    response.del_cookie(COOKIE, path="/admin")
    raise response


async def setup_page(request: web.Request) -> web.Response:
    return render(request, "setup.html", token=request.match_info["token"])


async def setup(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    accounts, approvals = desk.parts(_service(request))
    token = request.match_info["token"]
    if form.get("password", "") != form.get("confirm", ""):
        return render(request, "setup.html", status=422, token=token, error="mismatch")
    try:
        user = await accounts.complete_setup(token, form.get("password", ""))
    except AccountError as exc:
        return render(request, "setup.html", status=422, token=token, message=str(exc))
    await approvals.audit.record(user.name, "user.setup", ip=client_ip(request))
    raise _back("/admin/login", "password-set")


async def account_page(request: web.Request) -> web.Response:
    _signed_in(request)
    return render(request, "account.html")


async def change_password(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request)
    form = await _form(request)
    accounts, approvals = desk.parts(_service(request))
    try:
        await accounts.change_password(
            session.user.id, form.get("current", ""), form.get("password", "")
        )
    except AccountError as exc:
        return render(request, "account.html", status=422, message=str(exc))
    await approvals.audit.record(session.user.name, "user.password-changed", ip=client_ip(request))
    raise _back("/admin/login", "password-changed")


async def campaigns(request: web.Request) -> web.Response:
    _signed_in(request)
    rows = await desk.campaign_rows(_service(request))
    return render(request, "campaigns.html", rows=rows, done=request.query.get("done"))


async def create_campaign(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request)
    form = await _form(request)
    campaign_id = form.get("id", "").strip()
    try:
        await desk.save(
            _service(request),
            session,
            campaign_id,
            None,
            dict(editor.NEW_CAMPAIGN),
            client_ip(request),
        )
    except desk.DeskError as exc:
        rows = await desk.campaign_rows(_service(request))
        return render(request, "campaigns.html", status=exc.status, rows=rows, message=exc.message)
    raise _back(f"/admin/campaigns/{campaign_id}", "created")


async def _editor_context(service: Service, campaign_id: str) -> dict[str, Any]:
    _, approvals = desk.parts(service)
    _, problems = editor.problems_for(service.settings.root, service.settings, campaign_id)
    row = None
    if campaign_id in service.workspace.campaigns:
        row = await desk.row(service, campaign_id)
    return {
        "campaign_id": campaign_id,
        "problems": problems,
        "row": row,
        "reviews": list(reversed(await approvals.reviews.of(campaign_id))),
        "channels": list(service.channels),
    }


async def campaign_page(request: web.Request) -> web.Response:
    _signed_in(request)
    service = _service(request)
    campaign_id = request.match_info["campaign"]
    try:
        revision = editor.current_revision(service.settings.root, campaign_id)
    except editor.EditRefused:
        revision = None
    if revision is None:
        raise web.HTTPNotFound(text=f"no campaign '{campaign_id}'")
    files = editor.read_files(service.settings.root, campaign_id)
    context = await _editor_context(service, campaign_id)
    return render(
        request,
        "campaign.html",
        files=files,
        revision=revision,
        done=request.query.get("done"),
        **context,
    )


async def save_campaign(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request)
    service = _service(request)
    campaign_id = request.match_info["campaign"]
    form = await _form(request)
    files = {name: form.get(name, "") for name in editor.EDITABLE}
    base = form.get("revision", "")
    try:
        await desk.save(service, session, campaign_id, base, files, client_ip(request))
    except desk.DeskError as exc:
        # Re-render with what they typed: an edit is never lost.
        context = await _editor_context(service, campaign_id)
        return render(
            request,
            "campaign.html",
            status=exc.status,
            files=files,
            revision=base,
            message=exc.message,
            **context,
        )
    target = "preview" if form.get("then") == "preview" else ""
    raise _back(f"/admin/campaigns/{campaign_id}/{target}".rstrip("/"), "saved")


async def review(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request)
    form = await _form(request)
    action = {
        "request": ReviewAction.REQUESTED,
        "approve": ReviewAction.APPROVED,
        "reject": ReviewAction.REJECTED,
    }.get(form.get("action", ""))
    if action is None:
        raise web.HTTPBadRequest(text="action is request, approve or reject")
    campaign_id = request.match_info["campaign"]
    await desk.review(
        _service(request),
        session,
        campaign_id,
        form.get("revision", ""),
        action,
        form.get("comment"),
        client_ip(request),
    )
    raise _back(f"/admin/campaigns/{campaign_id}", str(action))


async def publish(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request, Role.APPROVER)
    form = await _form(request)
    campaign_id = request.match_info["campaign"]
    emergency = form.get("emergency_reason") if form.get("emergency") else None
    result = await desk.publish(
        _service(request),
        session,
        campaign_id,
        form.get("revision", ""),
        None,
        emergency if emergency is not None else None,
        client_ip(request),
    )
    raise _back(f"/admin/publications/{result['publication']}", "published")


async def withdraw(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request, Role.APPROVER)
    form = await _form(request)
    campaign_id = request.match_info["campaign"]
    await desk.withdraw(
        _service(request), session, campaign_id, form.get("reason", ""), client_ip(request)
    )
    raise _back(f"/admin/campaigns/{campaign_id}", "withdrawn")


async def preview_page(request: web.Request) -> web.Response:
    _signed_in(request)
    service = _service(request)
    found = desk.campaign(service, request.match_info["campaign"])
    result = preview(service.workspace, service.settings, found.id, published_at=datetime.now(UTC))
    items = [
        {
            "index": index,
            "channel": r.channel,
            "locale": r.locale,
            "summary": r.summary,
            "files": {
                name: data.decode("utf-8", "replace")
                for name, data in r.files.items()
                if not name.endswith(".html")
            },
            "pages": [name for name in r.files if name.endswith(".html")],
        }
        for index, r in enumerate(result.renditions)
    ]
    return render(
        request, "preview.html", campaign=found, items=items, done=request.query.get("done")
    )


async def preview_file(request: web.Request) -> web.Response:
    _signed_in(request)
    service = _service(request)
    found = desk.campaign(service, request.match_info["campaign"])
    result = preview(service.workspace, service.settings, found.id, published_at=datetime.now(UTC))
    try:
        rendition = result.renditions[int(request.match_info["index"])]
        data = rendition.files[request.match_info["name"]]
    except (ValueError, IndexError, KeyError):
        raise web.HTTPNotFound(text="no such rendition") from None
    html = request.match_info["name"].endswith(".html")
    response = web.Response(
        body=data, content_type="text/html" if html else "text/plain", charset="utf-8"
    )
    # Shown in a frame of the preview page only, with scripts and forms off.
    response.headers["Content-Security-Policy"] = "sandbox; frame-ancestors 'self'"
    return response


async def publications(request: web.Request) -> web.Response:
    _signed_in(request)
    service = _service(request)
    return render(
        request,
        "publications.html",
        items=await dashboard.publication_list(service),
        counts=await dashboard.subscriber_counts(service),
        emergencies=await desk.parts(service)[1].reviews.emergencies(20),
        done=request.query.get("done"),
    )


async def publication(request: web.Request) -> web.Response:
    _signed_in(request)
    service = _service(request)
    try:
        publication_id = int(request.match_info["publication"])
    except ValueError:
        raise web.HTTPNotFound() from None
    found = next(
        (p for p in await dashboard.publication_list(service, 500) if p["id"] == publication_id),
        None,
    )
    if found is None:
        raise web.HTTPNotFound(text=f"no publication {publication_id}")
    return render(
        request,
        "publication.html",
        item=found,
        attempts=await dashboard.attempts(service, publication_id),
        done=request.query.get("done"),
    )


async def retry(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request, Role.APPROVER)
    service = _service(request)
    publication_id = int(request.match_info["publication"])
    count = await dashboard.retry_failed(service, publication_id)
    await desk.parts(service)[1].audit.record(
        session.user.name,
        "publication.retried",
        detail={"publication": publication_id, "deliveries": count},
        ip=client_ip(request),
    )
    raise _back(f"/admin/publications/{publication_id}", "retried")


async def release(request: web.Request) -> web.StreamResponse:
    session = _signed_in(request, Role.APPROVER)
    publication_id = await desk.release_held(
        _service(request), session, int(request.match_info["held"]), client_ip(request)
    )
    raise _back(f"/admin/publications/{publication_id}", "published")


async def audit(request: web.Request) -> web.Response:
    _signed_in(request, Role.ADMIN)
    entries = await desk.parts(_service(request))[1].audit.entries(limit=300)
    return render(request, "audit.html", entries=entries)


async def audit_csv(request: web.Request) -> web.Response:
    _signed_in(request, Role.ADMIN)
    text = await desk.parts(_service(request))[1].audit.csv()
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


async def users(request: web.Request) -> web.Response:
    _signed_in(request, Role.ADMIN)
    accounts, _ = desk.parts(_service(request))
    return render(request, "users.html", users=await accounts.list_users())


async def add_user(request: web.Request) -> web.Response:
    session = _signed_in(request, Role.ADMIN)
    form = await _form(request)
    service = _service(request)
    accounts, approvals = desk.parts(service)
    role = form.get("role", "")
    link = message = None
    try:
        if role not in {r.value for r in Role}:
            raise AccountError("choose a role: author, approver or admin")
        user, token = await accounts.add_user(
            form.get("name", "").strip(), Role(role), form.get("email") or None
        )
        await approvals.audit.record(
            session.user.name,
            "user.added",
            detail={"user": user.name, "role": role},
            ip=client_ip(request),
        )
        link = f"{service.settings.base_url}/admin/setup/{token}"
    except AccountError as exc:
        message = str(exc)
    return render(
        request,
        "users.html",
        status=422 if message else 200,
        users=await accounts.list_users(),
        link=link,
        message=message,
    )


def add_ui_routes(app: web.Application) -> None:
    """Register the pages on the admin sub-application."""
    r = app.router
    r.add_get("", home)
    r.add_get("/", home)
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/setup/{token}", setup_page)
    r.add_post("/setup/{token}", setup)
    r.add_get("/account", account_page)
    r.add_post("/account", change_password)
    r.add_get("/campaigns", campaigns)
    r.add_post("/campaigns", create_campaign)
    r.add_get("/campaigns/{campaign}", campaign_page)
    r.add_post("/campaigns/{campaign}", save_campaign)
    r.add_post("/campaigns/{campaign}/review", review)
    r.add_post("/campaigns/{campaign}/publish", publish)
    r.add_post("/campaigns/{campaign}/withdraw", withdraw)
    r.add_get("/campaigns/{campaign}/preview", preview_page)
    r.add_get("/campaigns/{campaign}/preview/{index}/{name}", preview_file)
    r.add_get("/publications", publications)
    r.add_get("/publications/{publication}", publication)
    r.add_post("/publications/{publication}/retry", retry)
    r.add_post("/held/{held}/release", release)
    r.add_get("/audit", audit)
    r.add_get("/audit.csv", audit_csv)
    r.add_get("/users", users)
    r.add_post("/users", add_user)
