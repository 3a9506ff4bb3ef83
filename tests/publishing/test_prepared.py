"""A firing's publication is rendered ahead of its fire time, and is what it would have been."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.outbox.snapshot import to_snapshot
from broadcaster.publishing import prepared
from broadcaster.service import open_service
from broadcaster.text.render import Publication
from broadcaster.workspace.models import Schedule
from tests.test_service import set_title, settings_for

CHANNELS = ("website", "feeds", "press-desk")


def schedule() -> Schedule:
    return Schedule(
        id="morning",
        campaign="online-submission",
        digest=None,
        frequency=None,
        channels=CHANNELS,
        at=None,
        cron="0 8 * * *",
        every=None,
        until=None,
    )


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The moments publications were rendered for, from now on."""
    moments: list[datetime] = []
    make = prepared.Prepared.make

    def spy(*args: Any, **kwargs: Any) -> prepared.Prepared:
        moments.append(args[-1])
        return make(*args, **kwargs)

    monkeypatch.setattr(prepared.Prepared, "make", spy)
    return moments


async def test_a_prepared_firing_stores_what_an_unprepared_one_would(
    workspace: Path, made: list[datetime]
) -> None:
    fire_time = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    async with open_service(settings_for(workspace), schedule=False, deliver=False) as service:
        publisher = service.publisher
        publisher.prepare(schedule(), fire_time)
        assert made == [fire_time]
        await publisher.fire(schedule(), fire_time)
        assert made == [fire_time]  # nothing rendered at the fire time
        (stored,) = await service.outbox.publications()
        snapshot = await service.content.snapshot(stored.id)
        campaign = service.workspace.campaigns["online-submission"]
        expected = Publication.prepare(
            service.workspace, campaign, service.settings.base_url, fire_time
        )
        assert snapshot == to_snapshot(expected)
        for locale in service.workspace.locales:
            for name in ("website", "feeds"):  # the press email has a random MIME boundary
                rendition = service.channels[name].render(expected, locale)
                assert await service.content.rendition(stored.id, name, locale) == rendition.body
            assert await service.content.rendition(stored.id, "press-desk", locale)


async def test_a_reload_between_preparing_and_firing_renders_the_firing_anew(
    workspace: Path, made: list[datetime]
) -> None:
    fire_time = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    async with open_service(settings_for(workspace), schedule=False, deliver=False) as service:
        service.publisher.prepare(schedule(), fire_time)
        set_title(workspace, "online-submission", "vi", "Tiêu đề mới")
        assert await service.reload()
        await service.publisher.fire(schedule(), fire_time)
        assert made == [fire_time, fire_time]
        (stored,) = await service.outbox.publications()
        snapshot = await service.content.snapshot(stored.id)
        assert snapshot is not None
        assert "Tiêu đề mới" in snapshot
