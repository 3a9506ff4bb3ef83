"""The website and feeds builders share their store reads, start as soon as a publication on
them is queued, and still see what another process published."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from broadcaster.outbox.tables import PublicationSource
from broadcaster.service import open_service
from broadcaster.site import build_site, public
from broadcaster.site.feeds import build_feeds
from broadcaster.site.sources import StateReader, StoreState, WithdrawnAt
from broadcaster.text.render import Publication
from tests.test_service import set_title, settings_for, title

PAGE = "vi/online-submission/index.html"
FEED = "feeds/vi/all.atom"


def served(service: Any, path: str) -> str:
    found = service.public.static.get(path)
    assert found is not None, path
    body: bytes = found.body
    return body.decode()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The site and feed builds made from now on (what was rendered, not reused)."""
    made: list[str] = []

    def site(*args: Any, **kwargs: Any) -> dict[str, bytes]:
        made.append("site")
        return build_site(*args, **kwargs)

    def feeds(*args: Any, **kwargs: Any) -> dict[str, bytes]:
        made.append("feeds")
        return build_feeds(*args, **kwargs)

    monkeypatch.setattr(public, "build_site", site)
    monkeypatch.setattr(public, "build_feeds", feeds)
    return made


async def test_the_site_and_feed_builders_of_one_delivery_read_the_store_once(
    workspace: Path, builds: list[str]
) -> None:
    settings = settings_for(workspace)
    async with open_service(settings, schedule=False, deliver=False) as service:
        reads = service.public.state.reads
        await service.publisher.publish(
            "online-submission", ["website", "feeds"], source=PublicationSource.CLI
        )
        assert await service.workers.run_until_idle("test") == 2
        # `publish --wait` claims the feeds (a batch channel, being the WebSub hub too) in
        # its batch pass and the website after it: one read each. `serve` builds both at
        # once when the deliveries are queued (the next test): one read.
        assert service.public.state.reads == reads + 2
        assert sorted(builds) == ["feeds", "site"]
        assert title(workspace, "online-submission", "vi") in served(service, PAGE)
        assert title(workspace, "online-submission", "vi") in served(service, FEED)
        # Once the build is on disk, asking again reads the store and builds nothing.
        await service.public.flush()
        await service.refresh_public()
        assert sorted(builds) == ["feeds", "site"]


async def test_a_publication_queued_here_is_built_before_a_worker_claims_it(
    workspace: Path, builds: list[str]
) -> None:
    settings = settings_for(workspace)
    async with open_service(settings, schedule=False, deliver=False) as service:
        service.publisher.on_queued = service.queued  # as `serve` does
        published = await service.publisher.publish(
            "online-submission", ["website", "feeds"], source=PublicationSource.CLI
        )
        await service.public.flush()
        progress = await service.outbox.progress(published.publication_id)
        assert {channel: dict(counts) for channel, counts in progress.items()} == {
            "website": {"created": 1},
            "feeds": {"created": 1},
        }
        assert title(workspace, "online-submission", "vi") in served(service, PAGE)
        assert title(workspace, "online-submission", "vi") in served(service, FEED)
        assert sorted(builds) == ["feeds", "site"]
        # The deliveries find both current: delivered, nothing built again.
        assert await service.workers.run_until_idle("test") == 2
        progress = await service.outbox.progress(published.publication_id)
        assert {channel: dict(counts) for channel, counts in progress.items()} == {
            "website": {"delivered": 1},
            "feeds": {"delivered": 1},
        }
        assert sorted(builds) == ["feeds", "site"]


