"""The website and feeds are served from memory as soon as they are built; disk follows."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from broadcaster.outbox.tables import PublicationSource
from broadcaster.service import open_service
from tests.test_service import settings_for, title

PAGE = "vi/online-submission/index.html"


async def test_a_rebuild_is_served_at_once_and_reaches_disk_before_exit(workspace: Path) -> None:
    settings = settings_for(workspace)
    async with open_service(settings, schedule=False, deliver=False) as service:
        await service.publisher.publish(
            "online-submission", ["website", "feeds"], source=PublicationSource.CLI
        )
        await service.workers.run_until_idle("test")
        served = service.public.static.get(PAGE)
        assert served is not None
        assert title(workspace, "online-submission", "vi") in served.body.decode()
        assert service.public.static.get("feeds/vi/all.atom") is not None
    # Closing the service waits for the disk writes: a static server sees the same bytes.
    assert (workspace / "public" / PAGE).read_bytes() == served.body
    assert (workspace / "public" / "feeds" / "vi" / "all.atom").is_file()


async def test_a_failed_disk_write_is_logged_and_the_site_is_still_served(
    workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = workspace / "public"
    foreign.mkdir()
    (foreign / "someone-elses.html").write_text("not ours", encoding="utf-8")
    settings = settings_for(workspace)
    with caplog.at_level(logging.ERROR):
        async with open_service(settings, schedule=False, deliver=False) as service:
            published = await service.publisher.publish(
                "online-submission", ["website"], source=PublicationSource.CLI
            )
            await service.workers.run_until_idle("test")
            progress = await service.outbox.progress(published.publication_id)
            assert dict(progress["website"]) == {"delivered": 1}
            served = service.public.static.get(PAGE)
            assert served is not None
            await service.public.flush()
    assert "writing public/ failed" in caplog.text
    assert sorted(p.name for p in foreign.iterdir()) == ["someone-elses.html"]
