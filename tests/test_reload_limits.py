"""`serve` keeps answering while a reload renders a campaign body that runs away, reports it
at its file and line and keeps that campaign's last good revision (quarantined); startup
leaves such a campaign out without hanging."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from broadcaster.service import SERVICE, make_app, open_service
from broadcaster.settings import Settings
from broadcaster.workspace import limits
from tests.conftest import copy_workspace
from tests.workspace.test_body_limits import NESTED, append_body

BODY = "campaigns/online-submission/vi.md"


def settings_for(root: Path) -> Settings:
    environ = {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
        "BROADCASTER_BASE_URL": "http://broadcaster.test",
        "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
    }
    return Settings.from_environ(root, environ=environ)


async def test_healthz_answers_while_a_reload_renders_a_runaway_body(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Let the body run into its time limit (2 s), not its step count, to see the loop free.
    monkeypatch.setattr(limits, "MAX_STEPS", 10**12)
    root = copy_workspace(tmp_path / "ws")
    client = await aiohttp_client(make_app(settings_for(root)))
    app = client.app
    assert app is not None
    service = app[SERVICE]
    good = service.workspace
    line = append_body(root, BODY, NESTED) + 1

    with caplog.at_level(logging.ERROR):
        began = time.monotonic()
        reload = asyncio.create_task(service.reload())
        waits: list[float] = []
        while not reload.done():
            started = time.monotonic()
            health = await client.get("/healthz")
            waits.append(time.monotonic() - started)
            assert health.status == 200
            await asyncio.sleep(0.05)
        assert await reload is True  # the other campaigns reload; this one is quarantined
        took = time.monotonic() - began

    # The reload took its time (the body's 2 s), and /healthz answered all along.
    assert took >= 1.9, took
    assert len(waits) >= 5, (took, waits)
    # On the loop, the body would hold every answer for its whole 2 s; the bound leaves room
    # for a busy shared machine.
    assert max(waits) < 1.0, waits
    assert any(
        f"{BODY}:{line}: the body takes too long to render (over 2 s)" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    kept = service.workspace.campaigns["online-submission"]
    assert kept.revision == good.campaigns["online-submission"].revision
    assert (await client.get("/vi/")).status == 200


async def test_startup_leaves_out_a_runaway_body_within_seconds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_workspace(tmp_path / "ws")
    line = append_body(root, BODY, NESTED) + 1
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        async with open_service(settings_for(root)) as service:
            assert "online-submission" not in service.workspace.campaigns
            assert "support-contacts" in service.workspace.campaigns
    assert time.monotonic() - started < 10
    assert any(
        f"{BODY}:{line}: the body runs too many loop steps" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