async def test_what_another_process_published_reaches_this_site(workspace: Path) -> None:
    settings = settings_for(workspace)
    async with (
        open_service(settings, schedule=False, deliver=False) as here,
        open_service(settings, schedule=False, deliver=False) as there,
    ):
        await here.publisher.publish(
            "online-submission", ["website", "feeds"], source=PublicationSource.CLI
        )
        await here.workers.run_until_idle("here")
        before = title(workspace, "online-submission", "vi")
        assert before in served(here, PAGE)
        # Another process publishes a new revision, and delivers it itself.
        set_title(workspace, "online-submission", "vi", "Nộp hồ sơ trực tuyến (bản mới)")
        assert await there.reload()
        await there.publisher.publish(
            "online-submission", ["website", "feeds"], source=PublicationSource.CLI
        )
        await there.workers.run_until_idle("there")
        # This process still serves what it built, until it rebuilds (follow_store does).
        assert before in served(here, PAGE)
        await here.refresh_public()
        assert "Nộp hồ sơ trực tuyến (bản mới)" in served(here, PAGE)
        assert "Nộp hồ sơ trực tuyến (bản mới)" in served(here, FEED)


class GatedContent:
    """A ContentStore stand-in whose reads wait at a gate and return what is set now."""

    def __init__(self) -> None:
        self.ids: dict[str, list[int]] = {"website": [1]}
        self.gate = asyncio.Event()
        self.gate.set()
        self.reads = 0

    async def latest_snapshot_ids_by_channel(
        self, channels: Collection[str]
    ) -> dict[str, list[int]]:
        self.reads += 1
        wanted = {channel: list(self.ids.get(channel, [])) for channel in channels}
        await self.gate.wait()
        return wanted

    async def snapshots(self, ids: Collection[int]) -> dict[int, str]:
        return {i: str(i) for i in ids}


def parse(snapshot: str) -> Publication:
    return f"publication {snapshot}"  # type: ignore[return-value]


def names(state: StoreState, channel: str) -> list[str]:
    return [str(p) for p in state.publications[channel]]


async def test_a_request_joins_a_read_not_yet_started_and_waits_for_a_new_one_after() -> None:
    content = GatedContent()
    reader = StateReader(content, parse)  # type: ignore[arg-type]
    first, second = await asyncio.gather(reader.read("website"), reader.read("feeds"))
    assert first is second
    assert content.reads == 1
    assert names(first, "website") == ["publication 1"]
    assert names(first, "feeds") == []
    # A read under way saw the store as it was when it began: a request made after that
    # waits for a read of its own, which sees what was committed meanwhile.
    content.gate.clear()
    under_way = asyncio.ensure_future(reader.read("website"))
    await asyncio.sleep(0.01)
    content.ids["website"] = [2]
    later = asyncio.ensure_future(reader.read("website"))
    await asyncio.sleep(0.01)
    content.gate.set()
    assert names(await under_way, "website") == ["publication 1"]
    assert names(await later, "website") == ["publication 2"]
    assert content.reads == 3
    # The same snapshot gives the same object, read after read.
    assert (await reader.read("website")).publications["website"][0] is (await later).publications[
        "website"
    ][0]


async def test_withdrawals_are_read_with_the_publications() -> None:
    class At:
        at = datetime(2030, 1, 1, tzinfo=UTC)

    async def withdrawals() -> Mapping[str, WithdrawnAt]:
        return {"c": At()}

    reader = StateReader(GatedContent(), parse)  # type: ignore[arg-type]
    reader.withdrawals = withdrawals
    state = await reader.read("website")
    assert set(state.withdrawals) == {"c"}


async def test_every_process_answers_with_the_same_etag_and_last_modified(workspace: Path) -> None:
    settings = settings_for(workspace)
    async with (
        open_service(settings, schedule=False, deliver=False) as here,
        open_service(settings, schedule=False, deliver=False) as there,
    ):
        await here.publisher.publish(
            "online-submission", ["website", "feeds"], source=PublicationSource.CLI
        )
        await here.workers.run_until_idle("here")
        built_here = datetime.now(UTC)
        await asyncio.sleep(1.1)  # the other process builds a second or more later
        await there.refresh_public()
        for path in (PAGE, FEED):
            mine, theirs = here.public.static.get(path), there.public.static.get(path)
            assert mine is not None
            assert theirs is not None
            assert mine.body == theirs.body
            assert mine.headers["ETag"] == theirs.headers["ETag"]
            assert mine.headers["Last-Modified"] == theirs.headers["Last-Modified"], path
            # The publication's time, as the store has it: not when the other built it.
            assert mine.last_modified <= built_here
