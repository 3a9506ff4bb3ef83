"""Shared fixtures: a copy of the frozen test workspace to break on purpose."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.staff import accounts as accounts_module
from broadcaster.store import upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.store.testing import (
    TEST_DATABASE_ENV,
    ScratchDatabase,
    postgres_database,
    postgres_url,
    sqlite_database,
)

REPO = Path(__file__).resolve().parent.parent
# A frozen copy of the example workspace: offices edit the root example freely, tests read this.
FIXTURE = REPO / "tests" / "fixtures" / "workspace"
WORKSPACE_PARTS = ("campaigns", "channels", "schedules.yaml", "workspace.yaml")


def copy_workspace(target: Path) -> Path:
    """Copy the fixture workspace (campaigns/, channels/, schedules.yaml, ...) into `target`."""
    for part in WORKSPACE_PARTS:
        source = FIXTURE / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    return target


# The service's own password hasher (argon2id, the library's RFC 9106 profile), kept for
# the tests that check what it stores.
SERVICE_HASHER = accounts_module._hasher


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lowest cost in this process: the staff fixtures set four passwords
    per test and sign in with them, and the service's cost (0.2 s a hash here) would add
    minutes to the suite. Still argon2id, verified the same way; `serve` subprocesses and
    test_passwords.py keep the service's cost."""
    monkeypatch.setattr(
        accounts_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of the fixture workspace."""
    return copy_workspace(tmp_path / "ws")


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ScratchDatabase]:
    """An empty database of each dialect; PostgreSQL skips when no server is configured."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_database(url) as database:
        yield database


@pytest_asyncio.fixture
async def engine(database: ScratchDatabase) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database of each dialect."""
    engine = database.engine()
    await upgrade_engine(engine)
    yield engine
    await dispose_engine(engine)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """`folder` on a file system of its own, `size` big (a tmpfs: needs root and mount),
    for what happens when a disk is full; unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
