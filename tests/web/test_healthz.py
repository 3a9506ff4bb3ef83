"""/healthz tells a store that answers but cannot write from a healthy one (503, and why)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_aiohttp import AiohttpClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from broadcaster.service import make_app
from broadcaster.store import create_engine
from broadcaster.store.engine import store_health
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url
from tests.conftest import copy_workspace, tmpfs
from tests.web.conftest import settings_for


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "ws")


async def healthz(client: object) -> tuple[int, dict[str, object]]:
    response = await client.get("/healthz")  # type: ignore[attr-defined]
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def test_healthz_is_503_while_another_process_keeps_the_sqlite_store_from_writing(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(settings_for(workspace)))
    status, body = await healthz(client)
    assert (status, body["status"], body["store"]) == (200, "ok", "ok")
    assert "reason" not in body

    # Another process (a stuck backup, a hung script) holds the write lock: reads work,
    # every write of the service fails.
    blocker = sqlite3.connect(workspace / "var/db.sqlite", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = asyncio.get_running_loop().time()
        status, body = await healthz(client)
        took = asyncio.get_running_loop().time() - started
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["store"] == "cannot write"
        assert "database is locked" in str(body["reason"])
        assert took < 2.5
        # Polls that come together share one probe: one wait for the lock, not ten in a row.
        started = asyncio.get_running_loop().time()
        answers = await asyncio.gather(*(healthz(client) for _ in range(10)))
        assert [status for status, _ in answers] == [503] * 10
        assert asyncio.get_running_loop().time() - started < 2.5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    status, body = await healthz(client)
    assert (status, body["store"]) == (200, "ok")


async def test_a_sqlite_store_opened_read_only_is_reported_as_unable_to_write(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    # Migrated by the app; then the same file opened read-only, as a read-only disk leaves it.
    client = await aiohttp_client(make_app(settings_for(workspace)))
    assert (await healthz(client))[0] == 200
    path = workspace / "var/db.sqlite"
    engine = create_async_engine(
        f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true", poolclass=NullPool
    )
    try:
        health = await store_health(engine)
    finally:
        await engine.dispose()
    assert not health.ok
    assert health.store == "cannot write"
    assert "readonly database" in str(health.reason)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 16 MiB file system of its own."""
    with tmpfs(tmp_path / "disk", "16m") as folder:
        yield folder


def fill(path: Path) -> None:
    """Write `path` until its disk is full."""
    with contextlib.suppress(OSError), open(path, "wb") as out:
        while True:
            out.write(b"x" * 65536)
            out.flush()


async def test_healthz_is_503_when_the_sqlite_store_s_disk_is_full(
    workspace: Path, small_disk: Path, aiohttp_client: AiohttpClient
) -> None:
    database = small_disk / "db.sqlite"
    settings = settings_for(workspace, {"BROADCASTER_DATABASE_URL": f"sqlite:///{database}"})
    client = await aiohttp_client(make_app(settings))
    assert (await healthz(client))[0] == 200

    filler = small_disk / "filler"
    fill(filler)
    status, body = await healthz(client)
    assert status == 503
    assert body["store"] == "cannot write"
    assert str(body["reason"]).startswith("No space left on device: ")
    assert str(database) in str(body["reason"])

    filler.unlink()
    assert (await healthz(client))[0] == 200


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set")
    async with postgres_fresh_database(url) as fresh:
        yield fresh


@pytest.mark.postgres
async def test_healthz_is_503_while_postgresql_accepts_only_read_only_transactions(
    workspace: Path, pg_url: str, aiohttp_client: AiohttpClient
) -> None:
    settings = settings_for(workspace, {"BROADCASTER_DATABASE_URL": pg_url})
    client = await aiohttp_client(make_app(settings))
    assert (await healthz(client))[0] == 200

    name = make_url(pg_url).database
    admin = create_engine(postgres_url() or "", poolclass=NullPool, isolation_level="AUTOCOMMIT")

    async def read_only(on: bool) -> None:
        async with admin.connect() as conn:
            value = "on" if on else "off"
            await conn.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}')
            )
            # New sessions take the setting: end the service's pooled ones.
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )

    try:
        await read_only(True)
        status, body = await healthz(client)
        if body["store"] == "not answering":  # the pooled connection just terminated
            status, body = await healthz(client)
        assert status == 503
        assert body["store"] == "cannot write"
        assert "read-only transaction" in str(body["reason"])
        await read_only(False)
        for _ in range(50):  # the first probes may meet the connections just ended
            status, body = await healthz(client)
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert (status, body["store"]) == (200, "ok")
        await asyncio.sleep(1)  # the workers, too, meet their ended connections and reconnect
    finally:
        await admin.dispose()
