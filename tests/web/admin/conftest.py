"""`serve`'s app on a copy of the example workspace under the two-person rule, with staff."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster.service import SERVICE, Service, make_app
from broadcaster.settings import Settings
from broadcaster.staff.accounts import Accounts
from broadcaster.staff.tables import Role
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url
from tests.conftest import copy_workspace
from tests.partners.conftest import PartnerServer, partner_server, use_test_channel

__all__ = ["partner_server"]  # the fixture, for the tests here

BASE_URL = "http://broadcaster.test"
ORIGIN = {"Origin": BASE_URL}
PASSWORD = "correct horse battery"
Client = TestClient[web.Request, web.Application]


def two_person_workspace(target: Path) -> Path:
    """The example workspace with `approval: two-person` and only its one-off schedules.

    The recurring ones (the daily and weekly digests) would otherwise be caught up by the
    running service whenever the suite runs within the grace window after 18:00 in Hanoi,
    and show up in the publication lists these tests read."""
    root = copy_workspace(target)
    (root / "workspace.yaml").write_text("approval: two-person\n", encoding="utf-8")
    path = root / "schedules.yaml"
    head, *entries = path.read_text(encoding="utf-8").split("\n  - id: ")
    kept = [entry for entry in entries if "\n    at: " in entry]
    assert len(kept) < len(entries), "the example has recurring schedules"
    path.write_text("\n  - id: ".join([head, *kept]).rstrip("\n") + "\n", encoding="utf-8")
    return root


def settings_for(root: Path, database_url: str | None = None) -> Settings:
    return Settings.from_environ(
        root,
        {
            "BROADCASTER_DATABASE_URL": database_url
            or f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
            "BROADCASTER_BASE_URL": BASE_URL,
            "BROADCASTER_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
        },
    )


@dataclass
class Staff:
    """A running app, its service, and bearer tokens for three people."""

    client: Client
    service: Service
    tokens: dict[str, str]

    @property
    def accounts(self) -> Accounts:
        return self.service.accounts

    async def api(
        self, method: str, path: str, who: str, json: Any = None, status: int | None = None
    ) -> Any:
        """Call /admin/api/<path> as `who`; checks the status when given; the JSON answer."""
        response = await self.client.request(
            method,
            f"/admin/api{path}",
            json=json,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )
        body = await response.json()
        if status is not None:
            assert response.status == status, body
        return body

    async def login(self, name: str, password: str = PASSWORD) -> ClientResponse:
        return await self.client.post(
            "/admin/login",
            data={"name": name, "password": password},
            headers=ORIGIN,
            allow_redirects=False,
        )


PEOPLE = {"ana": Role.AUTHOR, "binh": Role.APPROVER, "chi": Role.APPROVER, "dung": Role.ADMIN}


@pytest_asyncio.fixture
async def staff(tmp_path: Path) -> AsyncIterator[Staff]:
    root = two_person_workspace(tmp_path / "ws")
    app = make_app(settings_for(root))
    async with TestClient(TestServer(app)) as client:
        service = app[SERVICE]
        tokens = {}
        for name, role in PEOPLE.items():
            _, setup = await service.accounts.add_user(name, role)
            await service.accounts.complete_setup(setup, PASSWORD)
            tokens[name] = await service.accounts.issue_token(name, None, "tests")
        yield Staff(client, service, tokens)


async def wait_delivered(staff: Staff, publication: int, channels: dict[str, int]) -> None:
    """Wait until the running service's workers delivered `channels` (name -> count)."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        detail = await staff.api("GET", f"/publications/{publication}", "ana")
        got = {name: detail["channels"].get(name, {}).get("delivered") for name in channels}
        if got == channels:
            return
        assert asyncio.get_running_loop().time() < deadline, detail
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def partner_staff(
    request: pytest.FixtureRequest, tmp_path: Path, partner_server: PartnerServer
) -> AsyncIterator[Staff]:
    """`staff` on SQLite and on PostgreSQL, with a webhook channel that may reach the local
    partner server (loopback allowed, sub-second retries)."""
    root = two_person_workspace(tmp_path / "ws")
    use_test_channel(root)
    if request.param == "sqlite":
        url = None
        async with _staff_on(root, url) as staff:
            yield staff
        return
    postgres = postgres_url()
    if postgres is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_fresh_database(postgres) as fresh, _staff_on(root, fresh) as staff:
        yield staff


@contextlib.asynccontextmanager
async def _staff_on(root: Path, database_url: str | None) -> AsyncIterator[Staff]:
    app = make_app(settings_for(root, database_url))
    async with TestClient(TestServer(app)) as client:
        service = app[SERVICE]
        tokens = {}
        for name, role in PEOPLE.items():
            _, setup = await service.accounts.add_user(name, role)
            await service.accounts.complete_setup(setup, PASSWORD)
            tokens[name] = await service.accounts.issue_token(name, None, "tests")
        yield Staff(client, service, tokens)


async def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    """Wait until `check()` (the running service's workers deliver on their own)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not done in time"
        await asyncio.sleep(0.05)
