"""A radio channel over the fixture workspace, and deliveries handed to it as a worker does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broadcaster.channels.base import DeliveryJob, Resources
from broadcaster.channels.radio import RadioChannel, RadioOptions
from broadcaster.outbox.records import ClaimedDelivery
from broadcaster.settings import Settings
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.load import load_workspace

BASE_URL = "https://thongbao.example.gov.vn"
PUBLISHED_AT = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
RADIO = {
    "type": "radio",
    "title": {"vi": "Bản tin phát thanh", "en": "Radio bulletins"},
    "author": {"vi": "UBND tỉnh Khánh Hòa", "en": "Khanh Hoa Provincial People's Committee"},
}


@dataclass
class Stored:
    body: bytes

    async def rendition(self, publication_id: int, channel: str, locale: str) -> bytes | None:
        return self.body


def publication(root: Path, campaign: str = "online-submission") -> Publication:
    settings = Settings.from_environ(root, environ={})
    workspace, diag = load_workspace(root, settings, now=datetime(2021, 7, 1, tzinfo=UTC))
    assert workspace is not None, [str(problem) for problem in diag.errors]
    return Publication.prepare(workspace, workspace.campaigns[campaign], BASE_URL, PUBLISHED_AT)


def radio(root: Path, **options: Any) -> RadioChannel:
    settings = Settings.from_environ(root, environ={"BROADCASTER_SECRET_KEY": "k" * 32})
    resources = Resources(Templates(root / "templates"), settings)
    return RadioChannel.from_config(
        "radio", RadioOptions.model_validate({**RADIO, **options}), resources
    )


def job(channel: RadioChannel, published: Publication, locale: str) -> DeliveryJob:
    body = channel.render(published, locale).body
    claimed = ClaimedDelivery(
        id=1,
        publication_id=1,
        campaign_id=published.campaign.id,
        revision=published.campaign.revision,
        channel=channel.name,
        recipient=locale,
        locale=locale,
        attempt=1,
        dedup_key="d",
        lease_expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    return DeliveryJob(claimed, Stored(body))
