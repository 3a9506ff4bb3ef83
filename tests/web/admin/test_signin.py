"""Signing in under attack: a reset ends the old password, sessions and tokens; guessing from
one address does not lock out the real person elsewhere, and does not flood the audit log;
argon2 does not stall the event loop."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.service import SERVICE, make_app
from broadcaster.settings import Settings
from broadcaster.staff import accounts as accounts_module
from broadcaster.staff.audit import AuditLog
from broadcaster.staff.tables import Role
from broadcaster.store import create_engine
from broadcaster.web.admin.throttle import THROTTLE, Throttle
from tests.web.admin.conftest import (
    BASE_URL,
    ORIGIN,
    PASSWORD,
    Client,
    Staff,
    settings_for,
    two_person_workspace,
)

ATTACKER, REAL_USER = "192.0.2.66", "198.51.100.7"


async def test_users_reset_ends_the_old_password_sessions_and_tokens(staff: Staff) -> None:
    signed_in = await staff.login("binh")
    assert signed_in.status == 303
    cookie = signed_in.cookies["broadcaster_admin"].value
    token = staff.tokens["binh"]
    assert (await _me(staff.client, cookie=cookie)).status == 200
    assert (await _me(staff.client, token=token)).status == 200

    root = staff.service.settings.root
    env = {"BROADCASTER_DATABASE_URL": settings_for(root).database_url}
    env["BROADCASTER_BASE_URL"] = BASE_URL
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["users", "reset", "binh", "--root", str(root)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "password, sessions and API tokens no longer work" in result.output
    link = re.search(rf"{BASE_URL}(/admin/setup/\S+)", result.output)
    assert link is not None

    assert (await _me(staff.client, cookie=cookie)).status == 401  # the session ended
    answer = await _me(staff.client, token=token)
    assert answer.status == 401
    assert "revoked" in (await answer.json())["error"]
    staff.client.session.cookie_jar.clear()
    assert (await staff.login("binh")).status == 401  # the old password no longer works

    new = "a fresh long password 7"
    set_it = await staff.client.post(
        link.group(1),
        data={"password": new, "confirm": new},
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert set_it.status == 303
    assert (await staff.login("binh", new)).status == 303
    assert (await _me(staff.client, token=token)).status == 401  # tokens stay revoked


async def _me(client: Client, *, cookie: str = "", token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client.session.cookie_jar.clear()
    cookies = {"broadcaster_admin": cookie} if cookie else None
    return await client.get("/admin/api/me", headers=headers, cookies=cookies)


class _Proxied:
    """The app behind a trusted reverse proxy; requests say which visitor they are for."""

    def __init__(self, client: Client, token: str) -> None:
        self.client, self.token = client, token
        self.now = 1000.0
        app = client.app
        assert app is not None
        [admin] = [r.get_info()["app"] for r in app.router.resources() if "app" in r.get_info()]
        self.throttle: Throttle = admin[THROTTLE]
        self.throttle.clock = lambda: self.now

    async def login(self, visitor: str, password: str) -> ClientResponse:
        self.client.session.cookie_jar.clear()
        return await self.client.post(
            "/admin/login",
            data={"name": "binh", "password": password},
            headers={**ORIGIN, "X-Forwarded-For": visitor},
            allow_redirects=False,
        )

    async def audit(self) -> list[dict[str, Any]]:
        answer = await self.client.get(
            "/admin/api/audit", headers={"Authorization": f"Bearer {self.token}"}
        )
        entries: list[dict[str, Any]] = (await answer.json())["entries"]
        return [e for e in entries if e["action"].startswith("login")]


@pytest_asyncio.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[_Proxied]:
    root = two_person_workspace(tmp_path / "ws")
    environ = dict(settings_for(root).environ)
    environ["BROADCASTER_TRUSTED_PROXIES"] = "127.0.0.1, ::1"
    app = make_app(Settings.from_environ(root, environ))
    async with TestClient(TestServer(app)) as client:
        service = app[SERVICE]
        for name, role in (("binh", Role.APPROVER), ("dung", Role.ADMIN)):
            _, setup = await service.accounts.add_user(name, role)
            await service.accounts.complete_setup(setup, PASSWORD)
        yield _Proxied(client, await service.accounts.issue_token("dung", None, "tests"))


async def test_guessing_from_one_address_does_not_lock_out_another(proxied: _Proxied) -> None:
    statuses = [(await proxied.login(ATTACKER, "not the password")).status for _ in range(200)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    # The approver, from their own desk, signs in at once.
    assert (await proxied.login(REAL_USER, PASSWORD)).status == 303
    # From the guessing address, even the right password waits.
    throttled = await proxied.login(ATTACKER, PASSWORD)
    assert throttled.status == 429
    assert "Quá nhiều lần thử" in await throttled.text()

    rows = await proxied.audit()
    from_attacker = [e for e in rows if e["ip"] == ATTACKER]
    assert len(from_attacker) == 1  # 201 attempts, one row so far
    assert from_attacker[0]["detail"] == {"failed": 1}
    assert [e["action"] for e in rows if e["ip"] == REAL_USER] == ["login"]

    proxied.now += 901  # the window ends: its tally is written as one row
    rows = [e for e in await proxied.audit() if e["ip"] == ATTACKER]
    assert len(rows) == 2
    summary = rows[0]["detail"]
    assert (summary["failed"], summary["throttled"]) == (4, 196)


async def test_each_wrong_password_doubles_the_wait(proxied: _Proxied) -> None:
    for _ in range(5):
        assert (await proxied.login(ATTACKER, "not the password")).status == 401
    waits = []
    for _ in range(5):
        refused = await proxied.login(ATTACKER, "not the password")
        assert refused.status == 429
        waits.append(int(refused.headers["Retry-After"]))
        proxied.now += waits[-1]
        assert (await proxied.login(ATTACKER, "not the password")).status == 401
    assert waits == [2, 4, 8, 16, 32]
    proxied.now += 64
    assert (await proxied.login(ATTACKER, PASSWORD)).status == 303
    # A right password starts that address afresh.
    assert (await proxied.login(ATTACKER, "not the password")).status == 401


async def test_password_checks_run_off_the_event_loop(
    staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real = PasswordHasher()

    class Watched(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            threads.append(threading.get_ident())
            time.sleep(0.3)  # a slow machine: the event loop must not wait for it
            return real.verify(hash, password)

    monkeypatch.setattr(accounts_module, "_hasher", Watched())
    logins = [asyncio.create_task(staff.login(name)) for name in ("ana", "binh", "chi", "dung")]
    logins.append(asyncio.create_task(staff.login("ana", "not the password")))
    await asyncio.sleep(0.1)  # the logins are verifying now
    started = time.monotonic()
    health = await staff.client.get("/healthz")
    took = time.monotonic() - started
    statuses = sorted([r.status for r in await asyncio.gather(*logins)])
    assert health.status == 200
    # On the loop, the five checks would hold /healthz for 1.5 s; off it, it answers at once
    # (the bound leaves room for a busy shared machine).
    assert took < 1.0, f"/healthz took {took:.3f} s while passwords were checked"
    assert statuses == [303, 303, 303, 303, 401]
    assert len(threads) == 5
    assert loop_thread not in threads


async def test_the_tally_is_written_when_the_service_stops(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")
    settings = settings_for(root)
    app = make_app(settings)
    async with TestClient(TestServer(app)) as client:
        for _ in range(12):
            await client.post(
                "/admin/login",
                data={"name": "nobody", "password": "not the password"},
                headers=ORIGIN,
            )
    engine = create_engine(settings.database_url)
    try:
        rows = await AuditLog(engine).entries(action="login.failed")
    finally:
        await engine.dispose()
    assert [(e.actor, e.detail.get("failed"), e.detail.get("throttled")) for e in rows] == [
        ("nobody", 4, 7),
        ("nobody", 1, None),
    ]
