"""Sessions, CSRF and Origin checks, password changes, login throttling, the OpenAPI document,
and the CLI's refusal to publish an unapproved revision."""

from __future__ import annotations

import dataclasses
import re
from ipaddress import ip_network
from pathlib import Path

import lxml.html
from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.service import make_app
from broadcaster.web.admin.routes import ROUTES
from broadcaster.web.app import _other_routes
from broadcaster.web.keys import STATIC
from tests.web.admin.conftest import (
    BASE_URL,
    ORIGIN,
    PASSWORD,
    Staff,
    settings_for,
    two_person_workspace,
)


def _csrf(body: str) -> str:
    doc = lxml.html.document_fromstring(body)
    value = str(doc.xpath("string(//input[@name='csrf_token']/@value)"))
    assert value, "no CSRF field on the page"
    return value


async def test_state_changes_need_the_csrf_token_and_this_sites_origin(staff: Staff) -> None:
    response = await staff.login("ana")
    assert response.status == 303
    cookie = response.cookies["broadcaster_admin"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/admin"
    page = await (await staff.client.get("/admin/campaigns")).text()
    csrf = _csrf(page)

    no_token = await staff.client.post("/admin/campaigns", data={"id": "x-1"}, headers=ORIGIN)
    assert no_token.status == 403
    assert "CSRF" in await no_token.text()
    other_site = await staff.client.post(
        "/admin/campaigns",
        data={"id": "x-2", "csrf_token": csrf},
        headers={"Origin": "https://attacker.example.vn"},
    )
    assert other_site.status == 403
    assert "Origin" in await other_site.text()
    no_origin = await staff.client.post("/admin/campaigns", data={"id": "x-3", "csrf_token": csrf})
    assert no_origin.status == 403
    ok = await staff.client.post(
        "/admin/campaigns",
        data={"id": "x-4", "csrf_token": csrf},
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert ok.status == 303
    assert ok.headers["Location"].startswith("/admin/campaigns/x-4")
    # The API with the cookie is held to the same rule; a bearer token is not a cookie.
    api = await staff.client.post(
        "/admin/api/campaigns/x-4/review-requests", json={"revision": "r"}, headers=ORIGIN
    )
    assert api.status == 403
    assert "CSRF" in (await api.json())["error"]


async def test_a_session_from_before_a_password_change_is_rejected(staff: Staff) -> None:
    first = (await staff.login("ana")).cookies["broadcaster_admin"].value
    staff.client.session.cookie_jar.clear()
    second = (await staff.login("ana")).cookies["broadcaster_admin"].value
    assert first != second
    csrf = _csrf(await (await staff.client.get("/admin/account")).text())
    changed = await staff.client.post(
        "/admin/account",
        data={"current": PASSWORD, "password": "a new long password 2", "csrf_token": csrf},
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert changed.status == 303
    for token in (first, second):
        staff.client.session.cookie_jar.clear()
        staff.client.session.cookie_jar.update_cookies({"broadcaster_admin": token})
        answer = await staff.client.get("/admin/api/me", cookies={"broadcaster_admin": token})
        assert answer.status == 401
        page = await staff.client.get("/admin/campaigns", allow_redirects=False)
        assert page.status == 303
        assert page.headers["Location"].startswith("/admin/login")
    assert (await staff.login("ana", "a new long password 2")).status == 303


async def test_login_is_throttled_per_address_and_account(staff: Staff) -> None:
    for _ in range(5):
        wrong = await staff.login("binh", "not the password")
        assert wrong.status == 401
        assert "không đúng" in await wrong.text()  # Vietnamese by default
    throttled = await staff.login("binh")  # from this address, even the right password waits
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Quá nhiều lần thử" in await throttled.text()
    assert (await staff.login("chi")).status == 303  # another account is not affected
    audit = await staff.api("GET", "/audit", "dung")
    assert "login.failed" in [e["action"] for e in audit["entries"]]


async def test_the_openapi_document_matches_the_routes(staff: Staff) -> None:
    response = await staff.client.get("/admin/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    app = staff.client.app
    assert app is not None
    registered = set()
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" not in info or info.get("prefix") != "/admin":
            continue
        for route in info["app"].router.routes():
            path = route.resource.canonical if route.resource else ""
            if path.startswith("/admin/api/") and route.method != "HEAD":
                registered.add((route.method, path))
    assert registered == documented
    assert len(registered) == len(ROUTES)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            params = {p["name"] for p in operation.get("parameters", [])}
            assert params == set(re.findall(r"{(\w+)}", path))


async def test_an_unknown_or_revoked_token_is_refused(staff: Staff) -> None:
    response = await staff.client.get(
        "/admin/api/me", headers={"Authorization": "Bearer bc_nothing"}
    )
    assert response.status == 401
    assert "not valid" in (await response.json())["error"]
    await staff.accounts.revoke_tokens("ana")
    response = await staff.client.get(
        "/admin/api/me", headers={"Authorization": f"Bearer {staff.tokens['ana']}"}
    )
    assert response.status == 401


def test_cli_publish_refuses_an_unapproved_revision(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")
    settings = settings_for(root)
    env = {
        "BROADCASTER_DATABASE_URL": settings.database_url,
        "BROADCASTER_BASE_URL": BASE_URL,
        "BROADCASTER_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    result = CliRunner().invoke(main, ["publish", "--all", "--root", str(root)], env=env)
    assert result.exit_code == 2
    assert "is not approved" in result.output
    assert "workspace.yaml" in result.output
    for campaign in ("online-submission", "support-contacts", "commune-support-points"):
        assert f"campaign '{campaign}' revision" in result.output
    assert "nothing was published." in result.output
    assert "Traceback" not in result.output
    status = CliRunner().invoke(main, ["status", "--root", str(root)], env=env)
    assert "no publications yet" in status.output
    check = CliRunner().invoke(main, ["check", "--root", str(root)], env=env)
    assert "approval policy: two-person" in check.output


async def test_hostile_or_broken_requests_get_clear_errors(staff: Staff) -> None:
    bearer = {"Authorization": f"Bearer {staff.tokens['binh']}"}
    broken = await staff.client.post(
        "/admin/api/campaigns/support-contacts/approvals", data=b"{not json", headers=bearer
    )
    assert broken.status == 422
    assert (await broken.json())["error"] == "the request body must be a JSON object"
    wrong = await staff.api(
        "PUT", "/campaigns/support-contacts", "ana", {"revision": "x", "files": ["vi.md"]}
    )
    assert "'files' must map file names" in wrong["error"]
    escape = await staff.api(
        "POST", "/campaigns", "ana", {"id": "../../etc", "files": {"vi.md": "x"}}, status=422
    )
    assert "use lowercase letters, digits and '-'" in escape["error"]
    unknown = await staff.api(
        "PUT",
        "/campaigns/support-contacts",
        "ana",
        {"revision": "x", "files": {"../secret.yaml": "x"}},
        status=422,
    )
    assert "cannot edit ../secret.yaml" in unknown["error"]
    not_a_number = await staff.client.get("/admin/api/publications/abc", headers=bearer)
    assert not_a_number.status == 404
    assert "error" in await not_a_number.json()
    nobody = await staff.client.get("/admin/api/me")
    assert nobody.status == 401
    anonymous = await staff.client.post("/admin/api/campaigns", json={"id": "x"})
    assert anonymous.status == 401
    assert "Bearer" in (await anonymous.json())["error"]
    page = await staff.client.get("/admin/campaigns", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/admin/login?next=/admin/campaigns"


def test_the_static_fast_path_leaves_admin_to_the_app(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")
    app = make_app(settings_for(root))
    reserved = _other_routes(app, app[STATIC])
    assert reserved is not None  # the fast path stays on
    assert "/admin" in reserved


def test_trusting_a_proxy_keeps_the_static_fast_path(tmp_path: Path) -> None:
    """The X-Forwarded-For middleware changes nothing a feed or page answer depends on."""
    root = two_person_workspace(tmp_path / "ws")
    settings = settings_for(root)
    settings = dataclasses.replace(settings, trusted_proxies=(ip_network("127.0.0.1/32"),))
    app = make_app(settings)
    assert len(app.middlewares) == 1
    reserved = _other_routes(app, app[STATIC])
    assert reserved is not None
    assert "/admin" in reserved
