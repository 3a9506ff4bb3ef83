"""The webhook channel: a signed JSON event per publication for media partners."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from ..render import Publication, Templates
from ..settings import Settings
from .base import ChannelOptions, Rendition, Resources, masked
from .radio_script import radio_script

EVENT_TYPE = "campaign.published"


class RetryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_seconds: float = Field(default=30, gt=0)
    max_backoff_seconds: float = Field(default=6 * 3600, gt=0)


class WebhookOptions(ChannelOptions):
    type: Literal["webhook"]
    timeout: float = Field(default=10, gt=0, le=120)
    retry: RetryOptions = Field(default_factory=RetryOptions)
    allow_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(
        default_factory=list
    )


def payload(publication: Publication, locale: str, script: str) -> dict[str, Any]:
    """The event body partners receive (Standard Webhooks envelope: type, timestamp, data)."""
    content = publication.content(locale)
    campaign = publication.campaign
    return {
        "type": EVENT_TYPE,
        "timestamp": publication.published_at.isoformat(),
        "data": {
            "id": publication.entry_id(locale),
            "campaign": campaign.id,
            "revision": campaign.revision,
            "locale": content.locale,
            "requested_locale": locale,
            "priority": str(campaign.priority),
            "topics": list(campaign.topics),
            "issuer": campaign.issuer_name(locale),
            "reference": campaign.reference,
            "valid_from": campaign.valid_from.isoformat(),
            "expires": campaign.expires.isoformat() if campaign.expires else None,
            "title": content.title,
            "summary": content.summary,
            "url": publication.url(locale),
            "alternates": dict(publication.alternates()),
            "body_html": content.html,
            "body_text": content.text,
            "radio_script": script,
        },
    }


class WebhookChannel:
    """Renders the JSON event; signing and sending to partners come with delivery."""

    Options: ClassVar[type[ChannelOptions]] = WebhookOptions
    type: ClassVar[str] = "webhook"

    def __init__(
        self, name: str, options: WebhookOptions, templates: Templates, settings: Settings
    ):
        self.name = name
        self.options = options
        self.templates = templates
        self.settings = settings

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources.templates, resources.settings)

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """Partners are registered in the store; until one is, nobody is sent anything."""
        return
        yield

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The event body (compact JSON, UTF-8) plus the radio script on its own."""
        script = radio_script(publication, locale, self.templates)
        event = payload(publication, locale, script)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        pretty = json.dumps(event, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/json",
            body=body.encode(),
            summary=f"{EVENT_TYPE} event {event['data']['id']} ({len(body.encode())} bytes)",
            files={"webhook.json": pretty.encode(), "radio.txt": script.encode()},
        )

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)
