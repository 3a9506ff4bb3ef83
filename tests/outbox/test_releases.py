"""The press room's query: publications the press desk was sent, newest first, on SQLite
and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import PublicationSource

CLI = PublicationSource.CLI


async def test_releases_are_the_desk_publications_newest_first(
    engine: AsyncEngine, outbox: Outbox
) -> None:
    ids = []
    for campaign, channels in (
        ("a", ["press-desk", "website"]),
        ("b", ["website"]),  # never sent to the desk
        ("c", ["press-desk"]),
        ("d", ["press-desk"]),  # its desk delivery is cancelled below
        ("e", ["press-desk"]),  # no snapshot: nothing to show
    ):
        snapshot = None if campaign == "e" else f'{{"campaign": "{campaign}"}}'
        publication_id, _ = await outbox.create_publication(
            campaign, "r", channels, source=CLI, snapshot=snapshot
        )
        await outbox.enqueue(
            publication_id,
            [
                (channel, "desk@example.gov.vn" if channel == "press-desk" else "", "vi")
                for channel in channels
            ],
        )
        ids.append(publication_id)
    await outbox.cancel(publication_id=ids[3], channel="press-desk")

    releases = await ContentStore(engine).releases(["press-desk"])
    assert releases == [(ids[2], '{"campaign": "c"}'), (ids[0], '{"campaign": "a"}')]
    assert await ContentStore(engine).releases(["press-desk"], limit=1) == releases[:1]
    assert await ContentStore(engine).releases(["nobody"]) == []
