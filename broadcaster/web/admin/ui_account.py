"""The admin pages for signing in and out, setting passwords, users and the audit log."""

from __future__ import annotations

from aiohttp import web

from broadcaster.staff.accounts import AccountError
from broadcaster.staff.tables import Role
from broadcaster.web.admin import desk, people, ui_audit
from broadcaster.web.admin.auth import COOKIE, client_ip, current, set_cookie
from broadcaster.web.admin.pages import render
from broadcaster.web.admin.parts import Desk
from broadcaster.web.admin.throttle import THROTTLE
from broadcaster.web.admin.ui import back, form_of, signed_in
from broadcaster.web.keys import ACCOUNTS, APPROVALS


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/admin/campaigns" if current(request) else "/admin/login")


async def login_page(request: web.Request) -> web.Response:
    return render(
        request,
        "login.html",
        next=request.query.get("next", ""),
        expired=bool(request.query.get("expired")),
    )


async def login(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    name, password = form.get("name", "").strip().lower(), form.get("password", "")
    staff_desk = Desk.of(request)
    accounts, approvals = desk.parts(staff_desk)
    ip = client_ip(request)
    throttle = request.config_dict[THROTTLE]
    wait = throttle.wait(name, ip)
    if wait:
        await throttle.write(approvals.audit)
        response = render(
            request,
            "login.html",
            status=429,
            error="throttled",
            wait=wait,
            name=name,
            next=form.get("next", ""),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    user = await accounts.authenticate(name, password)
    if user is None:
        throttle.failed(name, ip)
        await throttle.write(approvals.audit)
        return render(
            request, "login.html", status=401, error="bad", name=name, next=form.get("next", "")
        )
    throttle.succeeded(name, ip)
    await throttle.write(approvals.audit)
    token, _ = await accounts.open_session(user, ip)
    await approvals.audit.record(user.name, "login", ip=ip)
    target = form.get("next", "")
    response = web.HTTPSeeOther(target if target.startswith("/admin/") else "/admin/campaigns")
    set_cookie(response, token, staff_desk.settings.base_url)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    accounts = request.config_dict[ACCOUNTS]
    if token:
        await accounts.close_session(token)
    response = web.HTTPSeeOther("/admin/login")
    response.del_cookie(COOKIE, path="/admin")
    raise response


async def setup_page(request: web.Request) -> web.Response:
    return render(request, "setup.html", token=request.match_info["token"])


async def setup(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    accounts, approvals = request.config_dict[ACCOUNTS], request.config_dict[APPROVALS]
    token = request.match_info["token"]
    if form.get("password", "") != form.get("confirm", ""):
        return render(request, "setup.html", status=422, token=token, error="mismatch")
    try:
        user = await accounts.complete_setup(token, form.get("password", ""))
    except AccountError as exc:
        return render(request, "setup.html", status=422, token=token, message=str(exc))
    await approvals.audit.record(user.name, "user.setup", ip=client_ip(request))
    raise back("/admin/login", "password-set")


async def account_page(request: web.Request) -> web.Response:
    signed_in(request)
    return render(request, "account.html")


async def change_password(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    form = await form_of(request)
    accounts, approvals = request.config_dict[ACCOUNTS], request.config_dict[APPROVALS]
    try:
        await accounts.change_password(
            session.user.id, form.get("current", ""), form.get("password", "")
        )
    except AccountError as exc:
        return render(request, "account.html", status=422, message=str(exc))
    await approvals.audit.record(session.user.name, "user.password-changed", ip=client_ip(request))
    raise back("/admin/login", "password-changed")


async def audit(request: web.Request) -> web.Response:
    signed_in(request, Role.ADMIN)
    return await ui_audit.page(request)


async def audit_csv(request: web.Request) -> web.Response:
    signed_in(request, Role.ADMIN)
    return await ui_audit.csv_file(request)


async def users(request: web.Request) -> web.Response:
    signed_in(request, Role.ADMIN)
    accounts = request.config_dict[ACCOUNTS]
    return render(request, "users.html", users=await accounts.list_users())


async def add_user(request: web.Request) -> web.Response:
    session = signed_in(request, Role.ADMIN)
    form = await form_of(request)
    staff_desk = Desk.of(request)
    _, link = await people.add(
        staff_desk,
        session,
        form.get("name", ""),
        form.get("role", ""),
        form.get("email"),
        client_ip(request),
    )
    accounts, _ = desk.parts(staff_desk)
    return render(request, "users.html", users=await accounts.list_users(), link=link)


async def change_user(request: web.Request) -> web.Response:
    session = signed_in(request, Role.ADMIN)
    form = await form_of(request)
    staff_desk = Desk.of(request)
    name = request.match_info["name"]
    action = form.get("action", "")
    link = None
    if action == "role":
        await people.change(
            staff_desk, session, name, role=form.get("role", ""), ip=client_ip(request)
        )
    elif action in ("disable", "enable"):
        await people.change(
            staff_desk, session, name, disabled=action == "disable", ip=client_ip(request)
        )
    elif action == "link":
        link = await people.new_link(staff_desk, session, name, client_ip(request))
    else:
        raise desk.DeskError(422, "action is role, disable, enable or link")
    accounts, _ = desk.parts(staff_desk)
    return render(request, "users.html", users=await accounts.list_users(), link=link, done=action)
