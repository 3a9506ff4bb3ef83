"""A schedule firing's publication, rendered before its fire time so the firing only stores it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadcaster.channels.base import Channel, Rendition
from broadcaster.outbox.snapshot import to_snapshot
from broadcaster.text.notice import Notice
from broadcaster.text.render import Publication
from broadcaster.workspace.models import Campaign, Workspace

# Prepared firings whose time is this far past were not fired here (a reload removed their
# schedule, another process fired them): forgotten.
KEPT = timedelta(minutes=5)


@dataclass(frozen=True)
class Prepared:
    """What a publication of `campaign` on `names` at `published_at` is made of: its text,
    its snapshot and every rendition, from exactly this workspace and these channels."""

    workspace: Workspace
    channels: Mapping[str, Channel]
    names: tuple[str, ...]
    campaign: Campaign
    base_url: str
    publication: Publication
    snapshot: str
    renditions: list[Rendition]

    @classmethod
    def make(
        cls,
        workspace: Workspace,
        channels: Mapping[str, Channel],
        names: Sequence[str],
        campaign: Campaign,
        base_url: str,
        published_at: datetime,
        *,
        notice: Notice | None = None,
    ) -> Prepared:
        """Render the publication once, as publishing it at `published_at` would."""
        publication = Publication.prepare(workspace, campaign, base_url, published_at, notice)
        return cls(
            workspace,
            channels,
            tuple(names),
            campaign,
            base_url,
            publication,
            to_snapshot(publication),
            renditions(publication, channels, names),
        )

    def fits(
        self,
        workspace: Workspace,
        channels: Mapping[str, Channel],
        names: Sequence[str],
        campaign: Campaign,
        base_url: str,
        published_at: datetime,
        *,
        notice: Notice | None = None,
    ) -> bool:
        """Made from these very objects (nothing reloaded since) for this moment, as a
        correction (or not) alike."""
        return (
            self.publication.notice == notice
            and self.workspace is workspace
            and self.channels is channels
            and self.campaign is campaign
            and self.names == tuple(names)
            and self.base_url == base_url
            and self.publication.published_at.isoformat() == published_at.isoformat()
            and self.publication.published_at.tzname() == published_at.tzname()
        )


def renditions(
    publication: Publication, channels: Mapping[str, Channel], names: Sequence[str]
) -> list[Rendition]:
    """Each channel's rendition in every locale a reader may have: a campaign lacking one
    is sent in the default locale with a one-line notice in the reader's language."""
    return [
        channels[name].render(publication, locale)
        for name in names
        for locale in publication.workspace.locales
    ]


class PreparedFirings:
    """Firings prepared ahead of their fire time, by schedule and fire time."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, datetime], Prepared] = {}

    def keep(self, schedule_id: str, made: Prepared, *, now: datetime) -> None:
        """Keep `made` for its firing (and forget those long past)."""
        self._made = {key: kept for key, kept in self._made.items() if key[1] > now - KEPT}
        self._made[(schedule_id, made.publication.published_at)] = made

    def take(self, schedule_id: str, fire_time: datetime) -> Prepared | None:
        """What was prepared for this firing, if anything (once)."""
        return self._made.pop((schedule_id, fire_time), None)


async def nothing_to_do(names: Sequence[str]) -> None:
    """A callback that does nothing."""
